"""Load generation against one SPARQL endpoint: a correctness probe and a fixed-duration load.

Two clients, chosen explicitly and reported with every figure:

* ``wrk`` (preferred): C, event-driven, keep-alive connections; a small Lua ``done()`` hook
  prints requests, duration, error counts and latency percentiles as JSON.
* ``python``: one thread per connection, each with a keep-alive ``http.client`` connection.
  It shares the GIL, so it saturates before fast servers do; use it only when wrk is missing.

Both send a GET request (query in the URL) with the same headers on every request: the very same
request, or, for a target marked ``distinct``, the query followed by a comment line that no other
request of the whole benchmark carries (``\n#<run>-<thread>-<n>``), so that every request is a
query text the server has not seen: what an answer cache cannot help with.
"""

from __future__ import annotations

import http.client
import itertools
import json
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

SPARQL_JSON = "application/sparql-results+json"
REQUEST_TIMEOUT_S = 30.0
MAX_REQUESTS_PER_CONNECTION = 2_000_000   # hard bound for the Python client
WRK_SLACK_S = 30.0                        # extra wall time allowed to a wrk run

WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %.1f, "p99_us": %.1f, ' ..
    '"errors": %d, "non2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""

#: for a ``distinct`` target: each wrk thread numbers its requests and appends
#: "\n#<run>-<thread>-<n>" (URL-encoded) to the query
WRK_DISTINCT = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, wrk.path .. "%%0A%%23" .. "%s" .. "-" .. tid .. "-" .. n)
end
"""


@dataclass(frozen=True)
class Target:
    """One server/query/header combination to measure."""

    server: str
    url: str                       # full URL, query string included
    headers: dict[str, str] = field(default_factory=dict)
    distinct: bool = False         # a query text never sent before on every request


@dataclass(frozen=True)
class Measurement:
    """The figures of one fixed-duration load."""

    client: str
    requests: int
    duration_s: float
    errors: int
    non2xx: int
    p50_ms: float
    p99_ms: float
    background_busy_pct: float = 0.0   # CPU use of other processes just before the run

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures, requests/s included."""
        return {**asdict(self), "rps": round(self.rps, 2)}


def query_url(endpoint: str, query: str) -> str:
    """The GET URL of a SPARQL query."""
    return f"{endpoint}?{urllib.parse.urlencode({'query': query})}"


def probe(target: Target) -> tuple[list[dict], dict[str, str]]:
    """One request: require 200 and a SPARQL JSON result; return its bindings and headers."""
    parts = urllib.parse.urlsplit(target.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}", headers=target.headers)
        resp = conn.getresponse()
        body = resp.read()
        headers = dict(resp.getheaders())
    finally:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{target.server}: HTTP {resp.status}: {body[:300]!r}")
    return json.loads(body)["results"]["bindings"], headers


def choose_client(requested: str) -> str:
    """'wrk' or 'python': the requested client, 'auto' meaning wrk when it is installed."""
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if requested == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("--client wrk requested but wrk is not on PATH")
    return requested


def measure(client: str, target: Target, connections: int, duration_s: float,
            warmup_s: float) -> Measurement:
    """Warm up (result discarded), then load the target for `duration_s` seconds."""
    run = run_wrk if client == "wrk" else run_python
    if warmup_s > 0:
        run(target, connections, warmup_s)
    return run(target, connections, duration_s)


# --- wrk ----------------------------------------------------------------------------------------

def wrk_command(target: Target, connections: int, duration_s: float, script: Path) -> list[str]:
    """The wrk command line: at most 2 threads (the machine has 2 cores)."""
    cmd = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration_s:g}s",
           f"--timeout={REQUEST_TIMEOUT_S:g}s", "-s", str(script)]
    for name, value in target.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    return cmd + [target.url]


def run_wrk(target: Target, connections: int, duration_s: float) -> Measurement:
    """One wrk run; figures come from the Lua done() hook."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_REPORT)
        if target.distinct:
            f.write(WRK_DISTINCT % secrets.token_hex(6))
    try:
        out = subprocess.run(wrk_command(target, connections, duration_s, Path(f.name)),
                             capture_output=True, text=True, check=True,
                             timeout=duration_s + WRK_SLACK_S).stdout
    finally:
        Path(f.name).unlink(missing_ok=True)
    return parse_wrk(out)


def parse_wrk(stdout: str) -> Measurement:
    """The Measurement printed by the done() hook."""
    line = next((l for l in stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"no WRKJSON line in wrk output:\n{stdout}")
    r = json.loads(line.removeprefix("WRKJSON "))
    return Measurement("wrk", r["requests"], r["duration_us"] / 1e6, r["errors"], r["non2xx"],
                       r["p50_us"] / 1000, r["p99_us"] / 1000)


# --- Python fallback ----------------------------------------------------------------------------

@dataclass
class _Tally:
    """What one client thread observed."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    non2xx: int = 0


def _one_request(conn: http.client.HTTPConnection, path: str, target: Target,
                 tally: _Tally) -> None:
    """Send one GET on a keep-alive connection, read the whole body, record the latency."""
    started = time.perf_counter()
    conn.request("GET", path, headers=target.headers)
    resp = conn.getresponse()
    resp.read()
    tally.latencies.append(time.perf_counter() - started)
    if not 200 <= resp.status < 400:
        tally.non2xx += 1


def _client_loop(target: Target, deadline: float, tally: _Tally) -> None:
    """Requests back to back until the deadline (or the request bound)."""
    parts = urllib.parse.urlsplit(target.url)
    path = f"{parts.path}?{parts.query}"
    tag = secrets.token_hex(6)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_S)
    try:
        for n in itertools.islice(itertools.count(1), MAX_REQUESTS_PER_CONNECTION):
            if time.monotonic() >= deadline:
                break
            try:
                _one_request(conn, f"{path}%0A%23{tag}-{n}" if target.distinct else path,
                             target, tally)
            except (OSError, http.client.HTTPException):
                tally.errors += 1
                conn.close()  # http.client reconnects on the next request
    finally:
        conn.close()


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def run_python(target: Target, connections: int, duration_s: float) -> Measurement:
    """One load with `connections` threads, each on its own keep-alive connection."""
    tallies = [_Tally() for _ in range(connections)]
    started = time.monotonic()
    threads = [threading.Thread(target=_client_loop, args=(target, started + duration_s, t),
                                daemon=True)
               for t in tallies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration_s + REQUEST_TIMEOUT_S + 5)
    elapsed = time.monotonic() - started
    lat = sorted(x for t in tallies for x in t.latencies)
    return Measurement("python", len(lat), elapsed, sum(t.errors for t in tallies),
                       sum(t.non2xx for t in tallies), percentile(lat, 50) * 1000,
                       percentile(lat, 99) * 1000)
