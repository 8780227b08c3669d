"""Build benchmark: the whole ``tdkg build`` process, step by step, with its peak memory.

For each size, ``tdkg build`` runs in a child process (its own session, bounded in time) into a
fresh state folder:

* ``seed``  — the bundled data (``data/ttl/``), built twice: ``first`` into the empty state
  folder, then ``replace``, a second build that replaces the first and so also records the
  changes against it (``changes.json``);
* ``100k``, ``1m`` … — synthetic data from ``bench/generate.py`` (made once into ``bench/data/``),
  built as ``bench/run.py`` builds it: the project's ontology with a data folder holding only the
  synthetic file.

Every build is the complete one (SHACL validation, reasoning, store, OWL files, downloads)
unless ``--build-args`` passes other flags, which are recorded with the figures. For each
build the script prints and saves the step timings of ``build.json``, the process's wall time
and CPU time (user + system), the peak RSS of the build process (``ru_maxrss`` from ``wait4``;
it also covers children it waited for, each on its own) and the peak of the RSS of all the
processes of its session added up, sampled every 50 ms. The machine is shared, so the load
average before and after each build is saved too.

Results go to ``bench/results/build-<size>.json``. The figures of the first run saved there
stay as its ``baseline`` (``--reset-baseline`` makes the new run the baseline), and are printed
beside the new ones.

Usage::

    python bench/build.py                         # seed, 100k, 1m
    python bench/build.py --sizes seed --repeat 3 # the median of three runs per build
    python bench/build.py --sizes 100k --build-args="--skip-validation --no-owl-files"
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
TDKG = [sys.executable, "-m", "tdkg.cli"]
SAMPLE_S = 0.05
STEPS = ("load", "vocabulary", "validate", "reason", "store_beside_reasoning", "store",
         "derivations", "owl", "downloads", "changes")
#: (seconds, MiB) a whole build should stay within, per size (issue 13)
TARGETS = {"seed": (2.0, None), "1m": (60.0, 2048.0)}


# --- measuring one process ------------------------------------------------------------------

def _session_rss_kb(sid: int) -> int:
    """The RSS of every process in session ``sid`` added up, in KiB."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[3]) != sid:       # fields from state: state ppid pgrp session …
                continue
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def measure(cmd: list[str], log: Path, timeout_s: float) -> dict:
    """Run ``cmd`` to completion within ``timeout_s``; its wall and CPU time and peak memory."""
    peak = {"kb": 0}
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["kb"] = max(peak["kb"], _session_rss_kb(proc.pid))
            done.wait(SAMPLE_S)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status, usage = 0, None
    try:
        while time.perf_counter() - started < timeout_s:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            raise RuntimeError(f"timed out after {timeout_s:g} s: {shlex.join(cmd)}")
    finally:
        done.set()
        sampler.join(5)
        proc.returncode = 0     # reaped by wait4 above: keep Popen from waiting again
        try:
            os.killpg(proc.pid, signal.SIGKILL)      # anything the build left behind
        except (ProcessLookupError, PermissionError):
            pass
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"exit code {code}: {shlex.join(cmd)}\n{tail}")
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "session_peak_rss_mb": round(peak["kb"] / 1024, 1)}


def build_once(project: Path, data_dir: Path | None, state: Path, extra: list[str], log: Path,
               timeout_s: float) -> dict:
    """One ``tdkg build`` into ``state``; the process figures and the build's own record."""
    cmd = TDKG + ["build", "--project-dir", str(project), "--state-dir", str(state)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    load_before = os.getloadavg()[0]
    figures = measure(cmd + extra, log, timeout_s)
    current = (state / "current").resolve()
    info = json.loads((current / "build.json").read_text())
    figures.update(load_before=round(load_before, 2), load_after=round(os.getloadavg()[0], 2),
                   steps=info.get("timings", {}), triples=info.get("stats", {}).get("triples"),
                   validator=info.get("validator"), validated=info.get("validated"))
    return figures


# --- sizes ------------------------------------------------------------------------------------

def synthetic_data(size: str, timeout_s: float) -> Path:
    path = DATA_DIR / f"{size}.nt"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--triples", size,
                        "--out", str(path)], check=True, timeout=timeout_s)
    return path


def bench_size(size: str, extra: list[str], repeat: int, timeout_s: float) -> dict:
    """Every build of one size, ``repeat`` times each; the median run of each build."""
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix=f"tdkg-build-{size}-") as tmp:
        work = Path(tmp)
        data_dir = None
        if size != "seed":
            data_dir = work / "data"
            data_dir.mkdir()
            source = synthetic_data(size, timeout_s)
            os.symlink(source, data_dir / source.name)
        for i in range(repeat):
            state = work / f"state-{i}"
            kinds = ("first", "replace") if size == "seed" else ("first",)
            for kind in kinds:
                figures = build_once(ROOT, data_dir, state, extra, work / f"{kind}-{i}.log",
                                     timeout_s)
                runs.setdefault(kind, []).append(figures)
                print(f"  {size} {kind} #{i + 1}: {figures['wall_s']:.2f} s wall, "
                      f"{figures['peak_rss_mb']:.0f} MiB peak "
                      f"(load {figures['load_before']:.1f})", flush=True)
    return {kind: _median_run(found) for kind, found in runs.items()}


def _median_run(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's wall time beside it."""
    chosen = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {**chosen, "walls_s": [r["wall_s"] for r in runs]} if len(runs) > 1 else chosen


# --- report -----------------------------------------------------------------------------------

def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _row(name: str, old: dict | None, new: dict) -> str:
    def cell(run: dict | None, key: str) -> str:
        if run is None:
            return "—"
        value = run["steps"].get(key) if key in STEPS else run.get(key)
        return "—" if value is None else f"{value:.2f}" if key != "peak_rss_mb" else \
            f"{value:.0f}"
    keys = ("wall_s", "cpu_s", "peak_rss_mb", *STEPS)
    return "\n".join(f"  {name:8} {k:20} {cell(old, k):>10} {cell(new, k):>10}" for k in keys)


def report(size: str, result: dict, path: Path, reset: bool) -> dict:
    previous = json.loads(path.read_text()) if path.is_file() else {}
    baseline = None if reset else previous.get("baseline") or previous.get("result")
    saved = {"size": size, "result": result, "baseline": baseline or result}
    print(f"{size}: {'':20} {'baseline':>10} {'now':>10}   (seconds, MiB)")
    base_builds = (saved["baseline"] or {}).get("builds", {})
    for kind, run in result["builds"].items():
        print(_row(kind, base_builds.get(kind) if baseline else None, run))
    limits = TARGETS.get(size)
    if limits:
        run = result["builds"]["replace" if size == "seed" else "first"]
        seconds, mib = limits
        result["targets"] = {f"whole build <= {seconds:g} s": run["wall_s"] <= seconds}
        if mib:
            result["targets"][f"peak <= {mib:g} MiB"] = run["session_peak_rss_mb"] <= mib
        print(f"  targets: {result['targets']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(saved, indent=2) + "\n")
    os.replace(tmp, path)
    return saved


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="seed,100k,1m", help="comma-separated: seed, 100k, 1m …")
    ap.add_argument("--build-args", default="",
                    help="extra flags for tdkg build, e.g. '--skip-validation --no-owl-files'")
    ap.add_argument("--repeat", type=int, default=1, help="runs per build (median kept)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per build")
    ap.add_argument("--reset-baseline", action="store_true",
                    help="save this run as the baseline the next runs are shown beside")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    extra = shlex.split(args.build_args)
    status = 0
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        print(f"{size}: tdkg build {shlex.join(extra)}", flush=True)
        try:
            builds = bench_size(size, extra, max(1, args.repeat), args.timeout)
        except (RuntimeError, subprocess.SubprocessError) as err:
            print(f"{size}: failed: {err}", flush=True)
            status = 1
            continue
        result = {"commit": _git_commit(), "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                       time.gmtime()),
                  "build_args": extra, "repeat": args.repeat, "builds": builds,
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
        report(size, result, RESULTS / f"build-{size}.json", args.reset_baseline)
    return status


if __name__ == "__main__":
    sys.exit(main())
