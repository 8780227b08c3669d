"""What the HTTP server costs: TDKG's own app served by gunicorn (``tdkg serve``) and by granian
(a Rust HTTP server for Python apps), beside the Oxigraph server on the very same store; and
whether granian keeps the bounds that gunicorn gives every request.

Why it exists: the cheap-query targets of issue 13 (a cached cheap query at least as fast as the
Oxigraph server, a new cheap query at half its speed) are set by the HTTP layer, not the engine:
``bench/README.md`` found most of an uncached cheap request's CPU in gunicorn's Python HTTP
parsing and thread hand-offs. This script measures how far a server whose parsing and connection
handling are in Rust would take the same app, and probes what such a server would have to keep:

* **speed**: the cheap query cached (the replay cache answers it) and with
  ``Cache-Control: no-cache`` (the query runs in a query worker every time), at each concurrency,
  in interleaved rounds (gunicorn, granian, Oxigraph, then again), wrk for ``--duration`` s;
* **a body that never arrives**: a POST to ``/sparql`` that announces 5 bytes and sends 3; with
  ``--timeout`` seconds set as the request timeout, does the server answer (408) or close the
  connection within twice that, or does it hold the connection and a thread?

* **granian's own interface (RSGI)**, where the app reads the body and writes the answer
  itself: a small probe app (not TDKG's) checks whether the app can cut a body that never
  arrives at its own deadline, hear that a client left, and stop writing to a client that reads
  nothing (does ``send_bytes`` wait for the client, or buffer the whole answer in memory?).

Nothing is asserted; it prints a table. granian is not a dependency of TDKG: install it into the
venv first (``pip install granian``).

    .venv/bin/python bench/http_servers.py --state /tmp/gx/state --rounds 3

``--state`` is a state folder built by ``tdkg build`` (the seed build is enough: the cheap query
reads ten triples, so the data's size hardly matters).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import loadgen  # noqa: E402
import servers  # noqa: E402
from run import CHEAP  # noqa: E402

VENV_BIN = Path(sys.executable).parent
#: the module granian imports: TDKG's app factory with the settings `tdkg serve` would use
GRANIAN_APP = textwrap.dedent("""\
    import logging, os, sys
    from tdkg.server.runner import ACCESS_FORMAT
    from tdkg.settings import load_settings
    from tdkg.server.app import create_app

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=ACCESS_FORMAT)
    app = create_app(load_settings({"state_dir": os.environ["BENCH_STATE"],
                                    "timeout": os.environ["BENCH_TIMEOUT"]}))
""")
#: the RSGI probe: /body reads a body under a deadline, /big streams STREAM_MIB to the client,
#: /gone waits for the client to leave; each writes what happened to its log
RSGI_PROBE = textwrap.dedent("""\
    import asyncio, time

    def note(text):
        with open(%r, "a") as out:
            out.write(text + "\\n")

    class Probe:
        async def __rsgi__(self, scope, proto):
            if scope.path == "/body":
                started, chunks = time.monotonic(), proto.__aiter__()
                try:
                    while True:
                        await asyncio.wait_for(chunks.__anext__(), 3 - (time.monotonic() - started))
                except StopAsyncIteration:
                    proto.response_bytes(200, [], b"")
                except asyncio.TimeoutError:
                    proto.response_bytes(408, [], b"")
            elif scope.path == "/big":
                stream, chunk = proto.response_stream(200, []), b"y" * 2**20
                started = time.monotonic()
                for i in range(%d):
                    try:
                        await asyncio.wait_for(stream.send_bytes(chunk), 2)
                    except asyncio.TimeoutError:
                        note(f"big: send_bytes waited for the client after {i} MiB")
                        return
                note(f"big: all {i + 1} MiB handed over in {time.monotonic() - started:.2f} s")
            elif scope.path == "/gone":
                try:
                    await asyncio.wait_for(proto.client_disconnect(), 10)
                    note("gone: the app heard that the client left")
                except asyncio.TimeoutError:
                    note("gone: nothing heard in 10 s")
                proto.response_bytes(200, [], b"")

    app = Probe()
""")
STREAM_MIB = 300
CASES = (("cached", {}), ("no-cache", {"Cache-Control": "no-cache"}))


def commands(args, workdir: Path) -> dict[str, tuple[list[str], str, dict | None]]:
    """Each server's command line, SPARQL endpoint and environment, on a free port."""
    out = {}
    port = servers.free_port()
    out["gunicorn"] = ([str(VENV_BIN / "tdkg"), "serve", "--project-dir", str(PROJECT_DIR),
                        "--no-build", "--state-dir", str(args.state), "--host", servers.LOOPBACK,
                        "--port", str(port), "--timeout", str(args.timeout)],
                       f"http://{servers.LOOPBACK}:{port}/sparql", None)
    port = servers.free_port()
    env = {**os.environ, "BENCH_STATE": str(args.state), "BENCH_TIMEOUT": str(args.timeout),
           "PYTHONPATH": os.pathsep.join([str(workdir), str(PROJECT_DIR)])}
    out["granian"] = ([str(VENV_BIN / "granian"), "--interface", "wsgi", "--host",
                       servers.LOOPBACK, "--port", str(port), "--workers", "1",
                       "--blocking-threads", "8", "--no-ws",
                       "--http1-header-read-timeout", str(int(args.timeout * 1000)),
                       "granian_app:app"], f"http://{servers.LOOPBACK}:{port}/sparql", env)
    port = servers.free_port()
    store = (args.state / "current").resolve() / "store"
    out["oxigraph"] = ([str(VENV_BIN / "oxigraph"), "serve-read-only", "--location", str(store),
                        "--bind", f"{servers.LOOPBACK}:{port}"],
                       f"http://{servers.LOOPBACK}:{port}/query", None)
    return out


def slow_body(endpoint: str, limit_s: float) -> str:
    """What the server does with a POST whose body never arrives in full, within ``limit_s``."""
    address, path = endpoint.split("//")[1].split("/", 1)
    host, port = address.split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=limit_s) as sock:
        sock.sendall(f"POST /{path} HTTP/1.1\r\nHost: x\r\nContent-Type: ".encode()
                     + b"application/sparql-query\r\nContent-Length: 5\r\n\r\nASK")
        try:
            data = sock.recv(200)
        except socket.timeout:
            return f"still open after {limit_s:.0f} s"
    took = time.monotonic() - started
    if not data:
        return f"closed after {took:.1f} s"
    status = data.split(b"\r\n")[0].decode(errors="replace")
    return f"{status} after {took:.1f} s"


def rsgi_probe(workdir: Path) -> list[str]:
    """Run the RSGI probe app under granian and return what it and the client saw."""
    notes = workdir / "rsgi-probe.txt"
    (workdir / "rsgi_probe.py").write_text(RSGI_PROBE % (str(notes), STREAM_MIB))
    port = servers.free_port()
    cmd = [str(VENV_BIN / "granian"), "--interface", "rsgi", "--host", servers.LOOPBACK,
           "--port", str(port), "--workers", "1", "--no-ws", "--working-dir", str(workdir),
           "rsgi_probe:app"]
    seen = []
    started: list = []
    with servers.serving(cmd, f"http://{servers.LOOPBACK}:{port}/body", workdir / "rsgi.log",
                         60, started):
        seen.append("body that never arrives, cut by the app at 3 s: "
                    + slow_body(f"http://{servers.LOOPBACK}:{port}/body", 15))
        with socket.create_connection((servers.LOOPBACK, port)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")     # and read nothing
            time.sleep(5)
            rss = sum(servers.tree_rss(started[0].pid).values())
            seen.append(f"a client that reads nothing of a {STREAM_MIB} MiB answer: granian's "
                        f"processes hold {rss / 2**20:.0f} MiB after 5 s")
        with socket.create_connection((servers.LOOPBACK, port)) as sock:
            sock.sendall(b"GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.5)
        time.sleep(1)
    return seen + (notes.read_text().splitlines() if notes.exists() else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="the request timeout given to both servers (s)")
    args = parser.parse_args()
    rates: dict[tuple, list[float]] = {}
    bounds: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tdkg-http-") as tmp:
        workdir = Path(tmp)
        (workdir / "granian_app.py").write_text(GRANIAN_APP)
        for _ in range(max(1, min(args.rounds, 20))):
            for name, (cmd, endpoint, env) in commands(args, workdir).items():
                with servers.serving(cmd, endpoint + "?query=ASK%7B%7D", workdir / f"{name}.log",
                                     60, env=env):
                    for case, headers in CASES:
                        target = loadgen.Target(name, loadgen.query_url(endpoint, CHEAP),
                                                {"Accept": loadgen.SPARQL_JSON, **headers})
                        loadgen.run_wrk(target, 1, args.warmup)
                        for conc in args.concurrency:
                            m = loadgen.run_wrk(target, conc, args.duration)
                            rates.setdefault((case, conc, name), []).append(m.rps)
                            if m.errors or m.non2xx:
                                print(f"  {name} {case} c={conc}: {m.errors} errors, "
                                      f"{m.non2xx} non-2xx", flush=True)
                    if name != "oxigraph" and name not in bounds:
                        bounds[name] = slow_body(endpoint, 2 * args.timeout + 5)
        rsgi = rsgi_probe(workdir)
    print(f"\ncheap query ({CHEAP!r}), wrk, median of {args.rounds} round(s) x "
          f"{args.duration:g} s; ratio against the Oxigraph server on the same store\n")
    print("| case | conc. | gunicorn req/s | granian req/s | Oxigraph req/s | gunicorn × | "
          "granian × |")
    print("|---|---|---|---|---|---|---|")
    for case, _ in CASES:
        for conc in args.concurrency:
            g, r, o = (statistics.median(rates[(case, conc, n)])
                       for n in ("gunicorn", "granian", "oxigraph"))
            print(f"| {case} | {conc} | {g:,.0f} | {r:,.0f} | {o:,.0f} | {g / o:.2f} | "
                  f"{r / o:.2f} |")
    print(f"\na POST whose body never arrives (5 bytes announced, 3 sent; request timeout "
          f"{args.timeout:g} s):")
    for name, what in bounds.items():
        print(f"  {name}: {what}")

    print("\ngranian's RSGI interface (the probe app):")
    for line in rsgi:
        print(f"  {line}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
