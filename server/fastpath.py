"""A WSGI layer in front of Flask that answers repeated ``GET /sparql?query=…`` from memory.

The graph changes only when a build is published, so a finished answer can be replayed byte for
byte until then. Entries are keyed on the published build, the raw query string, the Accept
header and whether the request is cross-origin (which decides the CORS headers); a new build
makes every older entry unreachable. Skipping Flask's routing and request parsing is what lets
a cheap query keep up with the Oxigraph server. Responses are only stored when the endpoint
marks them cacheable (a successful query); the log line and Server-Timing header are the same as
for any other request.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .cache import AnswerCache

log = logging.getLogger("tdkg.access")
PATHS = ("/sparql", "/sparql/")
CACHEABLE = "tdkg.cacheable"


class ReplayCachedGets:
    def __init__(self, app: Callable, store_root: Path, cache: AnswerCache):
        self.app, self.link, self.cache = app, store_root / "current", cache

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        key = self._key(environ)
        if key is None:
            return self.app(environ, start_response)
        hit = self.cache.get(key)
        if hit is not None:
            return self._replay(hit, environ, start_response, started)
        return self._record(key, environ, start_response)

    def _key(self, environ: dict) -> tuple | None:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in PATHS:
            return None
        query_string = environ.get("QUERY_STRING", "")
        if "query=" not in query_string or "no-cache" in environ.get("HTTP_CACHE_CONTROL", ""):
            return None
        try:
            build = os.readlink(self.link)
        except OSError:
            return None
        return (build, environ["PATH_INFO"], query_string, environ.get("HTTP_ACCEPT", ""),
                "HTTP_ORIGIN" in environ)

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
