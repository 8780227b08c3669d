"""``/search?q=``: find resources by their names (``rdfs:label`` and ``skos:altLabel``).

Names come from the asserted and ontology graphs. The matching is :mod:`tdkg.names`, shared with
``tdkg find``: it ignores case and diacritics
(``turkiye``, ``TURKIYE`` and ``türkiye`` all find Türkiye, ``akinci`` finds Akıncı): both sides
are folded by :func:`fold`. A resource matches when every word of the query is the beginning of
some word of one of its names, or when the folded query occurs anywhere in a name (queries of
three characters or more). Results are ranked exact name first, then names that begin with the
query, then word-prefix matches, then substring matches; ties by label, then IRI.

The names are read with one SELECT through the worker pool the first time a build is searched
and kept in memory, keyed by the build (a published rebuild or an update makes a new index).
JSON by default; an HTML page (``search.html``) for clients that prefer ``text/html``.
"""
from __future__ import annotations

import json
import threading

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from tdkg import namespaces as ns
from tdkg.names import (  # noqa: F401  (fold, words: the tests import them from here)
    RDF_TYPE,
    RDFS_LABEL,
    SKOS_ALT,
    Index,
    Statement,
    fold,
    search,
    words,
)
from tdkg.names import build_index as index_of

from .errors import BadRequest
from .formats import prefers_html
from .pages import View
from .sparql import call_worker

bp = Blueprint("search", __name__)

MAX_QUERY = 200
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
INDEX_QUERY = f"""SELECT ?s ?p ?o WHERE {{
  VALUES ?p {{ <{RDFS_LABEL}> <{SKOS_ALT}> <{RDF_TYPE}> }}
  GRAPH ?g {{ ?s ?p ?o }}
  FILTER(isIRI(?s))
}}"""
INDEX_GRAPHS = [ns.GRAPH_ASSERTED, ns.GRAPH_ONTOLOGY]
INDEX_CAP = 5_000_000

def build_index(rows: list[dict]) -> Index:
    """The index from SPARQL JSON bindings of ?s ?p ?o (names and types)."""
    return index_of(Statement(r["s"]["value"], r["p"]["value"], r["o"]["value"], r["o"]["type"],
                              r["o"].get("xml:lang", "")) for r in rows)


class IndexCache:
    """One index per (build, generation); built once, under a lock, by whichever request asks first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._index: Index | None = None

    def get(self) -> Index:
        live = current_app.config["TDKG_LIVE"].snapshot()
        key = (live.build_id, live.generation)
        with self._lock:
            if self._key != key or self._index is None:
                self._index = build_index(_fetch_rows(live.pool))
                self._key = key
            return self._index


@bp.record_once
def _install(state) -> None:
    state.app.extensions["tdkg.search"] = IndexCache()


def _fetch_rows(pool) -> list[dict]:
    job = {"op": "query", "text": INDEX_QUERY, "base_iri": None, "default_graph": None,
           "named_graphs": INDEX_GRAPHS, "fmt": "json", "cap": INDEX_CAP}
    result = call_worker(pool, job)
    return json.loads(result["body"])["results"]["bindings"]


def _limit() -> int:
    raw = request.args.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f"'limit' must be a whole number, not {raw[:40]!r}") from None
    if limit < 1:
        raise BadRequest("'limit' must be at least 1")
    return min(limit, MAX_LIMIT)


def _wants_html() -> bool:
    """HTML when ``format=html``, or when the Accept header ranks text/html above JSON."""
    fmt = request.args.get("format", "").lower()
    if fmt in ("html", "json"):
        return fmt == "html"
    if fmt:
        raise BadRequest(f"'format' must be html or json, not {fmt[:40]!r}")
    return prefers_html(request.accept_mimetypes)


@bp.route("/search")
def search_endpoint() -> Response:
    query = request.args.get("q")
    if query is None or not query.strip():
        raise BadRequest("give the name to search for as q= (for example /search?q=turkiye)")
    if len(query) > MAX_QUERY:
        raise BadRequest(f"q is {len(query)} characters long; the most is {MAX_QUERY}")
    query = query.strip()
    limit, html = _limit(), _wants_html()
    index = current_app.extensions["tdkg.search"].get()
    found = search(index, query)
    results = found[:limit]
    if html:
        for result in results:
            result["type_labels"] = [index.label(t) for t in result["types"]]
        response = Response(render_template("search.html", search_query=query, results=results,
                                            total=len(found), limit=limit, view=View()),
                            content_type="text/html; charset=utf-8")
    else:
        response = jsonify({"query": query, "limit": limit, "total": len(found),
                            "results": results})
    response.vary.add("Accept")
    return response
