"""``/search?q=``: find resources by their names (``rdfs:label`` and ``skos:altLabel``).

Names come from the asserted and ontology graphs. Matching ignores case and diacritics
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

import dataclasses
import json
import re
import threading
import unicodedata

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from tdkg import namespaces as ns

from .errors import BadRequest
from .formats import prefers_html
from .pages import View
from .sparql import call_worker

bp = Blueprint("search", __name__)

MAX_QUERY = 200
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MIN_SUBSTRING = 3           # shorter queries only match at the start of words
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_ALT = "http://www.w3.org/2004/02/skos/core#altLabel"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
INDEX_QUERY = f"""SELECT ?s ?p ?o WHERE {{
  VALUES ?p {{ <{RDFS_LABEL}> <{SKOS_ALT}> <{RDF_TYPE}> }}
  GRAPH ?g {{ ?s ?p ?o }}
  FILTER(isIRI(?s))
}}"""
INDEX_GRAPHS = [ns.GRAPH_ASSERTED, ns.GRAPH_ONTOLOGY]
INDEX_CAP = 5_000_000

#: letters that NFKD does not take apart into a base letter and marks (after casefold)
LETTERS = str.maketrans({"ı": "i", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "æ": "ae",
                         "œ": "oe", "ß": "ss", "þ": "th", "ħ": "h", "ŀ": "l", "ĸ": "k",
                         "ŧ": "t", "ŋ": "n", "ʼ": "'"})
_WORD = re.compile(r"\w+")

#: match kinds, best first; the order of this tuple is the ranking
KINDS = ("exact", "prefix", "word-prefix", "substring")


def fold(text: str) -> str:
    """Case- and diacritic-free form: NFKD, combining marks dropped, casefolded, letters mapped."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare.casefold().translate(LETTERS))


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits; punctuation separates)."""
    return _WORD.findall(fold(text))


@dataclasses.dataclass(frozen=True)
class Name:
    iri: str
    text: str
    is_label: bool
    words: tuple[str, ...]
    joined: str             # the folded words joined by single spaces


@dataclasses.dataclass
class Index:
    names: list[Name]
    labels: dict[str, str]          # IRI -> preferred rdfs:label
    types: dict[str, list[str]]     # IRI -> class IRIs (asserted / ontology graph)

    def label(self, iri: str) -> str:
        return self.labels.get(iri) or _local_name(iri)


def _local_name(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/#"))[-1] or iri


def _label_rank(lang: str) -> int:
    return 0 if lang == "en" else 1 if lang.startswith("en-") else 2 if lang == "" else 3


def build_index(rows: list[dict]) -> Index:
    """The index from SPARQL JSON bindings of ?s ?p ?o (names and types)."""
    names: dict[tuple[str, str], Name] = {}      # one entry per (IRI, name); a label wins
    best_label: dict[str, tuple] = {}
    types: dict[str, set[str]] = {}
    for row in rows:
        s, p, o = row["s"]["value"], row["p"]["value"], row["o"]
        if p == RDF_TYPE:
            if o["type"] == "uri":
                types.setdefault(s, set()).add(o["value"])
            continue
        if o["type"] != "literal" or not o["value"].strip():
            continue
        text = " ".join(o["value"].split())
        is_label = p == RDFS_LABEL
        if is_label:
            key = (_label_rank(o.get("xml:lang", "").lower()), text)
            if s not in best_label or key < best_label[s]:
                best_label[s] = key
        if is_label or (s, text) not in names:
            folded = tuple(words(text))
            names[(s, text)] = Name(s, text, is_label, folded, " ".join(folded))
    return Index(list(names.values()), {s: key[1] for s, key in best_label.items()},
                 {s: sorted(t) for s, t in types.items()})


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


def _match(name: Name, query_words: list[str], joined: str) -> int | None:
    """The rank (index into KINDS) of ``name`` for the query, or None if it does not match."""
    if not query_words:
        return None
    if name.joined == joined:
        return 0
    if name.joined.startswith(joined):
        return 1
    if all(any(w.startswith(q) for w in name.words) for q in query_words):
        return 2
    if len(joined) >= MIN_SUBSTRING and joined in name.joined:
        return 3
    return None


def search(index: Index, query: str) -> list[dict]:
    """Every matching resource once (with its best-matching name), ranked."""
    query_words = words(query)
    joined = " ".join(query_words)
    best: dict[str, tuple] = {}
    for name in index.names:
        rank = _match(name, query_words, joined)
        if rank is None:
            continue
        key = (rank, not name.is_label, len(name.text), name.text)
        if name.iri not in best or key < best[name.iri][0]:
            best[name.iri] = (key, name)
    ranked = sorted(best.values(), key=lambda item: (item[0][0], _sort_key(index.label(item[1].iri)),
                                                     item[1].iri))
    return [_result(index, name, KINDS[key[0]]) for key, name in ranked]


def _sort_key(label: str) -> tuple[str, str]:
    """Labels in alphabetical order of their folded words (punctuation ignored), then as folded."""
    return " ".join(words(label)), fold(label)


def _result(index: Index, name: Name, kind: str) -> dict:
    return {"iri": name.iri, "label": index.label(name.iri), "matched": name.text,
            "match": kind, "types": index.types.get(name.iri, []), "page": local_path(name.iri)}


def local_path(iri: str) -> str | None:
    """The path on this server of an IRI under https://w3id.org/tdkg/ (None for others)."""
    return "/" + iri[len(ns.BASE):] if iri.startswith(ns.BASE) else None


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
