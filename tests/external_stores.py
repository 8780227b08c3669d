"""Real external servers for the scale-out tests (issue #14), on 127.0.0.1 and free ports.

Three context managers, each yielding a handle that can ``stop()`` and ``start()`` again on the
same ports and the same data folder (the fault tests stop a store and bring it back):

* :func:`virtuoso` - OpenLink Virtuoso 7.2 (Debian's ``virtuoso-opensource-7-bin``) with a
  scratch database, configured from ``ops/virtuoso.ini.template`` and locked down by
  ``ops/virtuoso-setup.sql.template`` (reads are anonymous on ``/sparql``; writes go as ``dba``
  with a random password, HTTP digest auth, on ``/sparql-auth`` and ``/sparql-graph-crud-auth``).
* :func:`oxigraph_server` - ``oxigraph serve`` from the ``oxigraph`` package on PyPI.
* :func:`haproxy` - Debian's HAProxy in front of HTTP backends, from ``ops/haproxy.cfg.template``.

What each server needs and how it answers is written down in /work/notes/stores.md.
"""
from __future__ import annotations

import contextlib
import http.server
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Iterator

import requests
from requests.auth import HTTPDigestAuth
from support import find_free_port

PROJECT = Path(__file__).resolve().parents[1]
OPS = PROJECT / "ops"
VIRTUOSO = "/usr/bin/virtuoso-t"
ISQL = "/usr/bin/isql-vt"
HAPROXY = "/usr/sbin/haproxy"
OXIGRAPH = str(Path(sys.executable).with_name("oxigraph"))


class ServerFailed(RuntimeError):
    """A server did not start, or died; the message carries the tail of its log."""


@dataclass
class Process:
    """One foreground server process with its log file; ``start()`` after ``stop()`` reruns it."""

    name: str
    command: list[str]
    log_path: Path
    ready_url: str
    process: subprocess.Popen | None = None
    ready_seconds: float = 0.0     # how long the last start() took until ready_url answered 200
    address: str = ""              # "127.0.0.1:PORT" where it listens, when that is one port
    # a store reopening a large database takes a while (Oxigraph: 6 s at 200k triples)
    start_deadline_s: float = 300

    def start(self, deadline_s: float | None = None) -> None:
        if self.running:
            return
        deadline_s = deadline_s or self.start_deadline_s
        began = time.monotonic()
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready(deadline_s)
        self.ready_seconds = time.monotonic() - began

    def _wait_ready(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        for _ in range(int(deadline_s / 0.1) + 1):      # bounded in count and in time
            if self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.ready_url, timeout=5).status_code == 200:
                    return
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.stop()
        raise ServerFailed(f"{self.name} not ready within {deadline_s} s:\n" + self.log_tail())

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, sig: int = signal.SIGTERM, wait_s: float = 30) -> None:
        """Stop the process group: ``sig`` first, SIGKILL if it is still there after ``wait_s``."""
        if not self.running:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(wait_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def kill(self) -> None:
        """Die at once, as a crash would (SIGKILL, no shutdown)."""
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Store:
    """What a SPARQL 1.1 store client needs to know about a running store."""

    kind: str                    # "virtuoso" | "oxigraph"
    base_url: str
    query_url: str               # SPARQL 1.1 Query (GET/POST), anonymous (read-only on Virtuoso)
    update_url: str              # SPARQL 1.1 Update (POST), with ``auth`` (Oxigraph: none)
    gsp_url: str                 # Graph Store Protocol (indirect graph identification), ``auth``
    gsp_read_url: str            # GSP GET without credentials
    gsp_graph_param: str         # "graph-uri" (Virtuoso; it also accepts "graph") | "graph"
    user: str | None
    password: str | None
    data_dir: Path
    server: Process
    auth_scheme: str | None = None   # "digest" (Virtuoso) | None
    extra: dict = field(default_factory=dict)

    @property
    def auth(self) -> HTTPDigestAuth | None:
        return HTTPDigestAuth(self.user, self.password) if self.auth_scheme == "digest" else None

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    @property
    def process(self) -> subprocess.Popen | None:
        return self.server.process

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        self.server.kill()

    # --- small helpers the tests of the fixtures use ------------------------------------
    def query(self, query: str, accept: str = "application/sparql-results+json",
              timeout: float = 60, params: dict | None = None) -> requests.Response:
        return requests.post(self.query_url, data={"query": query, **(params or {})},
                             headers={"Accept": accept}, timeout=timeout)

    def update(self, update: str, timeout: float = 120) -> requests.Response:
        return requests.post(self.update_url, data={"update": update}, auth=self.auth,
                             timeout=timeout)

    def post_graph(self, graph: str, ntriples: bytes, timeout: float = 300) -> requests.Response:
        return requests.post(self.gsp_url, params={self.gsp_graph_param: graph}, data=ntriples,
                             headers={"Content-Type": "application/n-triples"},
                             auth=self.auth, timeout=timeout)

    def count(self, graph: str | None = None) -> int:
        where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
        response = self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
        response.raise_for_status()
        return int(response.json()["results"]["bindings"][0]["n"]["value"])


def fill(template: str, **values) -> str:
    """``ops/<template>`` with ``$name`` placeholders filled in (every one must be given)."""
    return Template((OPS / template).read_text()).substitute(**values)


# --- Virtuoso ------------------------------------------------------------------------------
@contextlib.contextmanager
def virtuoso(tmp_dir: Path, max_execution_s: int = 0, max_estimate_s: int = 0,
             buffers: int = 65536, max_rows: int = 10_000_000) -> Iterator[Store]:
    """A Virtuoso 7.2 store with a scratch database under ``tmp_dir``; stopped on exit."""
    db_dir = Path(tmp_dir) / "virtuoso"
    db_dir.mkdir(parents=True, exist_ok=True)
    http_port, sql_port = find_free_port(), find_free_port()
    ini = db_dir / "virtuoso.ini"
    ini.write_text(fill("virtuoso.ini.template", db_dir=db_dir, sql_port=sql_port,
                        http_port=http_port, buffers=buffers, dirty_buffers=buffers * 3 // 4,
                        buffers_mib=buffers * 8 // 1024, max_rows=max_rows,
                        max_execution_s=max_execution_s, max_estimate_s=max_estimate_s))
    base = f"http://127.0.0.1:{http_port}"
    server = Process("virtuoso", [VIRTUOSO, "+foreground", "+configfile", str(ini)],
                     db_dir / "stdout.log", base + "/sparql?query=ASK%7B%7D")
    password = secrets.token_urlsafe(16)
    store = Store("virtuoso", base, base + "/sparql", base + "/sparql-auth",
                  base + "/sparql-graph-crud-auth", base + "/sparql-graph-crud", "graph-uri",
                  "dba", password, db_dir, server, auth_scheme="digest",
                  extra={"sql_port": sql_port, "ini": ini, "error_log": db_dir / "virtuoso.log"})
    try:
        server.start()
        _virtuoso_setup(db_dir, sql_port, password)
        yield store
    finally:
        server.stop()


def _virtuoso_setup(db_dir: Path, sql_port: int, password: str) -> None:
    """Lock the fresh database down (ops/virtuoso-setup.sql.template) through isql-vt."""
    script = db_dir / "setup.sql"
    script.write_text(fill("virtuoso-setup.sql.template", sql_port=sql_port,
                           dba_password=password))
    script.chmod(0o600)
    try:
        done = subprocess.run([ISQL, f"127.0.0.1:{sql_port}", "dba", "dba", str(script)],
                              capture_output=True, text=True, timeout=60)
    finally:
        script.unlink()
    if done.returncode != 0 or "*** Error" in done.stdout + done.stderr:
        raise ServerFailed(f"isql-vt setup failed ({done.returncode}):\n{done.stdout}\n"
                           f"{done.stderr}")


# --- Oxigraph server -----------------------------------------------------------------------
@contextlib.contextmanager
def oxigraph_server(tmp_dir: Path, timeout_s: int | None = None) -> Iterator[Store]:
    """``oxigraph serve`` on a data folder under ``tmp_dir``; stopped on exit."""
    data_dir = Path(tmp_dir) / "oxigraph"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = find_free_port()
    base = f"http://127.0.0.1:{port}"
    command = [OXIGRAPH, "serve", "--location", str(data_dir), "--bind", f"127.0.0.1:{port}"]
    if timeout_s is not None:
        command += ["--timeout-s", str(timeout_s)]
    server = Process("oxigraph", command, Path(tmp_dir) / f"oxigraph-{port}.log",
                     base + "/query?query=ASK%7B%7D")
    store = Store("oxigraph", base, base + "/query", base + "/update", base + "/store",
                  base + "/store", "graph", None, None, data_dir, server)
    try:
        server.start()
        yield store
    finally:
        server.stop()


# --- HAProxy -------------------------------------------------------------------------------
@dataclass
class Balancer:
    url: str
    config_path: Path
    stats_url: str
    server: Process

    @property
    def process(self) -> subprocess.Popen | None:
        return self.server.process

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def backend_states(self) -> dict[str, str]:
        """{server name: status} from HAProxy's CSV stats ("UP", "DOWN", "UP 1/2", ...)."""
        rows = requests.get(self.stats_url + ";csv", timeout=5).text.splitlines()
        header = rows[0].lstrip("# ").split(",")
        states = {}
        for row in rows[1:]:
            cells = dict(zip(header, row.split(",")))
            if cells.get("pxname") == "fronts" and cells.get("svname") not in ("BACKEND", None):
                states[cells["svname"]] = cells["status"]
        return states


@contextlib.contextmanager
def haproxy(backends: list[str], tmp_dir: Path, check_interval_ms: int = 200,
            maxconn: int = 7) -> Iterator[Balancer]:
    """HAProxy on a free loopback port balancing ``backends`` ("127.0.0.1:PORT" each), sending
    each at most ``maxconn`` requests at once (one fewer than a front end's threads)."""
    folder = Path(tmp_dir) / "haproxy"
    folder.mkdir(parents=True, exist_ok=True)
    port, stats_port = find_free_port(), find_free_port()
    servers = "\n".join(f"    server front{i} {address} check" for i, address in
                        enumerate(backends, 1))
    config = folder / "haproxy.cfg"
    config.write_text(fill("haproxy.cfg.template", port=port, stats_port=stats_port,
                           inter=check_interval_ms, maxconn=maxconn, servers=servers,
                           pid_file=folder / "haproxy.pid"))
    checked = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True,
                             text=True, timeout=30)
    if checked.returncode != 0:
        raise ServerFailed(f"haproxy -c refused {config}:\n{checked.stdout}{checked.stderr}")
    stats = f"http://127.0.0.1:{stats_port}/stats"
    server = Process("haproxy", [HAPROXY, "-W", "-db", "-f", str(config)],
                     folder / "haproxy.log", stats)
    balancer = Balancer(f"http://127.0.0.1:{port}", config, stats, server)
    try:
        server.start()
        yield balancer
    finally:
        server.stop()


def available() -> dict[str, bool]:
    """Which of the servers this module starts are installed here."""
    return {"virtuoso": os.access(VIRTUOSO, os.X_OK) and bool(shutil.which("isql-vt")),
            "oxigraph": os.access(OXIGRAPH, os.X_OK),
            "haproxy": os.access(HAPROXY, os.X_OK)}


# --- tiny HTTP backends (stand-ins for front ends in the balancer's own tests) -------------
_TINY_SERVER = """
import http.server, sys, time
name, delay = sys.argv[1], float(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        if self.path != "/healthz":
            time.sleep(delay)
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), Handler)
server.serve_forever()
"""


@contextlib.contextmanager
def tiny_backend(name: str, tmp_dir: Path, delay_s: float = 0.02) -> Iterator[Process]:
    """A Python http.server on loopback answering every GET (``/healthz`` too) with ``name``."""
    port = find_free_port()
    server = Process(name, [sys.executable, "-c", _TINY_SERVER, name, str(delay_s), str(port)],
                     Path(tmp_dir) / f"{name}-{port}.log", f"http://127.0.0.1:{port}/healthz",
                     address=f"127.0.0.1:{port}")
    try:
        server.start()
        yield server
    finally:
        server.stop()


# --- a loopback listener that records what reaches it (for federation tests) --------------
@dataclass
class Listener:
    url: str
    requests: list[str]          # "METHOD /path" of every request received, in order


@contextlib.contextmanager
def recording_server() -> Iterator[Listener]:
    """An HTTP server on 127.0.0.1 that answers anything and records every request it gets."""
    listener = Listener("", [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            listener.requests.append(f"{self.command} {self.path.split('?')[0]}")
            turtle = self.path.split("?")[0].endswith(".ttl")
            body = (b'<http://example.org/remote> <http://example.org/p> "remote" .\n' if turtle
                    else b'{"head":{"vars":["x"]},"results":{"bindings":'
                         b'[{"x":{"type":"literal","value":"remote"}}]}}')
            self.send_response(200)
            self.send_header("Content-Type", "text/turtle" if turtle
                             else "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    listener.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
