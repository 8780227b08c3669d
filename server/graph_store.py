"""The SPARQL 1.1 Graph Store HTTP Protocol at ``/rdf-graph-store`` (the path Fuseki and the
Oxigraph server use).

A graph is named indirectly, ``?graph=IRI`` or ``?default``, or directly: a request to
``/rdf-graph-store/<path>`` is about the graph whose IRI is that URL. ``GET``/``HEAD`` return the
whole graph in any of the RDF formats of :mod:`.formats` (404 for a graph the store does not
have); ``?default`` is TDKG's default graph, the union of :func:`.dataset.default_graphs`
(``inference=false`` leaves the inferred graph out). ``PUT`` replaces a graph, ``POST`` merges
into it (to the store itself: a new graph, 201 with its ``Location``), ``DELETE`` drops it; they
need the update token, as SPARQL Update does (403 without). Writes to ``?default`` change the
store's own default graph, which is what ``?default`` reads with inference (it holds the union
of the ontology, asserted and inferred named graphs, written by the build); the named graphs are
not changed by them, so ``?default&inference=false`` (ontology + asserted) does not see them.
The work runs in the query workers (:mod:`.execute`), bounded by the request's deadline.
"""
from __future__ import annotations

import email
import email.policy
import uuid
from urllib.parse import parse_qsl

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, request, url_for

from . import dataset, protocol, sparql
from .errors import BadRequest, NotAcceptable, NotFound, UnsupportedMediaType
from .formats import GRAPHS, NoAcceptableFormat, choose

bp = Blueprint("graph_store", __name__)
PATH = "/rdf-graph-store"
METHODS = ["GET", "PUT", "POST", "DELETE"]      # Flask answers HEAD (and OPTIONS) with GET's
MULTIPART = "multipart/form-data"
#: media types a request body may have → the worker's parser; a graph is one graph, so no
#: N-Quads or TriG
BODY_SYNTAXES = {"text/turtle": "turtle", "application/x-turtle": "turtle",
                 "application/n-triples": "ntriples", "application/rdf+xml": "rdfxml",
                 "application/ld+json": "jsonld"}
SYNTAX_NAMES = {"turtle": "Turtle", "ntriples": "N-Triples", "rdfxml": "RDF/XML",
                "jsonld": "JSON-LD"}
TEXT_TYPES = ("text/turtle", "application/n-triples")
NAME_IT = "name the graph with ?graph=<IRI> or ?default"


@bp.route(PATH, methods=METHODS, strict_slashes=False)
@bp.route(PATH + "/<path:path>", methods=METHODS)
def graph_store(path: str | None = None) -> Response:
    params = _params()
    target = request.base_url if path is not None else _indirect(params)
    if path is not None and ("graph" in params or "default" in params):
        raise BadRequest("a graph named by its URL takes no 'graph' or 'default' parameter")
    if request.method in ("GET", "HEAD"):
        return _get(target, params)
    sparql._check_token(current_app.config["TDKG"].update_token)
    if request.method == "DELETE":
        return _delete(target)
    return _write(target)


# --- which graph ------------------------------------------------------------------------------

def _params() -> dict[str, list[str]]:
    """The query string's parameters, decoded once (a graph IRI keeps its own %-escapes)."""
    try:
        pairs = parse_qsl(request.query_string.decode("utf-8"), keep_blank_values=True,
                          errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the query string is not UTF-8") from None
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _indirect(params: dict[str, list[str]]) -> str | None:
    """The graph's IRI, "" for the default graph, None for the graph store itself."""
    graphs = params.get("graph", [])
    if graphs and "default" in params:
        raise BadRequest("give either 'graph' or 'default', not both")
    if len(graphs) > 1:
        raise BadRequest(f"exactly one 'graph' parameter is allowed, got {len(graphs)}")
    if "default" in params:
        return ""
    if not graphs:
        return None
    try:
        return ox.NamedNode(graphs[0]).value
    except ValueError as err:
        raise BadRequest(f"'graph' must be an absolute IRI, not {graphs[0]!r}: {err}") from None


def _shown(target: str) -> str:
    return "the default graph" if target == "" else f"the graph <{target}>"


# --- reading ----------------------------------------------------------------------------------

def _get(target: str | None, params: dict[str, list[str]]) -> Response:
    if target is None:
        raise BadRequest(f"{request.method} needs a graph: {NAME_IT}")
    fmt = _negotiate(params.get("format", [None])[-1])
    inference = sparql._flag(protocol.Operation("graph", "", [], [], params), "inference", True)
    layout = dataset.layout_of(current_app.config["TDKG_LIVE"].snapshot().info)
    names = dataset.default_graphs(inference, layout) if target == "" else [target]
    result = _cached({"op": "graph_get", "graphs": names, "named": target != "",
                      "fmt": fmt.name})
    if result["kind"] == "missing":
        raise NotFound(f"{_shown(target)} is not in the store")
    media = fmt.media_type + ("; charset=utf-8" if fmt.media_type in TEXT_TYPES else "")
    response = Response(result["body"], content_type=media)
    response.vary.add("Accept")
    g.timing["rows"] = result["count"]
    return response


def _negotiate(keyword: str | None):
    try:
        return choose(GRAPHS, _accept(), keyword)
    except NoAcceptableFormat as err:
        raise NotAcceptable(str(err)) from None


def _accept() -> str | None:
    """The Accept header without media type parameters other than q: clients of this protocol
    send ``text/turtle; charset=utf-8``, which would otherwise match none of our types."""
    header = request.headers.get("Accept")
    if not header:
        return header
    items = (item.split(";") for item in header.split(","))
    return ",".join(";".join([parts[0]] + [p for p in parts[1:] if p.strip().startswith("q=")])
                    for parts in items)


def _cached(job: dict) -> dict:
    """A graph from the answer cache, or from a query worker (keyed like queries: the build
    and the update generation, so that a write is seen by the next read)."""
    live = current_app.config["TDKG_LIVE"].snapshot()
    cache = current_app.config["TDKG_CACHE"]
    key = ("graph_get", live.build_id, live.generation, tuple(job["graphs"]), job["fmt"])
    use_cache = "no-cache" not in request.headers.get("Cache-Control", "")
    result = cache.get(key) if use_cache else None
    g.timing["cache"] = "hit" if result is not None else ("bypass" if not use_cache else "miss")
    if result is None:
        result = sparql.call_worker(live.pool, job)
        cache.put(key, result, len(result["body"]))
    return result


# --- writing ----------------------------------------------------------------------------------

def _write(target: str | None) -> Response:
    """PUT replaces, POST merges; POST to the store itself makes a new graph."""
    new = target is None
    if new and request.method == "PUT":
        raise BadRequest(f"PUT needs a graph: {NAME_IT}")
    payloads = _payloads(multipart=request.method == "POST")
    if new:
        target = url_for("graph_store.graph_store", path=uuid.uuid4().hex, _external=True)
    result = _run({"op": "graph_" + request.method.lower(), "graph": target,
                   "payloads": payloads, "base_iri": target or request.base_url})
    if result["kind"] == "invalid":
        syntax = SYNTAX_NAMES[result["syntax"]]
        part = f" (part {result['part']})" if len(payloads) > 1 else ""
        raise BadRequest(f"the request body{part} is not valid {syntax}: {result['message']}",
                         line=result["line"], column=result["column"])
    response = _empty(201 if result["created"] else 204)
    if new:
        response.headers["Location"] = target
    return response


def _empty(status: int) -> Response:
    response = Response(status=status)
    del response.headers["Content-Type"]        # no body, so no media type
    return response


def _delete(target: str | None) -> Response:
    if target is None:
        raise BadRequest(f"DELETE needs a graph: {NAME_IT}")
    if _run({"op": "graph_delete", "graph": target})["kind"] == "missing":
        raise NotFound(f"{_shown(target)} is not in the store")
    return _empty(204)


def _run(job: dict) -> dict:
    """Run a write in the (single, writable) query worker; a change makes cached answers stale."""
    live = current_app.config["TDKG_LIVE"].snapshot()
    result = sparql.call_worker(live.pool, job)
    if result["kind"] in ("written", "deleted"):
        live.generation += 1
    return result


def _syntax(mimetype: str, charset: str | None, where: str = "the request body") -> str:
    if charset and charset.lower().replace("-", "") != "utf8":
        raise UnsupportedMediaType(f"{where} must be UTF-8, not charset={charset}")
    if mimetype not in BODY_SYNTAXES:
        shown = mimetype or "no Content-Type"
        raise UnsupportedMediaType(f"{where} must be one of {', '.join(BODY_SYNTAXES)}, not "
                                   f"{shown}")
    return BODY_SYNTAXES[mimetype]


def _payloads(multipart: bool) -> list[tuple[str, bytes]]:
    """(syntax, bytes) of each RDF document the request carries: its body, or (POST) each part
    of a ``multipart/form-data`` body."""
    if multipart and request.mimetype == MULTIPART:
        return _parts(protocol.read_body(request))
    syntax = _syntax(request.mimetype, request.mimetype_params.get("charset"))
    return [(syntax, protocol.read_body(request))]


def _parts(body: bytes) -> list[tuple[str, bytes]]:
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode("latin-1")
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    if not message.is_multipart() or message.defects:
        problems = ", ".join(type(d).__name__ for d in message.defects) or "no parts"
        raise BadRequest(f"the multipart/form-data body is malformed: {problems}")
    payloads = []
    for number, part in enumerate(message.iter_parts(), 1):
        where = f"part {number} of the multipart body"
        if "Content-Type" not in part:
            raise UnsupportedMediaType(f"{where} has no Content-Type")
        syntax = _syntax(part.get_content_type(), part.get_param("charset"), where)
        payloads.append((syntax, part.get_payload(decode=True) or b""))
    return payloads
