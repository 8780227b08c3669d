"""The SPARQL 1.1 Protocol endpoint at ``/sparql``: queries, updates and the service description.

Order of work for a query: read the request (:mod:`.protocol`), check it (:mod:`.guard`: size,
nesting, federation), pick the answer format (:mod:`.formats`, forgiving what clients send; a
406 only once the query is known to parse, so that a syntax error is a 400), choose the dataset
(:mod:`.dataset`), answer from the cache or from a killable, confined worker (:mod:`.pool`)
before the request's deadline (:mod:`.bounds`), then record what happened for the log line and
the ``Server-Timing`` header. The project's prefixes (:data:`tdkg.namespaces.PREFIXES`) are
predeclared: a query may use ``tdkg:`` or ``rdfs:`` without PREFIX lines, and its own
declarations win.
"""
from __future__ import annotations

import os
import re
import secrets

from flask import Blueprint, Response, current_app, g, request

from tdkg import namespaces as ns

from . import bounds, dataset, description, guard, protocol
from .errors import (
    BadRequest,
    Busy,
    EndpointError,
    MalformedQuery,
    MemoryLimit,
    NotAcceptable,
    QueryTimeout,
    ServiceRefused,
    StoreRefused,
    StoreUnavailable,
    UpdateRefused,
    WorkerUnavailable,
)
from .fastpath import CACHEABLE, RAN, UNCHECKED_FOR_TESTS, answer_key, content_type
from .formats import Format, accepted_for, negotiate, offered_for
from .pool import Busy as PoolBusy
from .pool import ClientGone, Timeout, WorkerDied, WorkerStartFailed

bp = Blueprint("sparql", __name__)
_POSITION = re.compile(r"(?:at|line) (\d+)[:, column ]+(\d+)")
#: a graph that no store has: the dataset over which a query is only parsed
EMPTY_GRAPH = "urn:x-tdkg:nothing"


@bp.route("/sparql", methods=["GET", "POST"], strict_slashes=False)
@bp.route("/sparql/", methods=["GET", "POST"])
def endpoint() -> Response:
    operation = protocol.parse(request, current_app.config["TDKG"].max_query)
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


def check(text: str, update: bool) -> guard.Checked:
    config = current_app.config["TDKG"]
    return guard.check(text, update=update, allowlist=config.service_allowlist,
                       predeclared=ns.PREFIXES, max_depth=config.max_depth,
                       enforce=os.environ.get(UNCHECKED_FOR_TESTS) != "1")


def run_query(operation: protocol.Operation) -> Response:
    config = current_app.config["TDKG"]
    checked = check(operation.text, update=False)
    offered = offered_for(checked.form)
    fmt = negotiate(offered, request.headers.get("Accept"), operation.format_names,
                    accepted_for(checked.form))
    if fmt is None:
        raise _not_acceptable(operation, offered)
    inference = _flag(operation, "inference", True)
    live = current_app.config["TDKG_LIVE"].snapshot()
    default, named = dataset.query_dataset(checked.names_dataset, operation.default_graphs,
                                           operation.named_graphs, inference,
                                           dataset.layout_of(live.info))
    job = {"op": "query", "text": operation.text, "base_iri": request.base_url,
           "default_graph": default, "named_graphs": named, "fmt": fmt.name,
           "cap": config.max_results, "prefixes": ns.PREFIXES}
    return answer(job, checked.remote, live)


def _not_acceptable(operation: protocol.Operation, offered: tuple[Format, ...]) -> EndpointError:
    """406, but only for a query that parses: a syntax error is reported first (400). The
    query is parsed where queries run, in a confined worker, evaluated over an empty dataset so
    that the check costs next to nothing; it is only done on this rare path."""
    job = {"op": "query", "text": operation.text, "base_iri": request.base_url,
           "default_graph": [EMPTY_GRAPH], "named_graphs": [], "fmt": offered[0].name,
           "cap": 0, "prefixes": ns.PREFIXES}
    try:
        call_worker(current_app.config["TDKG_LIVE"].snapshot().pool, job)
    except MalformedQuery as err:
        return err
    except EndpointError:
        pass            # it parses; that evaluating it failed does not matter here
    asked = ", ".join(operation.format_names) or request.headers.get("Accept", "")
    return NotAcceptable(f"none of the requested formats ({asked}) can be produced for this "
                         "query; available: " + ", ".join(
                             f"{f.media_type} (format={f.keywords[0]})" for f in offered))


def answer(job: dict, remote: tuple[str, ...] = (), live=None) -> Response:
    """Serve ``job`` from the cache, or run it (on ``live``, the snapshot the job was made for)
    and cache the result."""
    live = live or current_app.config["TDKG_LIVE"].snapshot()
    cache = current_app.config["TDKG_CACHE"]
    key = answer_key(live, job)
    use_cache = "no-cache" not in request.headers.get("Cache-Control", "")
    result = cache.get(key) if use_cache else None
    g.timing["cache"] = "hit" if result is not None else ("bypass" if not use_cache else "miss")
    if result is None:
        result = call_worker(live.pool_for(remote), job)
        cache.put(key, result, len(result["body"]))
    request.environ[CACHEABLE] = True
    return _response(result, live.build_id)


def call_worker(pool, job: dict) -> dict:
    """Run ``job`` on ``pool`` before the request's deadline; every failure is a typed error."""
    config = current_app.config["TDKG"]
    ran = request.environ.pop(RAN, None)    # the query already ran in front of Flask, and failed
    try:
        if ran is None:
            outcome = pool.call(job, bounds.deadline(), bounds.client_gone)
        elif isinstance(ran, BaseException):
            raise ran
        else:
            outcome = ran
    except Timeout:
        raise QueryTimeout(f"the {job['op']} ran longer than the {config.timeout:g} s limit and "
                           "was stopped; narrow it (LIMIT, more specific patterns) or raise "
                           "TDKG_TIMEOUT") from None
    except PoolBusy:
        raise Busy(f"the {job['op']} ran past {config.short_query:g} s while every slot for "
                   "long-running queries was taken; try again shortly") from None
    except ClientGone:
        raise BadRequest("the client closed the connection; the query was stopped") from None
    except WorkerDied as err:
        if err.memory:
            raise _memory_limit(pool) from None
        raise WorkerUnavailable(f"{err}; the worker was replaced") from None
    except WorkerStartFailed as err:
        raise WorkerUnavailable(f"no query worker could be started: {err}") from None
    if outcome[0] == "ok":
        g.timing["exec"] = outcome[1]["elapsed"]
        return outcome[1]
    _, kind, message = outcome
    if kind == "syntax":
        raise MalformedQuery(_explain_syntax(message, job.get("text", "")), **_position(message))
    if kind == "memory":
        raise _memory_limit(pool)
    if kind == "store":
        raise StoreUnavailable(message)
    if kind == "refused":
        raise StoreRefused(message)
    if kind == "extension":
        raise ServiceRefused(message)
    if kind == "read-only":
        raise UpdateRefused(message)
    raise BadRequest(message)


def _memory_limit(pool) -> EndpointError:
    limit = pool.spec.memory_mib
    return MemoryLimit(f"the query needed more than the {limit:,} MiB of memory a query worker "
                       "may use (TDKG_WORKER_MEMORY) and was stopped; narrow it (LIMIT, fewer "
                       "cross products, no ORDER BY over huge results)", limit_mib=limit)


def _position(message: str) -> dict:
    match = _POSITION.search(message)
    return {"line": int(match.group(1)), "column": int(match.group(2))} if match else {}


def _explain_syntax(message: str, text: str) -> str:
    """The engine's message, or a readable one where it lists character classes."""
    where = _position(message)
    if "Prefix not found" in message and where:
        lines = text.split("\n")
        line = lines[where["line"] - 1] if where["line"] <= len(lines) else ""
        start = line.rfind(" ", 0, where["column"] - 1) + 1
        name = re.split(r"[:\s]", line[start:], 1)[0]
        known = ", ".join(f"{p}:" for p in ns.PREFIXES)
        return (f"unknown prefix '{name}:' at line {where['line']}: declare it with PREFIX "
                f"{name}: <…>, or use one this endpoint predeclares: {known}")
    if "expected one of" in message and len(message) > 300:
        return message.split(" expected one of", 1)[0] + ": the query is not valid SPARQL there"
    return message


def _response(result: dict, build: str) -> Response:
    config = current_app.config["TDKG"]
    response = Response(result["body"], content_type=content_type(result["fmt"]))
    response.headers["TDKG-Result-Limit"] = str(config.max_results)
    response.headers["TDKG-Build"] = build     # the build that answered (one build per answer)
    if result["truncated"]:
        response.headers["TDKG-Truncated"] = f"true; returned={result['count']}"
    response.vary.add("Accept")
    g.timing["rows"] = result["count"]
    return response


def run_update(operation: protocol.Operation) -> Response:
    config = current_app.config["TDKG"]
    _check_token(config.update_token)
    checked = check(operation.text, update=True)
    text = dataset.add_using(operation.text, checked.tokens, operation.default_graphs,
                             operation.named_graphs)
    live = current_app.config["TDKG_LIVE"].snapshot()
    call_worker(live.pool_for(checked.remote),
                {"op": "update", "text": text, "base_iri": request.base_url,
                 "prefixes": ns.PREFIXES})
    live.generation += 1
    return Response(status=204, content_type=None)


def _check_token(token: str | None) -> None:
    if not token:
        raise UpdateRefused("this endpoint is read-only: SPARQL Update is disabled (start the "
                            "server with an update token, TDKG_UPDATE_TOKEN, to enable it)")
    sent = request.headers.get("Authorization", "")
    if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise UpdateRefused("SPARQL Update needs 'Authorization: Bearer <update token>'")
