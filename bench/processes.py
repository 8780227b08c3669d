"""Where a request's CPU goes: per process, under one wrk load, for a served TDKG and for the
Oxigraph server on the same triples.

For each target, the script starts the server on loopback, warms it up, runs wrk for
``--duration`` seconds and reads, before and after, each process's CPU time (``/proc/PID/stat``)
and what it read through system calls (``rchar`` and ``syscr`` of ``/proc/PID/io``: RocksDB's
block reads come from the page cache, so they show there, not as disk reads). It prints them per
request with each process's role and its RSS after the load, then stops the server. It asserts
nothing; ``--rounds`` alternates the targets so that drift in the machine falls on all alike.
A process's counters include those of the children it has reaped: at c=8 the HTTP worker's
reads are mostly the query workers stopped when wrk closed its connections, and their CPU is
in no row.

    .venv/bin/python bench/processes.py --state /tmp/s100k/state \\
        --oxigraph-store /tmp/s100k/full --workload aggregate-distinct --concurrency 1 8

``--state`` is a state folder built by ``tdkg build`` (as ``bench/run.py`` builds it);
``--oxigraph-store`` an Oxigraph store loaded with TDKG's default graph (``run.py``'s anchor).
``--tdkg-flag`` passes a flag to ``tdkg serve`` (repeatable: ``--tdkg-flag=--allocator=system``).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import loadgen  # noqa: E402
import servers  # noqa: E402
from run import QUERIES  # noqa: E402

VENV_BIN = Path(sys.executable).parent
HZ = os.sysconf("SC_CLK_TCK")


def _session(sid: int) -> dict[int, tuple[int, int, int, str]]:
    """Every process of session ``sid``: (CPU ticks, rchar, syscr, command line)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getsid(pid) != sid:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            io = dict(line.split(": ") for line in (entry / "io").read_text().splitlines())
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:70]
        except (OSError, ValueError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12]), int(io["rchar"]), int(io["syscr"]), cmd)
    return out


def measure(name: str, cmd: list[str], endpoint: str, args, workdir: Path) -> None:
    query, _, distinct = QUERIES[args.workload]
    started: list = []
    with servers.serving(cmd, endpoint + "?query=ASK%7B%7D", workdir / f"{name}.log", 60,
                         started):
        proc = started[0]
        for conc in args.concurrency:
            target = loadgen.Target(name, loadgen.query_url(endpoint, query),
                                    {"Accept": "application/sparql-results+json"}, distinct)
            loadgen.run_wrk(target, conc, args.warmup)
            before = _session(proc.pid)
            m = loadgen.run_wrk(target, conc, args.duration)
            after = _session(proc.pid)
            rss = {int(key.split()[0]): size for key, size in servers.tree_rss(proc.pid).items()}
            n = max(1, m.requests)
            print(f"{name:9s} {args.workload} c={conc}: {m.requests / m.duration_s:8.1f} req/s, "
                  f"p50 {m.p50_ms:.2f} ms, errors {m.errors + m.non2xx}")
            total = 0.0
            for pid, (ticks, rchar, syscr, cmd_line) in sorted(after.items()):
                t0, r0, s0, _ = before.get(pid, (0, 0, 0, ""))
                cpu_ms = 1000 * (ticks - t0) / HZ / n
                total += cpu_ms
                read_mb, calls = (rchar - r0) / n / 1e6, (syscr - s0) / n
                print(f"    {pid:7d} CPU {cpu_ms:8.2f} ms/req  read {read_mb:7.2f} MB/req "
                      f"in {calls:7.0f} calls  RSS {rss.get(pid, 0) // 2**20:4d} MiB  {cmd_line}")
            print(f"    all       CPU {total:8.2f} ms/req")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--oxigraph-store", type=Path)
    parser.add_argument("--workload", choices=sorted(QUERIES), default="aggregate-distinct")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tdkg-flag", action="append", default=[])
    args = parser.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    for _ in range(max(1, min(args.rounds, 20))):
        port = servers.free_port()
        base = f"http://{servers.LOOPBACK}:{port}"
        measure("tdkg", [str(VENV_BIN / "tdkg"), "serve", "--project-dir", str(PROJECT_DIR),
                         "--no-build", "--state-dir", str(args.state), "--host", servers.LOOPBACK,
                         "--port", str(port), *args.tdkg_flag], base + "/sparql", args,
                workdir)
        if args.oxigraph_store is not None:
            port = servers.free_port()
            base = f"http://{servers.LOOPBACK}:{port}"
            measure("oxigraph", [str(VENV_BIN / "oxigraph"), "serve-read-only", "--location",
                                 str(args.oxigraph_store), "--bind", f"{servers.LOOPBACK}:{port}"],
                    base + "/query", args, workdir)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
