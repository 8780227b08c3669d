"""The SPARQL 1.1 Protocol endpoint at ``/sparql``: queries, updates and the service description.

Order of work for a query: read the request (:mod:`.protocol`), refuse remote access
(:mod:`.guard`), pick the answer format (:mod:`.formats`), choose the dataset (:mod:`.dataset`),
answer from the cache or from a killable worker (:mod:`.pool`), then record what happened for the
log line and the ``Server-Timing`` header.
"""
from __future__ import annotations

import re
import secrets

from flask import Blueprint, Response, current_app, g, request

from tdkg import sparqltext as lexer

from . import dataset, description, guard, protocol
from .errors import BadRequest, EndpointError, MalformedQuery, NotAcceptable, QueryTimeout, UpdateRefused
from .formats import BY_NAME, NoAcceptableFormat, choose, offered_for
from .fastpath import CACHEABLE
from .pool import Timeout, WorkerDied

bp = Blueprint("sparql", __name__)
_POSITION = re.compile(r"(?:at|line) (\d+)[:, column ]+(\d+)")
TEXT_TYPES = ("text/csv", "text/tab-separated-values", "text/turtle", "application/n-triples")


@bp.route("/sparql", methods=["GET", "POST"], strict_slashes=False)
@bp.route("/sparql/", methods=["GET", "POST"])
def endpoint() -> Response:
    operation = protocol.parse(request)
    if operation is None:
        return description.respond()
    if operation.kind == "update":
        return run_update(operation)
    return run_query(operation)


def _flag(operation: protocol.Operation, name: str, default: bool) -> bool:
    value = (operation.param(name) or "").lower()
    if value in ("", "default"):
        return default
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise BadRequest(f"'{name}' must be true or false, not {value!r}")


def run_query(operation: protocol.Operation) -> Response:
    config = current_app.config["TDKG"]
    toks = lexer.tokens(lexer.decode_escapes(operation.text))
    guard.check_remote_access(toks, config.service_allowlist)
    try:
        fmt = choose(offered_for(lexer.query_form(toks)), request.headers.get("Accept"),
                     operation.param("format"))
    except NoAcceptableFormat as err:
        raise NotAcceptable(str(err)) from None
    inference = _flag(operation, "inference", True)
    default, named = dataset.query_dataset(toks, operation.default_graphs,
                                           operation.named_graphs, inference)
    job = {"op": "query", "text": operation.text, "base_iri": request.base_url,
           "default_graph": default, "named_graphs": named, "fmt": fmt.name,
           "cap": config.max_results}
    return answer(job)


def answer(job: dict) -> Response:
    """Serve ``job`` from the cache, or run it and cache the result."""
    live = current_app.config["TDKG_LIVE"].snapshot()
    cache = current_app.config["TDKG_CACHE"]
    key = (live.build_id, live.generation, job["text"], _frozen(job["default_graph"]),
           _frozen(job["named_graphs"]), job["fmt"], job["base_iri"])
    use_cache = "no-cache" not in request.headers.get("Cache-Control", "")
    result = cache.get(key) if use_cache else None
    g.timing["cache"] = "hit" if result is not None else ("bypass" if not use_cache else "miss")
    if result is None:
        result = call_worker(live.pool, job)
        cache.put(key, result, len(result["body"]))
    request.environ[CACHEABLE] = True
    return _response(result)


def _frozen(graphs: list[str] | None) -> tuple | None:
    return None if graphs is None else tuple(graphs)


def call_worker(pool, job: dict) -> dict:
    timeout = current_app.config["TDKG"].timeout
    try:
        outcome = pool.call(job, timeout)
    except Timeout:
        raise QueryTimeout(f"the {job['op']} ran longer than the {timeout:g} s limit and was "
                           "stopped; narrow it (LIMIT, more specific patterns) or raise "
                           "TDKG_TIMEOUT") from None
    except WorkerDied as err:
        raise EndpointError(str(err)) from None
    if outcome[0] == "ok":
        g.timing["exec"] = outcome[1]["elapsed"]
        return outcome[1]
    _, kind, message = outcome
    if kind == "syntax":
        raise MalformedQuery(message, **_position(message))
    raise BadRequest(message)


def _position(message: str) -> dict:
    match = _POSITION.search(message)
    return {"line": int(match.group(1)), "column": int(match.group(2))} if match else {}


def _response(result: dict) -> Response:
    config = current_app.config["TDKG"]
    media = BY_NAME[result["fmt"]].media_type
    if media.startswith("text/") or media in TEXT_TYPES:
        media += "; charset=utf-8"
    response = Response(result["body"], content_type=media)
    response.headers["TDKG-Result-Limit"] = str(config.max_results)
    if result["truncated"]:
        response.headers["TDKG-Truncated"] = f"true; returned={result['count']}"
    response.vary.add("Accept")
    g.timing["rows"] = result["count"]
    return response


def run_update(operation: protocol.Operation) -> Response:
    config = current_app.config["TDKG"]
    _check_token(config.update_token)
    toks = lexer.tokens(lexer.decode_escapes(operation.text))
    guard.check_remote_access(toks, config.service_allowlist)
    text = dataset.add_using(operation.text, operation.default_graphs, operation.named_graphs)
    live = current_app.config["TDKG_LIVE"].snapshot()
    call_worker(live.pool, {"op": "update", "text": text, "base_iri": request.base_url})
    live.generation += 1
    return Response(status=204, content_type=None)


def _check_token(token: str | None) -> None:
    if not token:
        raise UpdateRefused("this endpoint is read-only: SPARQL Update is disabled (start the "
                            "server with an update token, TDKG_UPDATE_TOKEN, to enable it)")
    sent = request.headers.get("Authorization", "")
    if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise UpdateRefused("SPARQL Update needs 'Authorization: Bearer <update token>'")
