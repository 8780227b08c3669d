"""One request at a time, alternating: the same aggregate sent to TDKG over the Oxigraph server
(repeated with ``Cache-Control: no-cache``, and with a new comment each time) and to the
Oxigraph server's own endpoint, so that drift in the store's speed between rounds falls on all
three alike. Prints each one's latencies and medians; asserts nothing.

    .venv/bin/python bench/alternate.py [--keep-build /var/tmp/tdkg-scale-out-1m] [--rounds 25]
                                        [--pin]

It reuses what ``bench/scale_out.py --keep-build`` prepared: the build's state folder and the
Oxigraph server's store loaded with it (started read-only here, on loopback, and stopped).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import loadgen  # noqa: E402
import run as bench_run  # noqa: E402
import servers  # noqa: E402

from tdkg.stores import graphnames as names  # noqa: E402

ACCEPT = {"Accept": "application/sparql-results+json"}


def timed(url: str, params: dict, headers: dict) -> float:
    began = time.perf_counter()
    response = requests.get(url, params=params, headers={**ACCEPT, **headers}, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-build", type=Path, default=Path("/var/tmp/tdkg-scale-out-1m"))
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--pin", action="store_true",
                        help="the store on CPU 1 and TDKG on CPU 0 (taskset), the client free")
    args = parser.parse_args()
    pin_store, pin_tdkg = (["taskset", "-c", "1"], ["taskset", "-c", "0"]) if args.pin \
        else ([], [])
    kept = args.keep_build
    build = json.loads((kept / "oxigraph-server" / "loaded.json").read_text())["build"]
    store_port, tdkg_port = servers.free_port(), servers.free_port()
    store = f"http://127.0.0.1:{store_port}"
    tdkg = f"http://127.0.0.1:{tdkg_port}/sparql"
    env = {**os.environ, "TDKG_STORE": "sparql", "TDKG_STORE_URL": store + "/query",
           "TDKG_STORE_UPDATE_URL": store + "/update", "TDKG_STORE_GRAPH_URL": store + "/store"}
    with tempfile.TemporaryDirectory(prefix="tdkg-alternate-") as logs, \
            contextlib.ExitStack() as stack:
        stack.enter_context(servers.serving(
            [*pin_store, str(PROJECT_DIR / ".venv/bin/oxigraph"), "serve-read-only",
             "--location", str(kept / "oxigraph-server" / "oxigraph"),
             "--bind", f"127.0.0.1:{store_port}"],
            loadgen.query_url(store + "/query", "ASK {}"), Path(logs) / "store.log", 120))
        stack.enter_context(servers.serving(
            [*pin_tdkg, str(PROJECT_DIR / ".venv/bin/tdkg"), "serve", "--no-build",
             "--state-dir", str(kept / "tdkg-state"), "--host", "127.0.0.1",
             "--port", str(tdkg_port)],
            loadgen.query_url(tdkg, "ASK {}"), Path(logs) / "tdkg.log", 120, env=env))
        query = bench_run.QUERIES["aggregate"][0]
        own = {"query": query, "default-graph-uri": names.stored(build, "")}
        kinds = {
            "TDKG, repeated (no-cache)": lambda i: timed(tdkg, {"query": query},
                                                         {"Cache-Control": "no-cache"}),
            "the Oxigraph server": lambda i: timed(store + "/query", own, {}),
            "TDKG, a new text each time": lambda i: timed(
                tdkg, {"query": f"{query}\n# {i} {time.time_ns()}"}, {}),
        }
        for run in kinds.values():          # warm both
            run(-1)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(args.rounds):
            for name, run in kinds.items():
                times[name].append(run(i) * 1000)
        for name, found in times.items():
            print(f"{name:28} median {statistics.median(found):6.0f} ms   "
                  f"{' '.join(f'{v:.0f}' for v in sorted(found))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
