"""A WSGI layer in front of Flask for the commonest request: ``GET /sparql?query=…``.

Two things happen here, before Flask's routing and request objects (which cost about 1 ms of
CPU per request, several times what running a cheap query costs):

* **Replay.** The graph changes only when a build is published, so a finished answer is replayed
  byte for byte until then. Entries are keyed on the published build, the raw query string, the
  Accept header and whether the request is cross-origin; a new build makes every older entry
  unreachable. Only answers the endpoint marks cacheable (a successful query) are stored.
* **Direct queries.** A query the cache cannot answer, sent with nothing but ``query=`` (any
  ``Accept``, ``Cache-Control: no-cache`` included), is checked, negotiated and run here with the
  very functions the endpoint uses: the SERVICE/LOAD check and the size and nesting limits
  (:mod:`.guard`), the format (:mod:`.formats`), the dataset (:mod:`.dataset`), the answer cache
  and the killable query workers (:mod:`.pool`) under the request's deadline, with the result
  cap. Anything else (other parameters, POST, a refused or malformed query, a format it cannot
  give, a federated query) goes to Flask unchanged; so does a query whose run failed, carrying
  what the worker said (:data:`RAN`) so that the endpoint answers with its usual error and the
  query is not run twice.

Every answer has the same status, body and headers (CORS, ``Vary``, ``TDKG-Result-Limit``,
``TDKG-Truncated``, ``Server-Timing``) and the same log line as the endpoint would give.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import parse_qs

from tdkg import namespaces as ns
from tdkg.settings import Settings

from . import bounds, dataset, guard
from .cache import AnswerCache
from .errors import EndpointError
from .formats import BY_NAME, accepted_for, negotiate, offered_for

log = logging.getLogger("tdkg.access")
PATHS = ("/sparql", "/sparql/")
CACHEABLE = "tdkg.cacheable"
#: in the WSGI environ: what running the query gave (an exception of :mod:`.pool` or an error
#: outcome), for the endpoint to report instead of running it again
RAN = "tdkg.ran"
#: test-only: skip the SERVICE/LOAD check, to show that the confined workers hold on their own
UNCHECKED_FOR_TESTS = "TDKG_TEST_UNCHECKED_SERVICE"
TEXT_TYPES = ("text/csv", "text/tab-separated-values", "text/turtle", "application/n-triples")
CORS = [("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers",
         "Server-Timing, TDKG-Build, TDKG-Result-Limit, TDKG-Truncated")]


class ReplayCachedGets:
    def __init__(self, app: Callable, store_root: Path, cache: AnswerCache,
                 settings: Settings | None = None, live=None, answers: AnswerCache | None = None):
        self.app, self.link, self.cache = app, store_root / "current", cache
        self.settings, self.live, self.answers = settings, live, answers

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in PATHS \
                or "query=" not in environ.get("QUERY_STRING", ""):
            return self.app(environ, start_response)
        key = self._key(environ)
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return self._replay(hit, environ, start_response, started)
        answer = self._direct(environ, started, use_cache=key is not None)
        if answer is None:
            return self._record(key, environ, start_response) if key is not None \
                else self.app(environ, start_response)
        status, headers, body = answer
        if key is not None:
            self.cache.put(key, (status, headers, body), len(body))
        timing = environ["tdkg.timing"]
        start_response(status, headers + [("Server-Timing", timing)])
        return [body]

    def _key(self, environ: dict) -> tuple | None:
        if "no-cache" in environ.get("HTTP_CACHE_CONTROL", ""):
            return None
        build = self.live.build_key() if self.live is not None else _link(self.link)
        if build is None:
            return None
        return (build, environ["PATH_INFO"], environ["QUERY_STRING"],
                environ.get("HTTP_ACCEPT", ""), "HTTP_ORIGIN" in environ)

    # --- direct queries -----------------------------------------------------------------------
    def _direct(self, environ: dict, started: float, use_cache: bool) -> tuple | None:
        """(status, headers, body) of a query answered here, or None to let Flask answer."""
        config = self.settings
        if config is None or self.live is None or os.environ.get(UNCHECKED_FOR_TESTS) == "1":
            return None
        params = parse_qs(environ["QUERY_STRING"], keep_blank_values=True)
        if list(params) != ["query"] or len(params["query"]) != 1:
            return None
        text = params["query"][0]
        if len(text.encode()) > config.max_query:
            return None
        try:
            checked = guard.check(text, update=False, allowlist=config.service_allowlist,
                                  predeclared=ns.PREFIXES, max_depth=config.max_depth)
        except EndpointError:
            return None
        if checked.remote:
            return None
        form = checked.form
        fmt = negotiate(offered_for(form), environ.get("HTTP_ACCEPT"), (), accepted_for(form))
        if fmt is None:
            return None
        try:
            live = self.live.snapshot()
        except EndpointError:
            return None
        default, named = dataset.query_dataset(checked.names_dataset, [], [], True,
                                               dataset.layout_of(live.info))
        job = {"op": "query", "text": text, "base_iri": _base_url(environ),
               "default_graph": default, "named_graphs": named, "fmt": fmt.name,
               "cap": config.max_results, "prefixes": ns.PREFIXES}
        key = answer_key(live, job)
        result = self.answers.get(key) if use_cache and self.answers is not None else None
        cache = "hit" if result is not None else ("miss" if use_cache else "bypass")
        elapsed = None
        if result is None:
            try:
                outcome = live.pool.call(job, environ.get(bounds.DEADLINE) or
                                         time.monotonic() + config.timeout,
                                         lambda: bounds.client_gone_from(environ))
            except Exception as err:  # noqa: BLE001 - the endpoint reports every failure
                environ[RAN] = err
                return None
            if outcome[0] != "ok":
                environ[RAN] = outcome
                return None
            result, elapsed = outcome[1], outcome[1]["elapsed"]
            if self.answers is not None:
                self.answers.put(key, result, len(result["body"]))
        return self._respond(environ, result, cache, elapsed, started, live.build_id)

    def _respond(self, environ: dict, result: dict, cache: str, elapsed: float | None,
                 started: float, build: str) -> tuple:
        body = result["body"]
        headers = [("Content-Type", content_type(result["fmt"])), ("Content-Length", str(len(body))),
                   ("TDKG-Result-Limit", str(self.settings.max_results)), ("TDKG-Build", build)]
        if result["truncated"]:
            headers.append(("TDKG-Truncated", f"true; returned={result['count']}"))
        headers += [("Vary", "Accept")] + CORS
        total = (time.perf_counter() - started) * 1000
        timing = [f"total;dur={total:.2f}"]
        if elapsed is not None:
            timing.append(f"exec;dur={elapsed * 1000:.2f}")
        environ["tdkg.timing"] = ", ".join(timing + [f"cache;desc={cache}"])
        log.info("%s GET %s?%s 200 %.1fms cache=%s rows=%s", environ.get("REMOTE_ADDR"),
                 environ["PATH_INFO"], environ["QUERY_STRING"][:200], total, cache,
                 result["count"])
        return "200 OK", headers, body

    def _replay(self, hit: tuple, environ: dict, start_response: Callable, started: float):
        status, headers, body = hit
        total = (time.perf_counter() - started) * 1000
        start_response(status, headers + [("Server-Timing", f"total;dur={total:.2f}, cache;desc=hit")])
        log.info("%s GET %s?%s %s %.1fms cache=hit rows=-", environ.get("REMOTE_ADDR"),
                 environ["PATH_INFO"], environ["QUERY_STRING"][:200], status[:3], total)
        return [body]

    def _record(self, key: tuple, environ: dict, start_response: Callable) -> Iterable[bytes]:
        captured: list = []

        def capture(status: str, headers: list, exc_info=None):
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info)

        chunks = list(self.app(environ, capture))
        if environ.get(CACHEABLE) and captured and captured[0].startswith("200"):
            body = b"".join(chunks)
            headers = [(k, v) for k, v in captured[1] if k.lower() != "server-timing"]
            self.cache.put(key, (captured[0], headers, body), len(body))
            return [body]
        return chunks


def _link(link: Path) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None


def _base_url(environ: dict) -> str:
    """The request's URL without its query string, as Flask's ``request.base_url`` gives it."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}{environ.get('SCRIPT_NAME', '')}" \
           f"{environ['PATH_INFO']}"


def content_type(fmt: str) -> str:
    """The Content-Type of an answer in the format named ``fmt`` (text in UTF-8)."""
    media = BY_NAME[fmt].media_type
    return media + "; charset=utf-8" if media.startswith("text/") or media in TEXT_TYPES \
        else media


def answer_key(live, job: dict) -> tuple:
    """The key of a query's answer in the endpoint's answer cache (shared with :mod:`.sparql`)."""
    return (live.build_id, live.generation, job["text"], _frozen(job["default_graph"]),
            _frozen(job["named_graphs"]), job["fmt"], job["base_iri"])


def _frozen(graphs: list[str] | None) -> tuple | None:
    return None if graphs is None else tuple(graphs)
