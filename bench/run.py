"""Benchmark the TDKG SPARQL endpoint against the Oxigraph server on the same triples.

For each size: generate the synthetic data if missing (``bench/generate.py``), build the TDKG
store (``tdkg build --skip-validation --no-owl-files --no-downloads``) and two Oxigraph stores
(``oxigraph load``): one of the data alone (the earlier comparison) and one of exactly TDKG's
default graph (ontology + asserted + inferred, dumped from the TDKG store: the fair anchor, so
that endpoint cost and data size are told apart). Start ``tdkg serve`` and two ``oxigraph
serve-read-only`` on free loopback ports, probe every workload once on every target (HTTP 200,
non-empty JSON, same row count), then load each target in turn (never two at once) for every
workload × concurrency, in interleaved rounds, and print a table with the ratios against both.
Workloads: a repeated cheap query and aggregate (TDKG through its answer cache and with
``Cache-Control: no-cache``), and their ``-distinct`` variants, where every request is a query
text never sent before. The TDKG server's memory (every process) is sampled idle and after
each of its runs.

Figures go to ``bench/results/<size>.json``.  ``--reference-only`` measures Oxigraph twice
instead (an A/A run: the ratio shows the noise of the method) and writes
``<size>-reference.json``.

Usage::

    python bench/run.py --size 100k [--size 10k ...|--size all] [--duration 10] [--warmup 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402  (sibling module)
import loadgen  # noqa: E402
import servers  # noqa: E402
from loadgen import SPARQL_JSON, Target  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent          # holds ontology/, which `tdkg build` adds to the data
VENV_BIN = Path(sys.executable).parent
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}

CHEAP = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 10"
AGGREGATE = ("PREFIX tdkg: <https://w3id.org/tdkg/ontology#> "
             "SELECT ?supplier (COUNT(?a) AS ?deals) "
             "WHERE { ?a a tdkg:ArmsDeal ; tdkg:supplier ?supplier } "
             "GROUP BY ?supplier ORDER BY DESC(?deals)")
#: workload → (query, whether every target must return the very same solutions, whether each
#: request is a query text never sent before: the query plus a unique comment line)
QUERIES = {"cheap": (CHEAP, False, False), "cheap-distinct": (CHEAP, False, True),
           "aggregate": (AGGREGATE, True, False), "aggregate-distinct": (AGGREGATE, True, True)}

#: the issue's throughput targets (TDKG / the Oxigraph server on TDKG's complete graph), at
#: 100k and 1M triples, concurrency 1 and 8: (workload, TDKG target) → ratio
GOALS = {("aggregate-distinct", "tdkg"): 0.9, ("cheap-distinct", "tdkg"): 0.5,
         ("cheap", "tdkg-cache"): 1.0}
GOAL_SIZES = ("100k", "1m")
#: before each run, wait (bounded) until the machine's CPUs are at most this busy
QUIET_BUSY_PCT = 15.0
#: the anchor the ratios are taken against, and the older comparison kept beside it
ANCHOR, DATA_ONLY = "oxigraph-full", "oxigraph"


@dataclass(frozen=True)
class Endpoints:
    """Where the running servers answer SPARQL queries."""

    oxigraph: str
    tdkg: str | None
    oxigraph_full: str | None = None    # the Oxigraph server on TDKG's complete default graph


# --- preparation --------------------------------------------------------------------------------

def ensure_data(size: str, data_dir: Path) -> tuple[Path, int, float | None]:
    """The data file of a size (generated if missing), its triple count, generation time."""
    path = data_dir / f"{size}.nt"
    started = time.monotonic()
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate.generate_file(SIZES[size], path)
        elapsed: float | None = time.monotonic() - started
    else:
        elapsed = None
    with path.open("rb") as f:
        return path, sum(1 for _ in f), elapsed


def load_oxigraph(oxigraph: str, data: Path, work: Path, timeout_s: float) -> float:
    """Load the data into a fresh Oxigraph store (default graph); return seconds."""
    cmd = [oxigraph, "load", "--location", str(work / "oxigraph"), "--file", str(data)]
    return servers.run_step(cmd, work / "oxigraph-load.log", timeout_s)


def build_tdkg(tdkg: str, data: Path, work: Path, timeout_s: float) -> float:
    """Build the TDKG store from a directory holding only the data file; return seconds. The
    build leaves out what the endpoint does not serve here (SHACL, RDF/XML files, downloads)."""
    data_dir = work / "tdkg-data"
    data_dir.mkdir()
    os.symlink(data, data_dir / data.name)
    cmd = [tdkg, "build", "--project-dir", str(PROJECT_DIR), "--data-dir", str(data_dir),
           "--state-dir", str(work / "tdkg-state"), "--skip-validation", "--no-owl-files",
           "--no-downloads"]
    return servers.run_step(cmd, work / "tdkg-build.log", timeout_s)


DUMP_DEFAULT_GRAPH = """import sys, pyoxigraph as ox
store = ox.Store.read_only(sys.argv[1])
store.dump(sys.argv[2], format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
"""


def load_complete_graph(oxigraph: str, work: Path, timeout_s: float) -> float:
    """The fair anchor: write TDKG's default graph (ontology + asserted + inferred, as the
    endpoint answers from it) to N-Triples and load exactly those triples into a second Oxigraph
    store; return seconds of the load."""
    store = (work / "tdkg-state" / "current").resolve() / "store"
    dump = work / "tdkg-complete.nt"
    servers.run_step([sys.executable, "-c", DUMP_DEFAULT_GRAPH, str(store), str(dump)],
                     work / "tdkg-dump.log", timeout_s)
    cmd = [oxigraph, "load", "--location", str(work / "oxigraph-full"), "--file", str(dump)]
    return servers.run_step(cmd, work / "oxigraph-full-load.log", timeout_s)


def prepare(args: argparse.Namespace, data: Path, work: Path) -> dict[str, float]:
    """Build the stores; return the timings and store sizes."""
    out = {"oxigraph_load_s": load_oxigraph(args.oxigraph, data, work, args.build_timeout)}
    out["oxigraph_store_mb"] = servers.dir_size_bytes(work / "oxigraph") / 2**20
    if not args.reference_only:
        out["tdkg_build_s"] = build_tdkg(args.tdkg, data, work, args.build_timeout)
        out["tdkg_store_mb"] = servers.dir_size_bytes(work / "tdkg-state") / 2**20
        out["oxigraph_full_load_s"] = load_complete_graph(args.oxigraph, work,
                                                          args.build_timeout)
        out["oxigraph_full_store_mb"] = servers.dir_size_bytes(work / "oxigraph-full") / 2**20
        with (work / "tdkg-complete.nt").open("rb") as f:
            out["complete_triples"] = sum(1 for _ in f)
    return out


# --- servers ------------------------------------------------------------------------------------

def start_oxigraph(args: argparse.Namespace, work: Path, stack: ExitStack,
                   name: str = "oxigraph") -> tuple[str, float]:
    """Start a read-only Oxigraph server on ``work/name``; return its query endpoint and
    start-up time."""
    port = servers.free_port()
    base = f"http://{servers.LOOPBACK}:{port}"
    cmd = [args.oxigraph, "serve-read-only", "--location", str(work / name),
           "--bind", f"{servers.LOOPBACK}:{port}"]
    ready = loadgen.query_url(f"{base}/query", "ASK {}")
    startup = stack.enter_context(
        servers.serving(cmd, ready, work / f"{name}-serve.log", args.ready_timeout))
    return f"{base}/query", startup


def start_tdkg(args: argparse.Namespace, work: Path, stack: ExitStack,
               started: list) -> tuple[str, float]:
    """Start the TDKG server on the built store; return its endpoint and start-up time."""
    port = servers.free_port()
    base = f"http://{servers.LOOPBACK}:{port}"
    cmd = [args.tdkg, "serve", "--project-dir", str(PROJECT_DIR), "--no-build",
           "--state-dir", str(work / "tdkg-state"), "--host", servers.LOOPBACK, "--port", str(port)]
    startup = stack.enter_context(
        servers.serving(cmd, f"{base}/healthz", work / "tdkg-serve.log", args.ready_timeout,
                        started))
    return f"{base}/sparql", startup


def start_servers(args: argparse.Namespace, work: Path, stack: ExitStack,
                  timings: dict[str, float], started: list) -> Endpoints:
    """Start the servers (stopped when `stack` closes); record their start-up times. The TDKG
    server's process lands in ``started``."""
    oxigraph, timings["oxigraph_startup_s"] = start_oxigraph(args, work, stack)
    if args.reference_only:
        return Endpoints(oxigraph, None)
    full, timings["oxigraph_full_startup_s"] = start_oxigraph(args, work, stack, "oxigraph-full")
    tdkg, timings["tdkg_startup_s"] = start_tdkg(args, work, stack, started)
    return Endpoints(oxigraph, tdkg, full)


def targets_for(endpoints: Endpoints, name: str) -> list[Target]:
    """The anchor (Oxigraph on TDKG's complete graph) first, Oxigraph on the data alone, then
    TDKG: for a repeated query through its cache and with ``no-cache``; for a distinct-query
    workload as a client sends it (every request misses the cache anyway). A/A: Oxigraph twice."""
    query, _, distinct = QUERIES[name]
    accept = {"Accept": SPARQL_JSON}
    oxigraph = Target(DATA_ONLY, loadgen.query_url(endpoints.oxigraph, query), accept, distinct)
    if endpoints.tdkg is None:
        return [oxigraph, Target("oxigraph-again", oxigraph.url, accept, distinct)]
    full = Target(ANCHOR, loadgen.query_url(endpoints.oxigraph_full, query), accept, distinct)
    url = loadgen.query_url(endpoints.tdkg, query)
    if distinct:
        return [full, oxigraph, Target("tdkg", url, accept, True)]
    return [full, oxigraph, Target("tdkg-cache", url, accept),
            Target("tdkg-no-cache", url, {**accept, "Cache-Control": "no-cache"})]


# --- verification -------------------------------------------------------------------------------

def canonical(bindings: list[dict]) -> list[tuple]:
    """An order-free, comparable form of a result's solutions."""
    def term(t: dict) -> tuple:
        return t["type"].replace("typed-literal", "literal"), t["value"], \
            t.get("datatype", ""), t.get("xml:lang", "")
    return sorted(tuple(sorted((v, term(t)) for v, t in row.items())) for row in bindings)


CACHE_HEADERS = ("cache-control", "age", "etag", "x-cache", "x-tdkg-cache", "last-modified")


def verify_query(name: str, endpoints: Endpoints) -> dict[str, object]:
    """Probe one query on every target: 200, non-empty, same rows (and solutions) as Oxigraph."""
    query, deterministic, _ = QUERIES[name]
    rows: dict[str, int] = {}
    solutions, headers = {}, {}
    for target in targets_for(endpoints, name):
        bindings, hdrs = loadgen.probe(target)
        if not bindings:
            raise RuntimeError(f"{target.server}: empty result for query {name!r}")
        rows[target.server] = len(bindings)
        solutions[target.server] = canonical(bindings)
        headers[target.server] = {k: v for k, v in hdrs.items() if k.lower() in CACHE_HEADERS}
    same_rows = len(set(rows.values())) == 1
    same = len({repr(s) for s in solutions.values()}) == 1 if deterministic else None
    return {"rows": rows, "same_rows": same_rows, "same_solutions": same, "headers": headers}


def verify(endpoints: Endpoints) -> dict[str, dict]:
    """Verify every query and print one line per query."""
    checks = {name: verify_query(name, endpoints) for name in QUERIES}
    for name, c in checks.items():
        flag = "OK" if c["same_rows"] and c["same_solutions"] is not False else "MISMATCH"
        rows = ", ".join(f"{k}={v}" for k, v in c["rows"].items())
        print(f"check {name:<10} rows: {rows}; identical solutions: "
              f"{c['same_solutions']} -> {flag}", flush=True)
    return checks


# --- load ---------------------------------------------------------------------------------------

def spread(values: list[float]) -> float:
    """(max - min) / median of repeated figures, in percent."""
    mid = statistics.median(values)
    return 100.0 * (max(values) - min(values)) / mid if mid else 0.0


def summarise(server: str, query: str, connections: int,
              runs: list[loadgen.Measurement]) -> dict:
    """Median figures over the repeated runs of one target (all runs' req/s kept)."""
    median = statistics.median
    return {"server": server, "query": query, "concurrency": connections,
            "client": runs[0].client, "rps": round(median([m.rps for m in runs]), 2),
            "p50_ms": round(median([m.p50_ms for m in runs]), 3),
            "p99_ms": round(median([m.p99_ms for m in runs]), 3),
            "spread_pct": round(spread([m.rps for m in runs]), 1),
            "max_background_busy_pct": max(m.background_busy_pct for m in runs),
            "requests": sum(m.requests for m in runs), "errors": sum(m.errors for m in runs),
            "non2xx": sum(m.non2xx for m in runs), "runs": [m.as_dict() for m in runs]}


def measure_cell(args: argparse.Namespace, client: str, targets: list[Target], query: str,
                 connections: int, sample=None) -> list[dict]:
    """Repeat the targets in interleaved rounds (A B C, A B C, ...), one load at a time."""
    runs: dict[str, list[loadgen.Measurement]] = {t.server: [] for t in targets}
    for round_no in range(1, args.repeat + 1):
        for t in targets:
            background = servers.wait_quiet(QUIET_BUSY_PCT, args.quiet_timeout)
            m = loadgen.measure(client, t, connections, args.duration, args.warmup)
            runs[t.server].append(replace(m, background_busy_pct=round(background, 1)))
            if sample is not None and t.server.startswith("tdkg"):
                sample()
            print(f"  round {round_no}: {t.server:<15} {query:<10} c={connections:<2} "
                  f"{m.rps:>9.1f} req/s  p50 {m.p50_ms:.2f} ms  p99 {m.p99_ms:.2f} ms  "
                  f"(CPU busy before: {background:.0f}%)", flush=True)
    rows = [summarise(server, query, connections, ms) for server, ms in runs.items()]
    base = rows[0]["rps"]
    data_only = next((r["rps"] for r in rows if r["server"] == DATA_ONLY), None)
    for row in rows:
        row["ratio"] = round(row["rps"] / base, 3) if base else None
        row["ratio_data"] = round(row["rps"] / data_only, 3) if data_only else None
    return rows


def measure_all(args: argparse.Namespace, client: str, endpoints: Endpoints,
                sample=None) -> list[dict]:
    """Every workload × concurrency; ratios are against the first target (the anchor).
    ``sample`` is called right after each TDKG run (memory under load)."""
    rows = []
    for name in args.workload:
        for connections in args.concurrency:
            rows += measure_cell(args, client, targets_for(endpoints, name), name, connections,
                                 sample)
    return rows


HEADER = (f"{'server':<15} {'workload':<19} {'conc':>4} {'req/s':>10} {'spread':>7} "
          f"{'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'x full':>6} {'x data':>6}")


def format_row(r: dict) -> str:
    """One line of the results table: ratios against the anchor and against data-only."""
    ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
    data = f"{r['ratio_data']:.2f}" if r.get("ratio_data") is not None else "-"
    return (f"{r['server']:<15} {r['query']:<19} {r['concurrency']:>4} {r['rps']:>10.1f} "
            f"{r['spread_pct']:>6.0f}% {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} "
            f"{r['errors'] + r['non2xx']:>7} {ratio:>6} {data:>6}"
            f"{' *' if r['max_background_busy_pct'] > QUIET_BUSY_PCT else ''}")


def goals(size: str, results: list[dict]) -> list[dict]:
    """The issue's targets, for every concurrency, against the anchor (the Oxigraph server on
    the same triples); binding at 100k and 1M."""
    out = []
    for r in results:
        goal = GOALS.get((r["query"], r["server"]))
        if goal is not None:
            out.append({"server": r["server"], "query": r["query"], "ratio": r["ratio"],
                        "concurrency": r["concurrency"], "goal": goal,
                        "met": r["ratio"] is not None and r["ratio"] >= goal,
                        "binding": size in GOAL_SIZES})
    return out


def memory(started: list) -> dict[str, int]:
    """RSS of the TDKG server's processes now: each, and the total, in bytes."""
    if not started:
        return {}
    processes = servers.tree_rss(started[0].pid)
    return {"total": sum(processes.values()), **processes}


# --- report -------------------------------------------------------------------------------------

def machine() -> dict[str, object]:
    """The hardware and software the figures were measured on."""
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def tool_version(cmd: list[str]) -> str:
    """First line a tool prints about its version ('' if it cannot be run)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def write_json(report: dict, path: Path) -> None:
    """Write the report atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)


def print_summary(report: dict) -> None:
    """The results table of one size, then the goals."""
    print(f"\n== {report['size']} ({report['triples']} triples), client {report['client']}, "
          f"median of {report['repeat']} x {report['duration_s']:g}s runs, each after "
          f"{report['warmup_s']:g}s warm-up ==")
    print(HEADER)
    for r in report["results"]:
        print(format_row(r))
    if any(r["max_background_busy_pct"] > QUIET_BUSY_PCT for r in report["results"]):
        print(f"* other processes kept the CPUs more than {QUIET_BUSY_PCT:g}% busy just before "
              "at least one run of this row; treat it with care")
    for g in report["goals"]:
        scope = "" if g["binding"] else " (goal is defined at 100k and 1M)"
        print(f"goal {g['query']} c={g['concurrency']} {g['server']}: {g['ratio']} "
              f">= {g['goal']}? {'met' if g['met'] else 'NOT met'}{scope}")
    for when, figures in report.get("memory", {}).items():
        if figures:
            print(f"TDKG server memory {when}: {figures['total'] / 2**20:.0f} MB in "
                  f"{len(figures) - 1} processes")
    print("timings: " + ", ".join(f"{k}={v:.2f}" for k, v in report["timings"].items()), flush=True)


# --- driver -------------------------------------------------------------------------------------

def bench_size(args: argparse.Namespace, size: str, client: str) -> dict:
    """Generate, build, serve, verify and measure one size; servers stop in every case."""
    data, triples, gen_s = ensure_data(size, args.data_dir)
    with tempfile.TemporaryDirectory(prefix=f"tdkg-bench-{size}-") as tmp:
        work = Path(tmp)
        timings = prepare(args, data, work)
        if gen_s is not None:
            timings["generate_s"] = gen_s
        started: list = []
        with ExitStack() as stack:
            endpoints = start_servers(args, work, stack, timings, started)
            time.sleep(2)
            idle = memory(started)
            checks = verify(endpoints)
            peak: dict = {}

            def sample() -> None:
                now = memory(started)
                if now and now["total"] > peak.get("total", 0):
                    peak.clear()
                    peak.update(now)
            results = measure_all(args, client, endpoints, sample)
            loaded = peak
    return {"size": size, "triples": triples, "data": str(data), "client": client,
            "reference_only": args.reference_only, "duration_s": args.duration,
            "repeat": args.repeat,
            "warmup_s": args.warmup, "queries": {k: q for k, (q, _, _) in QUERIES.items()},
            "workloads": args.workload, "memory": {"idle": idle, "largest right after a load": loaded},
            "timings": {k: round(v, 3) for k, v in timings.items()}, "checks": checks,
            "results": results, "goals": goals(size, results), "machine": machine(),
            "tdkg_env": {k: v for k, v in os.environ.items() if k.startswith("TDKG_")},
            "versions": {"oxigraph": tool_version([args.oxigraph, "--version"]),
                         "wrk": tool_version(["wrk", "-v"]) if client == "wrk" else ""},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def default_tool(name: str) -> str:
    """A tool from this interpreter's venv, else from PATH, else the bare name."""
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else shutil.which(name) or name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line options."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", action="append", choices=[*SIZES, "all"],
                    help="data size (repeatable; default 10k)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded warm-up")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--workload", nargs="+", choices=list(QUERIES), default=list(QUERIES),
                    help="which workloads to run (default: all)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="interleaved rounds per query x concurrency; medians are reported")
    ap.add_argument("--quiet-timeout", type=float, default=30.0,
                    help="max seconds to wait before each run for other CPU load to settle")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--reference-only", action="store_true",
                    help="measure Oxigraph twice (A/A) instead of TDKG vs Oxigraph")
    ap.add_argument("--ready-timeout", type=float, default=300.0, help="server start deadline (s)")
    ap.add_argument("--build-timeout", type=float, default=3600.0, help="per build step (s)")
    ap.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    ap.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    ap.add_argument("--tdkg", default=default_tool("tdkg"))
    ap.add_argument("--oxigraph", default=default_tool("oxigraph"))
    args = ap.parse_args(argv)
    sizes = args.size or ["10k"]
    args.size = list(SIZES) if "all" in sizes else list(dict.fromkeys(sizes))
    return args


def stop_on_sigterm() -> None:
    """Turn SIGTERM (e.g. from `timeout`) into SystemExit so that every server is stopped."""
    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    """Run every requested size; exit 1 if a check failed."""
    stop_on_sigterm()
    args = parse_args(argv)
    client = loadgen.choose_client(args.client)
    print(f"load generator: {client}", flush=True)
    ok = True
    for size in args.size:
        report = bench_size(args, size, client)
        suffix = "-reference" if args.reference_only else ""
        write_json(report, args.results_dir / f"{size}{suffix}.json")
        print_summary(report)
        ok &= all(c["same_rows"] and c["same_solutions"] is not False
                  for c in report["checks"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
