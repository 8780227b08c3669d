"""The ``sparql`` store kind: any store that speaks SPARQL 1.1 Query, Update and the Graph Store
HTTP Protocol, reached by URL (tested with OpenLink Virtuoso 7 and the Oxigraph server).

Two clients share the wire format here:

- :class:`SparqlStore`, for the build and the front end's own control calls (which build is
  published, is the store reachable): loads a build's graphs, switches the published build in
  one SPARQL Update, drops old builds. It may write, so it may carry credentials, which come from
  the environment (``TDKG_STORE_USER``, ``TDKG_STORE_PASSWORD``), never from the command line.
- :class:`QueryConnection`, for the confined query workers: read-only queries over one
  keep-alive HTTP connection, made through a Unix socket (:mod:`.relay`) when the worker has no
  network of its own.

Every call has a deadline (a socket timeout for the whole call); every failure is one of
:mod:`.errors`, with a message that names the store.
"""
from __future__ import annotations

import dataclasses
import http.client
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import graphnames as names
from .errors import StoreCancelled, StoreIncomplete, StoreRefused, StoreUnavailable

RESULTS_JSON = "application/sparql-results+json"
#: what a CONSTRUCT or DESCRIBE asks for (SELECT and ASK ask for JSON results)
GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9"
#: triples per Graph Store POST when a build is loaded
LOAD_CHUNK = 50_000
USER_ENV, PASSWORD_ENV = "TDKG_STORE_USER", "TDKG_STORE_PASSWORD"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where the store answers. ``graph_param`` is the Graph Store Protocol's query parameter
    (``graph`` in the standard; Virtuoso 7's ``/sparql-graph-crud`` calls it ``graph-uri``)."""

    query_url: str
    update_url: str = ""
    graph_url: str = ""
    graph_param: str = "graph"
    auth: str = "digest"            # how credentials are sent when given: digest or basic

    @property
    def name(self) -> str:
        return self.query_url


def _credentials() -> tuple[str, str] | None:
    user = os.environ.get(USER_ENV)
    return (user, os.environ.get(PASSWORD_ENV, "")) if user else None


def partial_answer(headers) -> str | None:
    """Virtuoso marks an answer cut at its own time limit ("anytime" query) with SQL state
    ``S1TAT`` in its headers; a message saying so, or None for a complete answer."""
    state = headers.get("X-SQL-State") or headers.get("x-sql-state")
    if state:
        message = headers.get("X-SQL-Message") or headers.get("x-sql-message") or ""
        return f"the store returned a partial answer (SQL state {state}: {message.strip()})"
    return None


# SQL states and messages with which Virtuoso reports that it stopped a query at its own time
# limit (its `timeout` parameter or its server-side limits) before any row was ready:
# S1T00 / SR171 "transaction timed out", HY008 / SR203 "async statement killed".
_STORE_TIMEOUT = re.compile(r"\b(S1T00|HY008|SR171|SR203)\b|timed out|statement kill", re.I)


def _refused(store: str, status: int, body: bytes) -> StoreRefused | StoreUnavailable:
    text = body.decode("utf-8", "replace").strip()[:600]
    if status >= 500 and _STORE_TIMEOUT.search(text):
        return StoreUnavailable(f"the SPARQL store at {store} stopped the query at its own "
                                f"time limit (HTTP {status}): {text}")
    if status >= 500 or status in (408, 429):
        return StoreUnavailable(f"the SPARQL store at {store} failed (HTTP {status}): {text}")
    return StoreRefused(f"the SPARQL store at {store} refused it (HTTP {status}): {text}")


class SparqlStore:
    """Control and loading calls (see the module's docstring)."""

    kind = "sparql"

    def __init__(self, endpoint: Endpoint, timeout: float = 30.0):
        import requests  # the control client only; the query workers use http.client
        self.endpoint = endpoint
        self.timeout = timeout
        self._session = requests.Session()
        found = _credentials()
        if found is not None:
            self._session.auth = (requests.auth.HTTPDigestAuth(*found)
                                  if endpoint.auth == "digest" else found)

    @property
    def name(self) -> str:
        return self.endpoint.name

    def _call(self, method: str, url: str, timeout: float | None = None, **kwargs):
        import requests
        try:
            response = self._session.request(method, url, timeout=timeout or self.timeout,
                                             **kwargs)
        except requests.RequestException as err:
            raise StoreUnavailable(f"the SPARQL store at {url} is unreachable: "
                                   f"{type(err).__name__}: {err}") from None
        if response.status_code >= 300:
            raise _refused(url, response.status_code, response.content)
        return response

    # --- queries the service itself makes ------------------------------------------------

    def select(self, text: str, timeout: float | None = None) -> list[dict[str, str]]:
        """Rows of a SELECT as {variable: value} (the values' lexical forms)."""
        response = self._call("POST", self.endpoint.query_url, timeout,
                              data={"query": text}, headers={"Accept": RESULTS_JSON})
        if (why := partial_answer(response.headers)) is not None:
            raise StoreIncomplete(f"{self.name}: {why}")
        try:
            rows = response.json()["results"]["bindings"]
        except (ValueError, KeyError, TypeError):
            raise StoreUnavailable(f"the SPARQL store at {self.name} sent an answer that is "
                                   "not SPARQL JSON results") from None
        return [{k: v["value"] for k, v in row.items()} for row in rows]

    def update(self, text: str, timeout: float | None = None) -> None:
        self._call("POST", self.endpoint.update_url or self.endpoint.query_url, timeout,
                   data={"update": text})

    def reachable(self, timeout: float = 2.0) -> str | None:
        """None when the store answers a trivial query within ``timeout``, else why not."""
        try:
            self.select("SELECT * WHERE { } LIMIT 1", timeout)
        except StoreUnavailable as err:
            return str(err)
        except StoreRefused as err:
            return str(err)
        return None

    # --- the interface the service needs -------------------------------------------------

    def state(self, timeout: float | None = None) -> tuple[str | None, list[str]]:
        """(the published build, the builds that have, or had if a load was cut short, graphs
        in the store), from one reading of the control graph. While a switch is under way a
        store without transactions may name two builds: the newest is taken (ids begin with
        their time)."""
        rows = self.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{names.CONTROL}> {{ ?s ?p ?o }} }}",
                           timeout)
        marker = names.build_node("")
        published = [r["o"] for r in rows if r["p"] == names.PUBLISHED and r["s"] == names.STORE]
        loaded = sorted(r["s"][len(marker):] for r in rows
                        if r["p"] == names.LOADED and r["s"].startswith(marker))
        return (max(published) if published else None), loaded

    def published(self, timeout: float | None = None) -> str | None:
        """The id of the published build, or None (nothing published yet)."""
        return self.state(timeout)[0]

    def loaded(self) -> list[str]:
        return self.state()[1]

    def begin(self, build: str) -> None:
        """Note in the control graph that ``build`` is being loaded, so that a load cut short
        is found and dropped later."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.update(f"INSERT DATA {{ GRAPH <{names.CONTROL}> {{ <{names.build_node(build)}> "
                    f"<{names.LOADED}> \"{when}\" }} }}")

    def load_graph(self, build: str, name: str, triples: Iterable[str],
                   chunk: int = LOAD_CHUNK) -> int:
        """POST the N-Triples lines ``triples`` into the build's graph for ``name`` ("" is the
        default graph), ``chunk`` lines a request; return how many lines were sent."""
        target = names.stored(build, name)
        sent = 0
        for part in _chunks(triples, max(1, chunk)):
            self._call("POST", self.endpoint.graph_url,
                       params={self.endpoint.graph_param: target},
                       data="".join(part).encode("utf-8"),
                       headers={"Content-Type": "application/n-triples"},
                       timeout=max(self.timeout, 120.0))
            sent += len(part)
        return sent

    def publish(self, build: str) -> None:
        """Make ``build`` the published one, in one request: first add its triple, then remove
        the others. A store that runs one request as one transaction (Oxigraph) switches at
        once; one that does not (Virtuoso 7) shows for a moment both ids, never none, and a
        reader takes the newest (ids begin with their time). Both builds are complete, and each
        answer reads one of them. Checked by reading it back."""
        triple = f'<{names.STORE}> <{names.PUBLISHED}> "{build}"'
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        triple += f' . <{names.build_node(build)}> <{names.PUBLISHED_AT}> "{when}"'
        self.update(f"""INSERT DATA {{ GRAPH <{names.CONTROL}> {{ {triple} }} }} ;
DELETE {{ GRAPH <{names.CONTROL}> {{ <{names.STORE}> <{names.PUBLISHED}> ?old }} }}
WHERE {{ GRAPH <{names.CONTROL}> {{ <{names.STORE}> <{names.PUBLISHED}> ?old }}
        FILTER (STR(?old) != "{build}") }}""")
        if (found := self.published()) != build:
            raise StoreUnavailable(f"the SPARQL store at {self.name} did not take the switch "
                                   f"to build {build}: it publishes {found!r}")

    def drop(self, build: str) -> None:
        """Remove a build's graphs (every graph named for it: its files too, and any loaded
        beside the build's own) and its notes in the control graph."""
        found = self.select(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                            f"FILTER (STRSTARTS(STR(?g), \"{names.prefix(build)}\")) }}",
                            timeout=max(self.timeout, 120.0))
        for graph in sorted(set(names.graphs_of(build)) | {row["g"] for row in found}):
            # CLEAR first: Virtuoso 7 keeps the triples of a graph loaded by the Graph Store
            # Protocol through a DROP SILENT
            self.update(f"CLEAR SILENT GRAPH <{graph}> ;\nDROP SILENT GRAPH <{graph}>")
        self.update(f"DELETE WHERE {{ GRAPH <{names.CONTROL}> {{ <{names.build_node(build)}> "
                    f"?p ?o }} }}")

    def first_published(self, build: str, timeout: float | None = None) -> str | None:
        """When ``build`` was first published to the store (UTC, ISO 8601), or None."""
        rows = self.select(f"SELECT (MIN(STR(?t)) AS ?first) WHERE {{ GRAPH <{names.CONTROL}> "
                           f"{{ <{names.build_node(build)}> <{names.PUBLISHED_AT}> ?t }} }}",
                           timeout)
        return rows[0].get("first") if rows else None


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class QueryConnection:
    """One keep-alive HTTP connection to the store's query endpoint, used by one query worker
    thread: ``post(form, accept, timeout)`` returns (content type, body). With ``socket_path``
    the connection is made to that Unix socket (the front end's relay to the store) instead of
    the network; the HTTP request still names the store's host."""

    def __init__(self, query_url: str, socket_path: str | None = None, auth: str = "digest",
                 params: str = ""):
        self.url = query_url
        parts = urlsplit(query_url)
        self._target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._socket_path = socket_path
        self._params = parse_qsl(params, keep_blank_values=True)
        self._conn: http.client.HTTPConnection | None = None
        self._cancelled = False
        found = _credentials()
        self._headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if found is not None and auth == "basic":   # digest needs a round trip: reads go without
            import base64
            token = base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._socket_path is None:
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(self._socket_path)
        conn.sock = sock
        return conn

    def begin(self) -> None:
        """A new job: a cancellation of the one before no longer applies."""
        self._cancelled = False

    def cancel(self) -> None:
        """Stop the call under way, from another thread: close the connection under it (the
        store sees its client leave; Virtuoso then stops the query). ``post`` raises
        :class:`StoreCancelled` and does not try again."""
        self._cancelled = True
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _stop_if_cancelled(self) -> None:
        if self._cancelled:
            self.close()
            raise StoreCancelled(f"the call to the SPARQL store at {self.url} was cancelled")

    def post(self, form: list[tuple[str, str]], accept: str, timeout: float) -> tuple[str, bytes]:
        body = urlencode(form + self._params).encode("utf-8")
        for attempt in (1, 2):      # a kept-alive connection the store closed: once more, fresh
            self._stop_if_cancelled()
            fresh = self._conn is None
            try:
                if self._conn is None:
                    self._conn = self._connect(timeout)
                    self._stop_if_cancelled()
                self._conn.timeout = timeout
                if self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout)
                self._conn.request("POST", self._target, body,
                                   {**self._headers, "Accept": accept})
                response = self._conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as err:
                self.close()
                self._stop_if_cancelled()
                if isinstance(err, TimeoutError) or fresh or attempt == 2:
                    raise StoreUnavailable(f"the SPARQL store at {self.url} is unreachable: "
                                           f"{type(err).__name__}: {err}") from None
                continue
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            if response.status >= 300:
                raise _refused(self.url, response.status, data)
            if (why := partial_answer(response.headers)) is not None:
                raise StoreIncomplete(f"{self.url}: {why}")
            return response.getheader("Content-Type", ""), data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def endpoint_from(settings) -> Endpoint:
    """The settings' store endpoint (``store_url`` and the optional update and graph URLs)."""
    return Endpoint(query_url=settings.store_url,
                    update_url=settings.store_update_url or settings.store_url,
                    graph_url=settings.store_graph_url or settings.store_url,
                    graph_param=settings.store_graph_param, auth=settings.store_auth)

