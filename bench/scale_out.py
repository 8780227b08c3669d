"""Benchmark TDKG as a service layer over remote SPARQL stores (issue #14, item 6).

One run, at one size (``--size``, default 1m):

1. generate the synthetic data if missing (``bench/generate.py``) and build it **once** with
   ``tdkg build`` into an embedded state folder, with the benchmark's options (as
   ``bench/run.py``: no validation, no OWL files, no downloads);
2. start a real Virtuoso 7 and a real Oxigraph server (``tests/external_stores.py``, scratch
   data folders, 127.0.0.1) and load that same build into each (``tdkg.stores.load_build``:
   the build's graphs under ``urn:tdkg:build:<id>:…``, then publish: the control triple),
   timing each load;
3. start the targets: TDKG embedded, TDKG over Virtuoso, Virtuoso's own endpoint, TDKG over the
   Oxigraph server, the Oxigraph server's own endpoint, and HAProxy in front of one and of two
   TDKG front ends over the Oxigraph server. The stores' own endpoints are asked with
   ``default-graph-uri=urn:tdkg:build:<id>:default``, so they read exactly the triples TDKG's
   default graph holds (the ontology, asserted and inferred graphs, as the build wrote them);
4. check that every target gives the same answers, then load each target in turn (never two
   at once), for every workload x concurrency, in interleaved rounds (odd rounds in one order,
   even rounds in the reverse), and print req/s, the medians' ratios (TDKG over X / X's own
   endpoint; HAProxy with two front ends / with one) and the issue's 10 % target;
5. write ``bench/results/scale-out-<size>.json`` (after every cell, so an interrupted run keeps
   what it measured) and stop every server (also on errors, Ctrl-C and SIGTERM).

Workloads (GET, ``Accept: application/sparql-results+json``): ``cheap`` and ``aggregate`` are
``bench/run.py``'s, repeated, sent to TDKG with ``Cache-Control: no-cache`` (so every request
runs the query; the stores have no answer cache); ``cheap-distinct`` and ``aggregate-distinct``
make every request a query text never sent before (a comment line); ``mix-distinct`` alternates
the two on every connection (one cheap query, one aggregate, ...), each text new: the distinct
query mix. HAProxy is measured on the distinct workloads only (``--lb-workloads``).

Usage::

    python bench/scale_out.py --size 100k --duration 3 --warmup 1 --repeat 2
    python bench/scale_out.py                       # 1m, the issue's run
    python bench/scale_out.py --size 1m --keep-build /var/tmp/tdkg-scale-out-1m   # reuse a build
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(PROJECT_DIR / "tests"))    # external_stores: the stores the tests start

import external_stores  # noqa: E402
import loadgen  # noqa: E402
import run  # noqa: E402
import servers  # noqa: E402
from loadgen import SPARQL_JSON, Target  # noqa: E402

# --- targets and workloads ----------------------------------------------------------------------

EMBEDDED = "tdkg-embedded"
TDKG_VIRTUOSO, VIRTUOSO = "tdkg/virtuoso", "virtuoso"
TDKG_OXIGRAPH, OXIGRAPH = "tdkg/oxigraph", "oxigraph-server"
LB_ONE, LB_TWO = "haproxy-1-front", "haproxy-2-fronts"
SECOND_FRONT = "tdkg/oxigraph-2"    # the second front end behind LB_TWO (not measured alone)
TARGETS = (EMBEDDED, VIRTUOSO, TDKG_VIRTUOSO, OXIGRAPH, TDKG_OXIGRAPH, LB_ONE, LB_TWO)
TDKG_TARGETS = (EMBEDDED, TDKG_VIRTUOSO, TDKG_OXIGRAPH, LB_ONE, LB_TWO)

MIX = "mix-distinct"
WORKLOADS = ("aggregate", "aggregate-distinct", MIX, "cheap", "cheap-distinct")
LB_WORKLOADS = ("cheap-distinct", "aggregate-distinct", MIX)
#: (ratio name, numerator target, denominator target)
RATIOS = (("tdkg/virtuoso ÷ virtuoso", TDKG_VIRTUOSO, VIRTUOSO),
          ("tdkg/oxigraph ÷ oxigraph", TDKG_OXIGRAPH, OXIGRAPH),
          ("embedded ÷ oxigraph", EMBEDDED, OXIGRAPH),
          ("2 fronts ÷ 1 (haproxy)", LB_TWO, LB_ONE),
          ("haproxy 1 front ÷ direct", LB_ONE, TDKG_OXIGRAPH))
#: the issue's target: the service layer costs at most 10 % of each store's own throughput on
#: these workloads (TDKG over the store / the store's own endpoint >= 0.9)
GOAL, GOAL_WORKLOADS = 0.9, ("aggregate", "aggregate-distinct", MIX)
GOAL_PAIRS = ((TDKG_VIRTUOSO, VIRTUOSO), (TDKG_OXIGRAPH, OXIGRAPH))
#: Virtuoso's page cache per size (8 KiB buffers): its rule of thumb is 1/8 GiB per million
#: triples, and a build loads about 7 triples per data triple (the default graph's union and
#: the three named graphs)
VIRTUOSO_BUFFERS = {"10k": 65_536, "100k": 65_536, "1m": 262_144}


@dataclass(frozen=True)
class MixTarget(Target):
    """A target whose requests alternate between ``url`` and ``second_url`` (wrk only)."""

    second_url: str = ""


def store_env(store: external_stores.Store) -> dict[str, str]:
    """The settings that point `tdkg serve` (and the loader) at ``store``; credentials in the
    environment, as in production (tests/store_kinds.py does the same for the tests)."""
    return {"TDKG_STORE": "sparql", "TDKG_STORE_URL": store.query_url,
            "TDKG_STORE_UPDATE_URL": store.update_url, "TDKG_STORE_GRAPH_URL": store.gsp_url,
            "TDKG_STORE_GRAPH_PARAM": store.gsp_graph_param,
            "TDKG_STORE_AUTH": store.auth_scheme or "basic",
            "TDKG_STORE_USER": store.user or "", "TDKG_STORE_PASSWORD": store.password or ""}


def base_env() -> dict[str, str]:
    """This process's environment without any store setting (so TDKG means the embedded kind)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TDKG_STORE")}


def own_url(store_query_url: str, build: str, query: str) -> str:
    """A store's own endpoint asked ``query`` over the build's default graph. The query comes
    last: a distinct workload appends its comment line to the end of the URL."""
    graph = f"urn:tdkg:build:{build}:default"
    form = {"default-graph-uri": graph, "query": query}
    return f"{store_query_url}?{urllib.parse.urlencode(form)}"


@dataclass
class Endpoints:
    """Where each target answers: TDKG's base URLs (``…/sparql`` added) or a store's query URL."""

    build: str
    tdkg: dict[str, str]            # target name -> base URL
    stores: dict[str, str]          # target name -> query URL


def target_for(endpoints: Endpoints, name: str, workload: str) -> Target:
    """One target of one workload."""
    accept = {"Accept": SPARQL_JSON}
    if workload == MIX:
        urls = [url_of(endpoints, name, run.QUERIES[q][0]) for q in ("cheap", "aggregate")]
        return MixTarget(name, urls[0], accept, True, urls[1])
    query, _, distinct = run.QUERIES[workload]
    headers = accept if distinct or name not in TDKG_TARGETS else \
        {**accept, "Cache-Control": "no-cache"}
    return Target(name, url_of(endpoints, name, query), headers, distinct)


def url_of(endpoints: Endpoints, name: str, query: str) -> str:
    if name in endpoints.tdkg:
        return loadgen.query_url(endpoints.tdkg[name] + "/sparql", query)
    return own_url(endpoints.stores[name], endpoints.build, query)


def targets_of(args: argparse.Namespace, endpoints: Endpoints, workload: str) -> list[Target]:
    names = [t for t in args.targets if t in endpoints.tdkg or t in endpoints.stores]
    if workload not in args.lb_workloads:
        names = [t for t in names if t not in (LB_ONE, LB_TWO)]
    return [target_for(endpoints, n, workload) for n in names]


# --- preparation: one build, loaded into both stores --------------------------------------------

def git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def uncommitted() -> list[str]:
    """Tracked files changed in the working tree (what ran is the commit plus these)."""
    try:
        out = subprocess.run(["git", "-C", str(PROJECT_DIR), "status", "--porcelain",
                              "--untracked-files=no"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line[3:] for line in out.splitlines()]


def prepare_build(args: argparse.Namespace, data: Path, triples: int, work: Path) -> dict:
    """Build the data once into ``<where>/tdkg-state`` (``--keep-build`` keeps it between runs
    and reuses it when it was made from the same data file); return what was done."""
    where = args.keep_build or work
    where.mkdir(parents=True, exist_ok=True)
    state, marker = where / "tdkg-state", where / "scale-out-source.json"
    source = {"data": str(data), "triples": triples, "data_mtime": data.stat().st_mtime}
    if (state / "current").exists() and marker.exists():
        known = json.loads(marker.read_text())
        if {k: known.get(k) for k in source} == source:
            print(f"reusing the build in {state} (made by commit {known.get('commit')})",
                  flush=True)
            return {"state": state, "build_s": None, "reused": True,
                    "build_commit": known.get("commit")}
    for folder in (state, where / "tdkg-data"):      # only what this script made there
        if folder.exists():
            shutil.rmtree(folder)
    marker.unlink(missing_ok=True)
    print(f"building {data.name} into {state} ...", flush=True)
    seconds = run.build_tdkg(args.tdkg, data, where, args.build_timeout)
    commit = git_commit()
    marker.write_text(json.dumps({**source, "commit": commit}) + "\n")
    print(f"built in {seconds:.1f} s", flush=True)
    return {"state": state, "build_s": seconds, "reused": False, "build_commit": commit}


LOAD = """
import json, sys, time
from pathlib import Path
from tdkg.stores import load_build
from tdkg.stores.sparql_store import Endpoint, SparqlStore
query, update, graph, param, auth, folder = sys.argv[1:7]
store = SparqlStore(Endpoint(query, update, graph, param, auth), timeout=300)
began = time.monotonic()
sent = load_build(store, Path(folder))
loaded = time.monotonic()
store.publish(Path(folder).name)
done = time.monotonic()
print("LOADJSON " + json.dumps({"load_s": loaded - began, "publish_s": done - loaded,
                                "sent": sent, "published": store.published()}), flush=True)
"""


def load_into(store: external_stores.Store, build_dir: Path, log: Path,
              timeout_s: float) -> dict:
    """Load the built folder into ``store`` and publish it, in a child process bounded by
    ``timeout_s``; return its timings and the triples sent per graph."""
    env = {**base_env(), **store_env(store)}
    cmd = [sys.executable, "-c", LOAD, store.query_url, store.update_url, store.gsp_url,
           store.gsp_graph_param, store.auth_scheme or "basic", str(build_dir)]
    print(f"loading the build into {store.kind} ...", flush=True)
    before = round(os.getloadavg()[0], 2)
    wall = servers.run_step(cmd, log, timeout_s, env=env)
    line = next((x for x in log.read_text().splitlines() if x.startswith("LOADJSON ")), None)
    if line is None:
        raise servers.StepFailed(f"the load into {store.kind} printed no figures\n"
                                 f"{servers.log_tail(log)}")
    out = {"wall_s": round(wall, 3), "load_average_before": before,
           **json.loads(line.removeprefix("LOADJSON "))}
    if out["published"] != build_dir.name:
        raise servers.StepFailed(f"{store.kind} publishes {out['published']!r}, "
                                 f"not {build_dir.name}")
    out["triples"] = sum(out["sent"].values())
    out["triples_per_s"] = round(out["triples"] / out["load_s"]) if out["load_s"] else None
    print(f"  {store.kind}: {out['triples']:,} triples in {out['load_s']:.1f} s "
          f"({out['triples_per_s']:,}/s), publish {out['publish_s']:.2f} s", flush=True)
    return out


# --- servers ------------------------------------------------------------------------------------

def start_tdkg(args: argparse.Namespace, state: Path, work: Path, stack: ExitStack, name: str,
               started: dict, env: dict[str, str]) -> tuple[str, float]:
    """A `tdkg serve` front end on a free loopback port; its base URL and start-up time."""
    port = servers.free_port()
    base = f"http://{servers.LOOPBACK}:{port}"
    cmd = [args.tdkg, "serve", "--project-dir", str(PROJECT_DIR), "--no-build",
           "--state-dir", str(state), "--host", servers.LOOPBACK, "--port", str(port)]
    procs: list = []
    log = work / f"serve-{name.replace('/', '-')}-{port}.log"
    startup = stack.enter_context(servers.serving(cmd, f"{base}/healthz", log,
                                                  args.ready_timeout, procs, env=env))
    started[name] = procs[0].pid
    return base, round(startup, 3)


MADE_HERE = ".made-by-scale-out"


def kept_virtuoso(folder: Path, buffers: int) -> external_stores.Store:
    """Virtuoso on a database an earlier run loaded (``--keep-build``): the configuration of
    :func:`external_stores.virtuoso` with new ports, without its set-up (done when the database
    was made; reads need no credentials). The caller stops ``store.server``."""
    db_dir = folder / "virtuoso"
    http_port, sql_port = servers.free_port(), servers.free_port()
    ini = db_dir / "virtuoso.ini"
    ini.write_text(external_stores.fill(
        "virtuoso.ini.template", db_dir=db_dir, sql_port=sql_port, http_port=http_port,
        buffers=buffers, dirty_buffers=buffers * 3 // 4, buffers_mib=buffers * 8 // 1024,
        max_rows=10_000_000, max_execution_s=0, max_estimate_s=0))
    base = f"http://{servers.LOOPBACK}:{http_port}"
    server = external_stores.Process("virtuoso", [external_stores.VIRTUOSO, "+foreground",
                                                  "+configfile", str(ini)],
                                     db_dir / "stdout.log", base + "/sparql?query=ASK%7B%7D")
    server.start(deadline_s=300)
    return external_stores.Store("virtuoso", base, base + "/sparql", "", "", "", "graph-uri",
                                 None, None, db_dir, server)


def kept_oxigraph(folder: Path) -> external_stores.Store:
    """The Oxigraph server on the data an earlier run loaded, as
    :func:`external_stores.oxigraph_server` starts it but with a longer deadline (opening a
    store of several GB that has not been compacted yet took 52 s here)."""
    port = servers.free_port()
    base = f"http://{servers.LOOPBACK}:{port}"
    server = external_stores.Process(
        "oxigraph", [external_stores.OXIGRAPH, "serve", "--location", str(folder / "oxigraph"),
                     "--bind", f"{servers.LOOPBACK}:{port}"],
        folder / f"oxigraph-{port}.log", base + "/query?query=ASK%7B%7D")
    server.start(deadline_s=300)
    return external_stores.Store("oxigraph", base, base + "/query", "", "", "", "graph", None,
                                 None, folder / "oxigraph", server)


def published_in(store: external_stores.Store) -> str | None:
    """The build a store publishes, as a front end reads it (anonymously)."""
    sys.path.insert(0, str(PROJECT_DIR))
    from tdkg.stores.sparql_store import Endpoint, SparqlStore
    return SparqlStore(Endpoint(store.query_url), timeout=60).published()


def open_store(args: argparse.Namespace, name: str, build_dir: Path, work: Path,
               stack: ExitStack) -> tuple[external_stores.Store, dict]:
    """A running store holding the build: started on the data an earlier run loaded (with
    ``--keep-build``, when it holds this very build), else made empty and loaded now. Returns
    the store and the load's figures (those of the earlier run when reused)."""
    folder = (args.keep_build / name) if args.keep_build else work / name
    marker = folder / "loaded.json"
    if marker.exists():
        known = json.loads(marker.read_text())
        if known.get("build") == build_dir.name:
            store = (kept_virtuoso(folder, VIRTUOSO_BUFFERS[args.size]) if name == VIRTUOSO
                     else kept_oxigraph(folder))
            stack.callback(store.server.stop)
            found = published_in(store)
            if found == build_dir.name:
                print(f"{name}: reusing the store loaded with {found} in {folder}", flush=True)
                return store, {**known["load"], "reused_from_earlier_run": True}
            print(f"{name}: {folder} publishes {found}, not {build_dir.name}: loading anew",
                  flush=True)
            store.server.stop()
        else:
            print(f"{name}: {folder} holds build {known.get('build')}: loading anew", flush=True)
    if folder.exists():
        if not (folder / MADE_HERE).exists():
            raise servers.StepFailed(f"{folder} exists and was not made by this script: "
                                     "remove it or choose another --keep-build")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MADE_HERE).write_text("made by bench/scale_out.py; removed by it when stale\n")
    if name == VIRTUOSO:
        store = stack.enter_context(external_stores.virtuoso(
            folder, buffers=VIRTUOSO_BUFFERS[args.size]))
    else:
        store = stack.enter_context(external_stores.oxigraph_server(folder))
    load = load_into(store, build_dir, work / f"load-{name}.log", args.load_timeout)
    load["store_mb"] = round(servers.dir_size_bytes(store.data_dir) / 2**20, 1)
    load["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load["load_average_after"] = round(os.getloadavg()[0], 2)
    if args.keep_build:
        if name == VIRTUOSO:
            checkpoint(store)
        marker.write_text(json.dumps({"build": build_dir.name, "load": load}) + "\n")
    return store, load


def checkpoint(store: external_stores.Store) -> None:
    """Have Virtuoso write the loaded database to its files now: stopped with SIGTERM it makes
    a quick shutdown, and the next start would replay the whole load from its log. (dba's
    password is this scratch database's random one, on loopback.)"""
    began = time.monotonic()
    done = subprocess.run([external_stores.ISQL, f"{servers.LOOPBACK}:{store.extra['sql_port']}",
                           "dba", store.password or "", "exec=checkpoint;"],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or "*** Error" in done.stdout + done.stderr:
        raise servers.StepFailed(f"Virtuoso checkpoint failed: {done.stdout}{done.stderr}")
    print(f"  virtuoso: checkpoint {time.monotonic() - began:.1f} s", flush=True)


def start_all(args: argparse.Namespace, state: Path, build: str, work: Path, stack: ExitStack,
              timings: dict, loads: dict, pids: dict) -> Endpoints:
    """Start what the chosen targets need: the stores (each loaded with the build), the TDKG
    front ends (over Virtuoso: one; over the Oxigraph server: one, and a second for the
    two-front balancer) and the balancers; all stopped when ``stack`` closes."""
    wanted = set(args.targets)
    endpoints = Endpoints(build, {}, {})
    build_dir = state / "builds" / build
    if args.prepare_only:
        wanted = {VIRTUOSO, OXIGRAPH}
    if EMBEDDED in wanted:
        endpoints.tdkg[EMBEDDED], timings["start_tdkg_embedded_s"] = start_tdkg(
            args, state, work, stack, EMBEDDED, pids, base_env())
    balanced = wanted & {LB_ONE, LB_TWO}
    plans = ((VIRTUOSO, TDKG_VIRTUOSO, [TDKG_VIRTUOSO] if TDKG_VIRTUOSO in wanted else []),
             (OXIGRAPH, TDKG_OXIGRAPH,
              ([TDKG_OXIGRAPH] if wanted & {TDKG_OXIGRAPH, LB_ONE, LB_TWO} else [])
              + ([SECOND_FRONT] if LB_TWO in wanted else [])))
    for store_name, front_name, fronts in plans:
        if store_name not in wanted and not fronts:
            continue
        store, loads[store_name] = open_store(args, store_name, build_dir, work, stack)
        timings[f"start_{store_name}_s"] = round(store.server.ready_seconds, 3)
        pids[store_name] = store.server.pid
        endpoints.stores[store_name] = store.query_url
        env = {**base_env(), **store_env(store), "TDKG_STORE_POLL": str(args.store_poll)}
        urls = {}
        for name in fronts:
            urls[name], timings[f"start_{name.replace('/', '_')}_s"] = start_tdkg(
                args, state, work, stack, name, pids, env)
        if front_name in wanted:
            endpoints.tdkg[front_name] = urls[front_name]
        if store_name == OXIGRAPH:
            addresses = [urllib.parse.urlsplit(urls[n]).netloc for n in fronts]
            for name, backends in ((LB_ONE, addresses[:1]), (LB_TWO, addresses[:2])):
                if name in balanced:
                    lb = stack.enter_context(external_stores.haproxy(
                        backends, work / name, check_interval_ms=args.check_interval_ms))
                    timings[f"start_{name}_s"] = round(lb.server.ready_seconds, 3)
                    pids[name] = lb.server.pid
                    endpoints.tdkg[name] = lb.url
    return endpoints


# --- verification -------------------------------------------------------------------------------

def verify(endpoints: Endpoints, names: list[str]) -> dict[str, dict]:
    """Every target answers the cheap query and the aggregate (also with a distinct comment
    line): HTTP 200, non-empty, the same row counts, and the same aggregate solutions."""
    checks = {}
    for workload in ("cheap", "aggregate", "cheap-distinct", "aggregate-distinct"):
        query, deterministic, distinct = run.QUERIES[workload]
        text = f"{query}\n#probe-{secrets.token_hex(4)}" if distinct else query
        rows, solutions = {}, {}
        for name in names:
            bindings, _ = loadgen.probe(Target(name, url_of(endpoints, name, text),
                                               {"Accept": SPARQL_JSON}))
            if not bindings:
                raise RuntimeError(f"{name}: empty result for {workload}")
            rows[name] = len(bindings)
            solutions[name] = repr(run.canonical(bindings))
        same = len(set(solutions.values())) == 1 if deterministic else None
        checks[workload] = {"rows": rows, "same_rows": len(set(rows.values())) == 1,
                            "same_solutions": same}
        ok = checks[workload]["same_rows"] and same is not False
        print(f"check {workload:<19} rows: " + ", ".join(f"{k}={v}" for k, v in rows.items())
              + f"; identical solutions: {same} -> {'OK' if ok else 'MISMATCH'}", flush=True)
    return checks


# --- load ---------------------------------------------------------------------------------------

WRK_MIX = """
local paths = {"@FIRST@", "@SECOND@"}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, paths[(n % 2) + 1] .. "%0A%23" .. "@TAG@" .. "-" .. tid .. "-" .. n)
end
"""


def run_wrk_mix(target: MixTarget, connections: int, duration_s: float) -> loadgen.Measurement:
    """One wrk run alternating the two query URLs of a mix target, each request's text new."""
    def path(url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.path}?{parts.query}"
    script = WRK_MIX.replace("@FIRST@", path(target.url)).replace(
        "@SECOND@", path(target.second_url)).replace("@TAG@", secrets.token_hex(6))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(loadgen.WRK_REPORT + script)
    try:
        out = subprocess.run(loadgen.wrk_command(target, connections, duration_s, Path(f.name)),
                             capture_output=True, text=True, check=True,
                             timeout=duration_s + loadgen.WRK_SLACK_S).stdout
    finally:
        Path(f.name).unlink(missing_ok=True)
    return loadgen.parse_wrk(out)


def measure_one(client: str, target: Target, connections: int, duration_s: float,
                warmup_s: float) -> loadgen.Measurement:
    if isinstance(target, MixTarget):
        if warmup_s > 0:
            run_wrk_mix(target, connections, warmup_s)
        return run_wrk_mix(target, connections, duration_s)
    return loadgen.measure(client, target, connections, duration_s, warmup_s)


def measure_cell(args: argparse.Namespace, client: str, targets: list[Target], workload: str,
                 connections: int) -> list[dict]:
    """Interleaved rounds, one load at a time: A B C, then C B A, ...; medians per target."""
    runs: dict[str, list[loadgen.Measurement]] = {t.server: [] for t in targets}
    for round_no in range(1, args.repeat + 1):
        for t in (targets if round_no % 2 else targets[::-1]):
            background = servers.wait_quiet(run.QUIET_BUSY_PCT, args.quiet_timeout)
            m = measure_one(client, t, connections, args.duration, args.warmup)
            runs[t.server].append(replace(m, background_busy_pct=round(background, 1)))
            print(f"  round {round_no}: {t.server:<17} {workload:<18} c={connections:<2} "
                  f"{m.rps:>9.1f} req/s  p50 {m.p50_ms:8.2f} ms  p99 {m.p99_ms:8.2f} ms  "
                  f"err {m.errors + m.non2xx}  (CPU busy before: {background:.0f}%)", flush=True)
    return [run.summarise(server, workload, connections, ms) for server, ms in runs.items()]


def ratios(results: list[dict]) -> list[dict]:
    """Per workload x concurrency: each ratio of RATIOS whose two targets were measured, and
    what TDKG adds to a request at the median (p50 of TDKG over X minus p50 of X)."""
    cells: dict[tuple[str, int], dict[str, dict]] = {}
    for r in results:
        cells.setdefault((r["query"], r["concurrency"]), {})[r["server"]] = r
    out = []
    for (workload, conc), rows in cells.items():
        for label, top, bottom in RATIOS:
            if top in rows and bottom in rows and rows[bottom]["rps"]:
                out.append({"workload": workload, "concurrency": conc, "ratio": label,
                            "numerator": top, "denominator": bottom,
                            "value": round(rows[top]["rps"] / rows[bottom]["rps"], 3),
                            "added_p50_ms": round(rows[top]["p50_ms"] - rows[bottom]["p50_ms"],
                                                  2)})
    return out


def goals(found: list[dict]) -> list[dict]:
    out = []
    for r in found:
        if r["workload"] in GOAL_WORKLOADS and (r["numerator"], r["denominator"]) in GOAL_PAIRS:
            out.append({**r, "goal": GOAL, "met": r["value"] >= GOAL})
    return out


# --- where a request's time goes (in process) ---------------------------------------------------

def _median_ms(call, rounds: int) -> float:
    """Median wall time of ``call()`` over ``rounds`` calls (after one discarded), in ms."""
    call()
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1000, 3)


def breakdown(state: Path, build: str, stores: dict[str, str], rounds: int) -> dict:
    """Time, in this process and one call at a time, the steps a query worker takes for one
    request: evaluating and writing the answer on the embedded store; over a remote store,
    Oxigraph's parse check, the graph-name translation, the store's HTTP round trip (directly
    and through the front end's Unix-socket relay), reading the store's JSON answer back into
    terms and writing it out again. What a request costs beyond these is the front end's HTTP
    layer and the pipe to the worker (p50 of the whole request minus the worker's part)."""
    sys.path.insert(0, str(PROJECT_DIR))
    import pyoxigraph as ox

    from server import execute, results
    from tdkg.stores import graphnames as names
    from tdkg.stores.build_view import BuildView
    from tdkg.stores.relay import Relay
    from tdkg.stores.sparql_store import RESULTS_JSON, QueryConnection

    out: dict = {"rounds": rounds}
    embedded = ox.Store.read_only(str(state / "builds" / build / "store"))
    for workload in ("cheap", "aggregate"):
        query = run.QUERIES[workload][0]
        n = rounds if workload == "cheap" else max(3, rounds // 100)
        steps: dict = {"embedded: evaluate + write JSON": _median_ms(
            lambda: results.solutions(embedded.query(query), "json", 10_000), n)}
        for store_name, url in stores.items():
            parts = urllib.parse.urlsplit(url)
            relay = Relay(parts.hostname, parts.port)
            try:
                direct = BuildView(QueryConnection(url), build)
                relayed = BuildView(QueryConnection(url, relay.path), build)
                form = [("query", names.localize(query, build, {}, None)),
                        ("default-graph-uri", names.stored(build, ""))]
                content_type, body = direct.connection.post(form, RESULTS_JSON, 60)
                steps[f"{store_name}: parse check (Oxigraph)"] = _median_ms(
                    lambda: direct._parser.query(query), n)
                steps[f"{store_name}: graph names"] = _median_ms(
                    lambda: names.localize(query, build, {}, None), n)
                steps[f"{store_name}: store round trip, direct"] = _median_ms(
                    lambda: direct.connection.post(form, RESULTS_JSON, 60), n)
                steps[f"{store_name}: store round trip, relayed"] = _median_ms(
                    lambda: relayed.connection.post(form, RESULTS_JSON, 60), n)
                steps[f"{store_name}: read answer + write JSON"] = _median_ms(
                    lambda: results.solutions(direct._answer(content_type, body), "json",
                                              10_000), n)
                steps[f"{store_name}: check + pass answer through"] = _median_ms(
                    lambda: direct.passed_through(content_type, body, 10_000), n)
                job = {"text": query, "fmt": "json", "cap": 10_000}
                steps[f"{store_name}: whole worker step (relayed)"] = _median_ms(
                    lambda: execute.run_query(relayed, job), n)
                answer = ("ok", execute.run_query(direct, job))
                steps[f"{store_name}: answer through the worker pipe (pickle)"] = _median_ms(
                    lambda: pickle.loads(pickle.dumps(answer)), n)
                steps[f"{store_name}: answer bytes"] = len(body)
            except Exception as err:    # the lead's store code moves; keep the figures we have
                steps[f"{store_name}: error"] = f"{type(err).__name__}: {err}"
            finally:
                relay.close()
        out[workload] = steps
    return out


# --- report -------------------------------------------------------------------------------------

def print_tables(report: dict) -> None:
    results = report["results"]
    print(f"\n== scale-out {report['size']} ({report['triples']:,} data triples; build "
          f"{report['build']}), client {report['client']}, median of {report['repeat']} x "
          f"{report['duration_s']:g} s runs after {report['warmup_s']:g} s warm-up ==")
    print(f"{'target':<17} {'workload':<19} {'c':>2} {'req/s':>9} {'spread':>7} {'p50 ms':>9} "
          f"{'p99 ms':>9} {'errors':>6}")
    for r in results:
        print(f"{r['server']:<17} {r['query']:<19} {r['concurrency']:>2} {r['rps']:>9.1f} "
              f"{r['spread_pct']:>6.0f}% {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} "
              f"{r['errors'] + r['non2xx']:>6}"
              + (" *" if r["max_background_busy_pct"] > run.QUIET_BUSY_PCT else ""))
    if any(r["max_background_busy_pct"] > run.QUIET_BUSY_PCT for r in results):
        print(f"* other processes kept the CPUs more than {run.QUIET_BUSY_PCT:g}% busy just "
              "before at least one run of this row")
    names = [t for t in TARGETS if any(r["server"] == t for r in results)]
    print("\nreq/s (median)")
    print(f"{'workload':<19} {'c':>2} " + " ".join(f"{n:>16}" for n in names))
    cells: dict[tuple[str, int], dict[str, float]] = {}
    for r in results:
        cells.setdefault((r["query"], r["concurrency"]), {})[r["server"]] = r["rps"]
    for (workload, conc), rps in cells.items():
        print(f"{workload:<19} {conc:>2} " + " ".join(
            f"{rps[n]:>16.1f}" if n in rps else f"{'-':>16}" for n in names))
    labels = [label for label, _, _ in RATIOS
              if any(x["ratio"] == label for x in report.get("ratios", []))]
    print("\nratios of req/s (in brackets: what the numerator adds to the median request, ms)")
    print(f"{'workload':<19} {'c':>2} " + " ".join(f"{label:>26}" for label in labels))
    by_cell: dict[tuple[str, int], dict[str, dict]] = {}
    for x in report.get("ratios", []):
        by_cell.setdefault((x["workload"], x["concurrency"]), {})[x["ratio"]] = x
    for (workload, conc), found in by_cell.items():
        print(f"{workload:<19} {conc:>2} " + " ".join(
            f"{found[label]['value']:>14.2f} ({found[label]['added_p50_ms']:>+8.2f})"
            if label in found else f"{'-':>26}" for label in labels))
    for g in report.get("goals", []):
        print(f"goal {g['workload']} c={g['concurrency']} {g['ratio']}: {g['value']:.2f} >= "
              f"{g['goal']}? {'met' if g['met'] else 'NOT met'}")
    for skipped in report["skipped"]:
        print(f"not measured: {skipped}")
    print("loads: " + "; ".join(f"{k} {v['triples']:,} triples {v['load_s']:.1f} s "
                                f"(+ publish {v['publish_s']:.2f} s), store {v['store_mb']} MB"
                                for k, v in report["loads"].items()))
    for when in ("memory_idle", "memory_after"):
        if report.get(when):
            print(f"{when.replace('_', ' ')} (RSS of each server's processes, MB): " + ", ".join(
                f"{k} {v / 2**20:.0f}" for k, v in report[when].items()))
    print("timings: " + ", ".join(f"{k}={v}" for k, v in report["timings"].items()), flush=True)


def print_breakdown(found: dict) -> None:
    print(f"\nsteps of one request in a query worker, in process (median of "
          f"{found['rounds']} calls, ms):")
    for workload in ("cheap", "aggregate"):
        for step, value in found.get(workload, {}).items():
            print(f"  {workload:<10} {step:<45} {value}")


def markdown(report: dict) -> str:
    """The figures of a result file as Markdown tables (req/s with p50, then the ratios)."""
    results = report["results"]
    names = [t for t in TARGETS if any(r["server"] == t for r in results)]
    cells: dict[tuple[str, int], dict[str, dict]] = {}
    for r in results:
        cells.setdefault((r["query"], r["concurrency"]), {})[r["server"]] = r
    lines = ["| workload | c | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for (workload, conc), rows in cells.items():
        lines.append(f"| {workload} | {conc} | " + " | ".join(
            f"{rows[n]['rps']:,.1f} ({rows[n]['p50_ms']:.1f} ms)"
            + ("\\*" if rows[n]["max_background_busy_pct"] > run.QUIET_BUSY_PCT else "")
            if n in rows else "–" for n in names) + " |")
    labels = [label for label, _, _ in RATIOS
              if any(x["ratio"] == label for x in report.get("ratios", []))]
    lines += ["", "| workload | c | " + " | ".join(labels) + " |",
              "|---|---|" + "---|" * len(labels)]
    by_cell: dict[tuple[str, int], dict[str, dict]] = {}
    for x in report.get("ratios", []):
        by_cell.setdefault((x["workload"], x["concurrency"]), {})[x["ratio"]] = x
    for (workload, conc), found in by_cell.items():
        lines.append(f"| {workload} | {conc} | " + " | ".join(
            f"{found[label]['value']:.2f} ({found[label]['added_p50_ms']:+.1f} ms)"
            if label in found else "–" for label in labels) + " |")
    return "\n".join(lines)


def versions(args: argparse.Namespace, client: str) -> dict[str, str]:
    def package(name: str) -> str:
        return run.tool_version(["dpkg-query", "-W", "-f", "${Version}", name])
    return {"oxigraph": run.tool_version([args.oxigraph, "--version"]),
            "virtuoso": package("virtuoso-opensource-7-bin"), "haproxy": package("haproxy"),
            "wrk": run.tool_version(["wrk", "-v"]) if client == "wrk" else "",
            "tdkg_commit": git_commit(), "tdkg_uncommitted": uncommitted()}


def memory(pids: dict[str, int]) -> dict[str, int]:
    """RSS (bytes) of each server's whole process tree now."""
    return {name: sum(servers.tree_rss(pid).values()) for name, pid in pids.items()}


# --- driver -------------------------------------------------------------------------------------

def bench(args: argparse.Namespace, client: str) -> dict:
    began = time.monotonic()
    data, triples, gen_s = run.ensure_data(args.size, args.data_dir)
    report: dict = {"size": args.size, "triples": triples, "data": str(data), "client": client,
                    "duration_s": args.duration, "warmup_s": args.warmup, "repeat": args.repeat,
                    "concurrency": args.concurrency, "workloads": args.workload,
                    "lb_workloads": args.lb_workloads, "targets": args.targets,
                    "queries": {k: q for k, (q, _, _) in run.QUERIES.items()},
                    "mix": "each connection alternates cheap-distinct and aggregate-distinct",
                    "machine": run.machine(), "versions": versions(args, client),
                    "tdkg_env": {k: v for k, v in base_env().items() if k.startswith("TDKG_")},
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": [],
                    "skipped": []}
    out_path = args.results_dir / f"scale-out-{args.size}.json"
    timings: dict = {"generate_s": round(gen_s, 3)} if gen_s is not None else {}
    with tempfile.TemporaryDirectory(prefix=f"tdkg-scale-out-{args.size}-") as tmp:
        work = Path(tmp)
        built = prepare_build(args, data, triples, work)
        state = built["state"]
        build = Path(os.readlink(state / "current")).name
        info = json.loads((state / "builds" / build / "build.json").read_text())
        report.update(build=build, build_reused=built["reused"],
                      build_commit=built["build_commit"], build_stats=info.get("stats", {}))
        if built["build_s"] is not None:
            timings["tdkg_build_s"] = round(built["build_s"], 3)
        loads: dict = {}
        pids: dict = {}
        with ExitStack() as stack:
            endpoints = start_all(args, state, build, work, stack, timings, loads, pids)
            if args.prepare_only:
                print(f"prepared {build} in {args.keep_build}: {json.dumps(loads)}", flush=True)
                return {}
            report.update(loads=loads, timings=timings)
            names = [t for t in args.targets if t in endpoints.tdkg or t in endpoints.stores]
            time.sleep(2)
            report["memory_idle"] = memory(pids)
            report["checks"] = verify(endpoints, names)
            if args.breakdown_rounds:
                report["breakdown"] = breakdown(state, build, dict(endpoints.stores),
                                                args.breakdown_rounds)
                print_breakdown(report["breakdown"])
            deadline = began + args.time_budget
            for workload in args.workload:
                if workload == MIX and client != "wrk":
                    report["skipped"].append({"workload": MIX, "why": "needs wrk"})
                    continue
                for conc in args.concurrency:
                    if time.monotonic() > deadline:
                        print(f"time budget spent: {workload} c={conc} not measured", flush=True)
                        report["skipped"].append({"workload": workload, "concurrency": conc,
                                                  "why": "time budget"})
                        continue
                    report["results"] += measure_cell(
                        args, client, targets_of(args, endpoints, workload), workload, conc)
                    report["ratios"] = ratios(report["results"])
                    report["goals"] = goals(report["ratios"])
                    report["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                    run.write_json(report, out_path)
            report["memory_after"] = memory(pids)
    report["ratios"] = ratios(report["results"])
    report["goals"] = goals(report["ratios"])
    report["total_s"] = round(time.monotonic() - began, 1)
    run.write_json(report, out_path)
    print(f"wrote {out_path}")
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=list(run.SIZES), default="1m")
    ap.add_argument("--duration", type=float, default=6.0, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of discarded warm-up")
    ap.add_argument("--repeat", type=int, default=2,
                    help="interleaved rounds per workload x concurrency; medians are reported")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--workload", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    ap.add_argument("--lb-workloads", nargs="+", choices=WORKLOADS, default=list(LB_WORKLOADS),
                    help="workloads on which the HAProxy targets are measured")
    ap.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    ap.add_argument("--quiet-timeout", type=float, default=20.0,
                    help="max seconds to wait before each run for the CPUs to settle")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--store-poll", type=float, default=1.0,
                    help="TDKG_STORE_POLL of the front ends over a remote store")
    ap.add_argument("--check-interval-ms", type=int, default=1000,
                    help="HAProxy's health checks of each front end (/healthz)")
    ap.add_argument("--keep-build", type=Path, default=None,
                    help="folder holding the build between runs (reused if from the same data)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="only make (or check) the --keep-build build and the stores loaded "
                         "with it, then stop")
    ap.add_argument("--breakdown-rounds", type=int, default=300,
                    help="calls per step when timing a request's steps in process (0: skip)")
    ap.add_argument("--markdown", type=Path, default=None,
                    help="print the tables of a result file as Markdown, and nothing else")
    ap.add_argument("--time-budget", type=float, default=3600.0,
                    help="seconds from the start after which no further cell is begun")
    ap.add_argument("--ready-timeout", type=float, default=300.0, help="per server start (s)")
    ap.add_argument("--build-timeout", type=float, default=3600.0, help="the build (s)")
    ap.add_argument("--load-timeout", type=float, default=1800.0, help="per store load (s)")
    ap.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    ap.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    ap.add_argument("--tdkg", default=run.default_tool("tdkg"))
    ap.add_argument("--oxigraph", default=run.default_tool("oxigraph"))
    args = ap.parse_args(argv)
    if not set(args.workload) & set(args.lb_workloads):
        args.targets = [t for t in args.targets if t not in (LB_ONE, LB_TWO)]
    if args.prepare_only and args.keep_build is None:
        ap.error("--prepare-only needs --keep-build (where the build and stores are kept)")
    if args.keep_build is not None:
        args.keep_build = args.keep_build.absolute()
    return args


def main(argv: list[str] | None = None) -> int:
    run.stop_on_sigterm()
    args = parse_args(argv)
    if args.markdown is not None:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    missing = [k for k, ok in external_stores.available().items() if not ok]
    if missing:
        print(f"not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    client = loadgen.choose_client(args.client)
    print(f"load generator: {client}", flush=True)
    report = bench(args, client)
    if not report:
        return 0
    print_tables(report)
    ok = all(c["same_rows"] and c["same_solutions"] is not False
             for c in report["checks"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
