"""SHACL validation benchmark: the build's engines (``fast``: shapes compiled to SPARQL on
Oxigraph; ``pyshacl``: the reference) and, when installed, ``pyrudof`` (the Rust SHACL engine,
evaluated as the other candidate; not a dependency).

Each engine validates ontology + data against ``ontology/shapes.ttl`` in a child process of its
own, one after the other, so that its peak memory is its own; a child that exceeds its time
limit is killed and shown as such. The data are the seed data (``data/ttl``) and synthetic data
from ``bench/generate.py`` (made once into ``bench/data/<size>.nt``, then reused). Parsing the
files is not part of the timed step (the build parses them once for all its steps); the fast
engine's time includes filling its store.

Usage::

    python bench/validate.py                                  # seed, 100k, 1m
    python bench/validate.py --sizes seed,100k --engines fast,pyshacl,pyrudof --timeout 600
    python bench/validate.py --json bench/results/validate.json

The synthetic data break two shapes (claimed and officially denied facts without a voice), so
the engines have results to report: the column "results" is the number of validation results.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reasoning import parse_size  # noqa: E402  (sibling module: one parser of "100k"/"1m")

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "bench" / "generate.py"
DATA_DIR = ROOT / "bench" / "data"
SHAPES = ROOT / "ontology" / "shapes.ttl"
#: pyshacl and pyrudof are not run above this many data triples unless asked (pyshacl takes
#: minutes at 100k; pyrudof needs about 1 GiB at 100k, and grows with the data)
PYSHACL_MAX = 100_000


def memory_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    now = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return round(now, 1), round(peak or resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for (the fast engine's fork)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                           resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---- the child: one engine, one data set, JSON on stdout ------------------------------------

def child(engine: str, files: list[Path]) -> dict:
    sys.path.insert(0, str(ROOT))
    from tdkg.pipeline.build import Inputs
    from tdkg.pipeline.load import load_sources
    ontology = Inputs.of(ROOT / "ontology", ROOT / "ontology").ontology
    sources = load_sources(ontology, files)
    before, _ = memory_mb()
    started, cpu = time.perf_counter(), cpu_seconds()
    if engine == "pyrudof":
        count, figures = run_pyrudof(sources.ontology, sources.data)
    else:
        from tdkg.pipeline.validate import load_shapes, run_engine
        results, figures = run_engine(engine, sources.ontology, sources.data,
                                      load_shapes([SHAPES]))
        count = len(results)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    _, peak = memory_mb()
    return {"engine": figures.get("engine", engine), "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2), "rss_before_mb": before, "peak_rss_mb": peak,
            "results": count, "triples": len(sources.ontology) + len(sources.data),
            "constraints": figures.get("constraints"), "processes": figures.get("processes", 1),
            "fallback": figures.get("fallback")}


def run_pyrudof(ontology, data) -> tuple[int, dict]:
    import itertools

    import pyoxigraph as ox
    import pyrudof
    rudof = pyrudof.Rudof(pyrudof.RudofConfig())
    text = ox.serialize(itertools.chain(ontology, data), format=ox.RdfFormat.N_TRIPLES)
    rudof.read_data(text.decode("utf-8"), format=pyrudof.RDFFormat.NTriples)
    rudof.read_shacl(str(SHAPES))
    report = rudof.validate_shacl()
    return len(report.violations), {"engine": "pyrudof"}


# ---- the parent ------------------------------------------------------------------------------

def data_files(size: str) -> list[Path]:
    if size == "seed":
        return sorted(p for p in (ROOT / "data" / "ttl").iterdir() if p.suffix == ".ttl")
    path = DATA_DIR / f"{size}.nt"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(GENERATOR), "--triples", size, "--out", str(path)],
                       check=True)
    return [path]


def measure(engine: str, files: list[Path], timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", engine, *map(str, files)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"engine": engine, "status": f"killed after {timeout:.0f} s"}
    if process.returncode != 0:
        return {"engine": engine, "status": "failed: " + err.strip().splitlines()[-1]}
    return {**json.loads(out.strip().splitlines()[-1]), "status": "ok"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="seed,100k,1m")
    ap.add_argument("--engines", default="fast,pyshacl,pyrudof")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per child")
    ap.add_argument("--pyshacl-max", type=parse_size, default=PYSHACL_MAX,
                    help="largest synthetic size pyshacl and pyrudof run on")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], [Path(p) for p in args.child[1:]])))
        return 0
    rows = []
    load = os.getloadavg()[0]
    print(f"load average before: {load:.2f} on {os.cpu_count()} CPUs")
    print(f"{'size':>6} {'triples':>9} {'engine':>8} {'seconds':>8} {'cpu s':>7} "
          f"{'RSS before':>10} {'peak RSS':>9} {'results':>8}  status")
    for size in args.sizes.split(","):
        files = data_files(size)
        for engine in args.engines.split(","):
            if engine == "pyrudof":
                try:
                    import pyrudof  # noqa: F401
                except ImportError:
                    continue
            if engine in ("pyshacl", "pyrudof") and size != "seed" \
                    and parse_size(size) > args.pyshacl_max:
                row = {"engine": engine, "status": f"not run (above {args.pyshacl_max:,})"}
            else:
                row = measure(engine, files, args.timeout)
            row["size"] = size
            rows.append(row)
            print(f"{size:>6} {row.get('triples', ''):>9} {row['engine']:>8} "
                  f"{row.get('seconds', ''):>8} {row.get('cpu_seconds', ''):>7} "
                  f"{row.get('rss_before_mb', ''):>10} {row.get('peak_rss_mb', ''):>9} "
                  f"{row.get('results', ''):>8}  {row['status']}"
                  + (f" (fallback: {row['fallback']})" if row.get("fallback") else ""),
                  flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
