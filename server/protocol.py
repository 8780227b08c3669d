"""Reading a SPARQL 1.1 Protocol request (§2.1 query, §2.2 update) into an :class:`Operation`.

Three ways in: GET with ``query=``; POST ``application/x-www-form-urlencoded`` with ``query=`` or
``update=``; POST ``application/sparql-query`` or ``application/sparql-update`` with the operation
as the UTF-8 body. Dataset parameters come from the URL (and from the form body for form POSTs).
Anything else is a typed error: 400 for a malformed request, 415 for a media type we do not take.
"""
from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import HTTPException

from .errors import BadRequest, QueryTooLarge, RequestTimeout, UnsupportedMediaType

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"
FORMAT_PARAMS = ("format", "output")
#: where a graph is read whole (the SPARQL 1.1 Graph Store HTTP Protocol, :mod:`.graph_store`)
GRAPH_STORE = "/rdf-graph-store"


@dataclasses.dataclass(frozen=True)
class Operation:
    kind: str                       # "query" or "update"
    text: str
    default_graphs: list[str]       # default-graph-uri, or using-graph-uri for updates
    named_graphs: list[str]         # named-graph-uri, or using-named-graph-uri for updates
    params: dict[str, list[str]]    # every parameter, for the endpoint's own (format, inference)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else default

    @property
    def format_names(self) -> list[str]:
        """Every ``format=`` value, then every ``output=`` (Fuseki's name), in request order:
        clients repeat them (SPARQLWrapper sends a name, then a list of media types)."""
        return [v for name in FORMAT_PARAMS for v in self.params.get(name, []) if v.strip()]


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(f"the {what} is not valid UTF-8 (byte {err.start})") from None


def _params(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _url_params(request: Request) -> list[tuple[str, str]]:
    return _parse_qs(request.query_string, "query string")


def _parse_qs(raw: bytes, what: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(_decode(raw, what), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"the {what} has percent-escapes that are not UTF-8") from None


def _check_charset(request: Request) -> None:
    charset = request.mimetype_params.get("charset")
    if charset and charset.lower().replace("-", "") != "utf8":
        raise UnsupportedMediaType(f"only UTF-8 is accepted, not charset={charset}")


def parse(request: Request, max_query: int) -> Operation | None:
    """The operation of ``request``, or None when it carries none (a service description GET).
    Operations longer than ``max_query`` bytes are refused (413)."""
    operation = _parse(request)
    if operation is not None and len(operation.text.encode()) > max_query:
        raise QueryTooLarge(f"the {operation.kind} is {len(operation.text.encode()):,} bytes; this "
                            f"endpoint takes at most {max_query:,} (TDKG_MAX_QUERY)",
                            limit=max_query)
    return operation


def _parse(request: Request) -> Operation | None:
    if request.method in ("GET", "HEAD"):
        params = _params(_url_params(request))
        if "update" in params:
            raise BadRequest("SPARQL Update must be sent with POST, not GET")
        if "query" in params:
            return _operation(params, body_text=None, body_kind=None)
        _refuse_graph_store_request(params)
        return None
    _check_charset(request)
    mimetype = request.mimetype
    if mimetype == FORM:
        pairs = _url_params(request) + _parse_qs(read_body(request), "form body")
        return _operation(_params(pairs), None, None)
    if mimetype in (QUERY, UPDATE):
        text = _decode(read_body(request), "request body")
        kind = "query" if mimetype == QUERY else "update"
        return _operation(_params(_url_params(request)), text, kind)
    shown = mimetype or "no Content-Type"
    raise UnsupportedMediaType(f"POST needs {FORM}, {QUERY} or {UPDATE}, not {shown}")


def read_body(request: Request) -> bytes:
    """The whole body, or a typed error: 408 when it does not arrive in time, 400 when its
    framing is broken (a malformed chunked encoding, a connection closed early)."""
    try:
        return request.get_data(cache=False)
    except TimeoutError:
        raise RequestTimeout("the request body did not arrive within the time limit") from None
    except HTTPException as err:     # werkzeug reports a failed read as a disconnection
        if isinstance(err.__context__, TimeoutError):
            raise RequestTimeout("the request body did not arrive within the time limit") \
                from None
        raise
    except Exception as err:
        reason = str(err) or type(err).__name__
        raise BadRequest(f"the request body could not be read: {reason}") from None


def _single(params: dict[str, list[str]], name: str) -> str:
    if len(params[name]) != 1:
        raise BadRequest(f"exactly one '{name}' parameter is allowed, got {len(params[name])}")
    return params[name][0]


def _refuse_graph_store_request(params: dict[str, list[str]]) -> None:
    """``graph=`` or ``default`` without a query is a Graph Store Protocol request sent to the
    wrong place: answering it with the service description would hand over the wrong data."""
    if "graph" in params or "default" in params:
        name = "graph=" if "graph" in params else "default"
        raise BadRequest(f"'{name}' without a query asks for a whole graph: the SPARQL endpoint "
                         f"does not serve graphs, the Graph Store Protocol does, at "
                         f"{GRAPH_STORE} (e.g. GET {GRAPH_STORE}?graph=<IRI> or "
                         f"{GRAPH_STORE}?default); or send a query")


def _operation(params: dict[str, list[str]], body_text: str | None,
               body_kind: str | None) -> Operation:
    if body_kind is not None:
        if "query" in params or "update" in params:
            raise BadRequest(f"the {body_kind} is in the body; do not also pass query= or update=")
        kind, text = body_kind, body_text
    elif "query" in params and "update" in params:
        raise BadRequest("a request carries either a query or an update, not both")
    elif "query" in params or "update" in params:
        kind = "query" if "query" in params else "update"
        text = _single(params, kind)
    else:
        _refuse_graph_store_request(params)
        raise BadRequest("the request has neither a 'query' nor an 'update' parameter")
    prefix = "" if kind == "query" else "using-"
    return Operation(kind, text or "", params.get(prefix + "default-graph-uri" if kind == "query"
                                                   else "using-graph-uri", []),
                     params.get(prefix + "named-graph-uri", []), params)
