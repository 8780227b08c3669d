"""Starting and stopping real TDKG servers for the tests: the `tdkg` entry point on 127.0.0.1."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parents[1]
TDKG = [sys.executable, "-m", "tdkg.cli"]


def find_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_tdkg(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*TDKG, *args], cwd=PROJECT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


class Server:
    """A `tdkg serve` process on a free loopback port, stopped by :meth:`stop`."""

    def __init__(self, state_dir: Path, *flags: str, env: dict | None = None,
                 wait: bool = True):
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state_dir.parent / f"server-{self.port}.log"
        cmd = [*TDKG, "serve", "--no-build", "--state-dir", str(state_dir),
               "--host", "127.0.0.1", "--port", str(self.port), *flags]
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(cmd, cwd=PROJECT, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env={**os.environ, **(env or {})})
        if wait:
            self.wait_ready()

    def wait_ready(self, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:     # ready: it answers a query (so a query worker has started)
                if requests.get(self.url + "/sparql", params={"query": "ASK {}"},
                                timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready within {deadline_s} s:\n{self.output()}")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()

    # --- talking to it -------------------------------------------------------------------
    def sparql(self, query: str, accept: str | None = None, **params: str) -> requests.Response:
        headers = {"Accept": accept} if accept else {}
        return requests.get(self.url + "/sparql", params={"query": query, **params},
                            headers=headers, timeout=60)

    def select(self, query: str, **params: str) -> list[dict[str, str]]:
        """Rows of a SELECT as {variable: lexical value}; fails loudly on an error status."""
        response = self.sparql(query, accept="application/sparql-results+json", **params)
        assert response.status_code == 200, response.text
        return [{k: v["value"] for k, v in row.items()}
                for row in response.json()["results"]["bindings"]]

    def ask(self, query: str, **params: str) -> bool:
        response = self.sparql(query, **params)
        assert response.status_code == 200, response.text
        return response.json()["boolean"]


class LoopbackListener:
    """A TCP listener on 127.0.0.1 that records every connection and, for HTTP requests, the
    path; it answers with one empty SPARQL solution, so that a query engine that reached it
    carries on evaluating. Used to see whether anything contacted loopback."""

    ANSWER = (b'{"head":{"vars":[]},"results":{"bindings":[{}]}}')

    def __init__(self):
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.paths: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                self._answer(conn)
            except OSError:
                pass
            finally:
                conn.close()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace").split(" ")
        if len(line) >= 2 and line[0].isalpha():
            self.paths.append(line[1].split("?", 1)[0])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                     b"Content-Length: " + str(len(self.ANSWER)).encode() +
                     b"\r\nConnection: close\r\n\r\n" + self.ANSWER)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


# --- the processes of a server ---------------------------------------------------------------
def parent_of(pid: int) -> int | None:
    """The parent's process id (None once the process is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def cmdline(pid: int) -> list[bytes]:
    """A process's arguments ([] once it is gone, or for a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return []


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := parent_of(int(entry.name))) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    children, found, todo = _children_map(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def query_workers(server: "Server") -> list[int]:
    """Process ids of the server's query workers (interpreters named tdkg-query-worker)."""
    return [pid for pid in descendants(server.process.pid)
            if b"tdkg-query-worker" in cmdline(pid)]


def process_rss(pid: int) -> int:
    """Resident memory of one process in bytes (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(server: "Server") -> int:
    """Resident memory of the server and all its descendants, in bytes."""
    return sum(process_rss(pid) for pid in [server.process.pid, *descendants(server.process.pid)])
