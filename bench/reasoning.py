"""Reasoning benchmark: TDKG's materializer against owlrl (and, optionally, HermiT).

For each size the synthetic data comes from ``bench/generate.py`` (made once, then reused) and
each reasoner runs in its own child process, one after the other, so that their peak memory
(``ru_maxrss`` of the child, and of its Java child for HermiT) is theirs alone:

* ``ours``   — parse ontology + data with :mod:`tdkg.pipeline.load`, then
  :func:`tdkg.pipeline.reason.reason` with the project's rules (``ontology/rules/`` if present);
* ``owlrl``  — the pure-Python OWL 2 RL closure, ``DeductiveClosure(OWLRL_Semantics).expand``
  on an rdflib Graph holding ontology + data, under a time limit;
* ``hermit`` — HermiT through owlready2 (types and object property values), small sizes only.

The counts are not comparable one to one: owlrl's closure is the full OWL 2 RL one, with
vocabulary and reflexive triples (``x owl:sameAs x``, ``x a owl:Thing``, the RDFS axiomatic
triples, ``p a rdf:Property``...) that ours leaves out; the owlrl child therefore also splits its
new triples into such kinds, and ``abox`` is the part that is comparable to ours.

Usage::

    python bench/reasoning.py                          # 10k, 100k, 1m
    python bench/reasoning.py --sizes 10k --hermit-sizes 10k --owlrl-timeout 600
    python bench/reasoning.py --sizes 1m --reasoners ours-owl,ours --repeat 5   # median of 5
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

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "bench" / "generate.py"
RESULTS = ROOT / "bench" / "results"
ONTOLOGY_DIR = ROOT / "ontology"
DEFAULT_DATA_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "tdkg-reasoning-bench"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
TARGET_SECONDS_1M, TARGET_RSS_MB_1M, TARGET_SPEEDUP_100K = 60, 2048, 20
#: issue 13: the reasoning itself (rules included, parsing not) at 1M
TARGET_REASON_SECONDS_1M, TARGET_REASON_RSS_MB_1M = 30, 1536


# ---- shared helpers --------------------------------------------------------------------------

def parse_size(text: str) -> int:
    text = text.strip().lower()
    for suffix, factor in (("k", 1_000), ("m", 1_000_000)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * factor)
    return int(text)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM, else ru_maxrss), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def children_peak_rss_mb() -> float:
    """Peak RSS of the largest child process waited for (the Java process for HermiT), MiB."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def ontology_files() -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from tdkg.pipeline.build import Inputs
    return Inputs.of(ONTOLOGY_DIR, ONTOLOGY_DIR).ontology


# ---- the children: one reasoner each, JSON on stdout -----------------------------------------

def child_ours(data: Path, with_rules: bool = True) -> dict:
    from tdkg.pipeline.load import load_sources
    from tdkg.pipeline.reason import reason
    from tdkg.pipeline.rules import load_rules

    started = time.perf_counter()
    sources = load_sources(ontology_files(), [data])
    rules = load_rules(ONTOLOGY_DIR / "rules") if with_rules else []
    parsed = time.perf_counter()
    inference = reason(sources.ontology, sources.data, rules)
    done = time.perf_counter()
    by_rules = sum(1 for d in inference.inferred.values() if d.rule.startswith("rule:"))
    return {"parse_s": round(parsed - started, 3), "reason_s": round(done - parsed, 3),
            "total_s": round(done - started, 3), "peak_rss_mb": peak_rss_mb(),
            "input_triples": len(sources.ontology) + len(sources.data),
            "inferred": len(inference.inferred), "inferred_owl": len(inference.inferred) - by_rules,
            "inferred_rules": by_rules, "rules": len(rules), "rule_rounds": inference.rounds}


def child_owlrl(data: Path) -> dict:
    import owlrl
    import rdflib

    started = time.perf_counter()
    graph = rdflib.Graph()
    for f in ontology_files():
        graph.parse(f, format="turtle")
    graph.parse(data, format="nt")
    before = set(graph)
    parsed = time.perf_counter()
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    done = time.perf_counter()
    result = {"parse_s": round(parsed - started, 3), "reason_s": round(done - parsed, 3),
              "total_s": round(done - started, 3), "peak_rss_mb": peak_rss_mb(),
              "input_triples": len(before), "inferred": len(graph) - len(before)}
    result["kinds"] = owlrl_kinds(graph, before)      # after the RSS reading: not measured
    return result


def owlrl_kinds(graph, before: set) -> dict[str, int]:
    """The new triples of the OWL 2 RL closure, by kind; ``abox`` is comparable to ours."""
    import rdflib
    vocab = (RDF, RDFS, OWL, "http://www.w3.org/2001/XMLSchema#")
    tbox_terms = {s for s, p, o in before if p == rdflib.RDF.type and str(o) in (
        OWL + "Class", OWL + "ObjectProperty", OWL + "DatatypeProperty",
        OWL + "AnnotationProperty", OWL + "Ontology", RDFS + "Class")}
    kinds: dict[str, int] = {}
    for s, p, o in graph:
        if (s, p, o) in before:
            continue
        if p == rdflib.OWL.sameAs:
            kind = "owl:sameAs (reflexive)" if s == o else "owl:sameAs"
        elif p == rdflib.RDF.type and str(o) in (OWL + "Thing", RDFS + "Resource"):
            kind = "a owl:Thing / rdfs:Resource"
        elif isinstance(s, rdflib.Literal) or isinstance(o, rdflib.Literal) and p == rdflib.RDF.type:
            kind = "literal / datatype"
        elif str(s).startswith(vocab) or s in tbox_terms or isinstance(s, rdflib.BNode):
            kind = "vocabulary / TBox"
        elif p == rdflib.RDF.type and str(o).startswith(vocab):
            kind = "a <rdf/rdfs/owl class>"
        else:
            kind = "abox"
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def child_hermit(data: Path) -> dict:
    import owlready2
    import rdflib

    from tdkg.pipeline.owl_export import java_executable

    owlready2.JAVA_EXE = java_executable()
    started = time.perf_counter()
    merged = Path(str(data) + ".with-ontology.nt")
    if not merged.exists():
        graph = rdflib.Graph()
        for f in ontology_files():
            graph.parse(f, format="turtle")
        with merged.open("wb") as out:
            out.write(graph.serialize(format="nt", encoding="utf-8"))
            out.write(data.read_bytes())
    world = owlready2.World()
    world.get_ontology("file://" + str(merged)).load(format="ntriples")
    parsed = time.perf_counter()
    owlready2.sync_reasoner_hermit(world, infer_property_values=True, debug=0)
    done = time.perf_counter()
    inferred = len(world.get_ontology("http://inferrences/").graph)
    return {"parse_s": round(parsed - started, 3), "reason_s": round(done - parsed, 3),
            "total_s": round(done - started, 3), "peak_rss_mb": peak_rss_mb(),
            "java_peak_rss_mb": children_peak_rss_mb(), "inferred": inferred,
            "note": "inferred = triples owlready2 adds (most specific types, new property "
                    "values), not a closure"}


def child_ours_owl(data: Path) -> dict:
    """Ours with no SPARQL rules: the same OWL 2 RL work as owlrl does, nothing more."""
    return child_ours(data, with_rules=False)


CHILDREN = {"ours-owl": child_ours_owl, "ours": child_ours, "owlrl": child_owlrl,
            "hermit": child_hermit}


# ---- the parent: data, children one after the other, table, JSON -----------------------------

def ensure_data(size: str, data_dir: Path) -> Path:
    path = data_dir / f"{size}.nt"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(GENERATOR), "--triples", str(parse_size(size)),
                        "--out", str(path)], check=True, timeout=1800)
    return path


def run_child(which: str, data: Path, timeout: float, memory_cap_mb: float) -> dict:
    """One reasoner in a fresh interpreter; killed (with any Java child) after ``timeout`` s
    or when its resident memory passes ``memory_cap_mb``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", which, "--data", str(data)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=ROOT)
    reader = _Drain(proc)
    while proc.poll() is None:
        elapsed = time.perf_counter() - started
        rss = _rss_mb(proc.pid)
        if elapsed > timeout or rss > memory_cap_mb:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            why = (f"time limit {timeout:.0f} s" if elapsed > timeout
                   else f"memory cap {memory_cap_mb:.0f} MiB")
            return {"status": "did not finish", "why": why, "limit_s": timeout,
                    "wall_s": round(elapsed, 1), "rss_at_kill_mb": round(rss, 1)}
        time.sleep(0.5)
    out, err = reader.result()
    if proc.returncode != 0:
        return {"status": "failed", "returncode": proc.returncode, "stderr": err[-2000:]}
    return {"status": "ok", **json.loads(out.strip().splitlines()[-1])}


class _Drain:
    """Reads a child's stdout and stderr in threads, so that a full pipe never blocks it."""

    def __init__(self, proc: subprocess.Popen):
        import threading
        self.parts = {"out": [], "err": []}
        self.threads = [threading.Thread(target=self._read, args=(stream, self.parts[key]),
                                         daemon=True)
                        for key, stream in (("out", proc.stdout), ("err", proc.stderr))]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(stream, sink: list) -> None:
        for line in stream:
            sink.append(line)

    def result(self) -> tuple[str, str]:
        for t in self.threads:
            t.join(timeout=10)
        return "".join(self.parts["out"]), "".join(self.parts["err"])


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bench_size(size: str, args) -> dict:
    data = ensure_data(size, args.data_dir)
    input_lines = sum(1 for _ in data.open("rb"))
    out = RESULTS / f"reasoning-{size}.json"
    earlier = json.loads(out.read_text())["reasoners"] if out.exists() else {}
    result = {"size": size, "data": str(data), "data_triples": input_lines,
              "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
              "reasoners": earlier}
    plan = [("ours-owl", args.ours_timeout), ("ours", args.ours_timeout),
            ("owlrl", args.owlrl_timeout)]
    if size in args.hermit_sizes:
        plan.append(("hermit", args.hermit_timeout))
    runs: dict[str, list[dict]] = {}
    for round_ in range(args.repeat):       # rounds interleave the reasoners
        for which, timeout in plan:
            if which not in args.reasoners or (round_ and not which.startswith("ours")):
                continue
            print(f"[{size}] {which} ...", file=sys.stderr, flush=True)
            runs.setdefault(which, []).append(run_child(which, data, timeout, args.memory_cap_mb))
            print(f"[{size}] {which}: {summary(runs[which][-1])}", file=sys.stderr, flush=True)
    for which, attempts in runs.items():
        result["reasoners"][which] = median_run(attempts)
    result["ratios"] = ratios(result["reasoners"])
    result["targets"] = targets(size, result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    result["reasoners"] = {k: result["reasoners"][k] for k in CHILDREN if k in result["reasoners"]}
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def median_run(attempts: list[dict]) -> dict:
    """The run with the median reasoning time (of those that finished), with every run's
    time and peak beside it when there were several (this machine's speed varies by a fifth
    from one minute to the next)."""
    done = sorted((r for r in attempts if r["status"] == "ok"), key=lambda r: r["reason_s"])
    if len(attempts) == 1 or not done:
        return attempts[-1]
    return {**done[(len(done) - 1) // 2], "median_of": len(attempts),
            "runs_reason_s": [r.get("reason_s") for r in attempts],
            "runs_peak_rss_mb": [r.get("peak_rss_mb") for r in attempts]}


def summary(r: dict) -> str:
    if r["status"] != "ok":
        return r["status"]
    return f"reason {r['reason_s']} s, peak {r['peak_rss_mb']} MiB, inferred {r['inferred']}"


def ratios(reasoners: dict) -> dict:
    """other/ours time, for ours without rules (the same OWL work as owlrl) and with them."""
    out = {}
    for base in ("ours-owl", "ours"):
        ours = reasoners.get(base, {})
        if ours.get("status") != "ok":
            continue
        for other in ("owlrl", "hermit"):
            r = reasoners.get(other, {})
            key = f"{other}/{base}"
            if r.get("status") == "ok":
                out[key + " reason time"] = round(r["reason_s"] / max(ours["reason_s"], 1e-3), 1)
                out[key + " total time"] = round(r["total_s"] / max(ours["total_s"], 1e-3), 1)
            elif r.get("status") == "did not finish":
                out[key + " reason time"] = f"> {r['limit_s'] / max(ours['reason_s'], 1e-3):.1f}"
    return out


def targets(size: str, result: dict) -> dict:
    """The issue's targets, checked on the OWL step (ours-owl) and, for information, with the
    SPARQL rules too (ours)."""
    out = {}
    for base in ("ours-owl", "ours"):
        ours = result["reasoners"].get(base, {})
        if parse_size(size) >= 1_000_000:
            ok = ours.get("status") == "ok"
            out[f"{base}: 1M total <= 60 s"] = ok and ours["total_s"] <= TARGET_SECONDS_1M
            out[f"{base}: 1M peak <= 2 GiB"] = ok and ours["peak_rss_mb"] <= TARGET_RSS_MB_1M
            out[f"{base}: 1M reasoning <= 30 s"] = ok and \
                ours["reason_s"] <= TARGET_REASON_SECONDS_1M
            out[f"{base}: 1M peak <= 1.5 GiB"] = ok and \
                ours["peak_rss_mb"] <= TARGET_REASON_RSS_MB_1M
        elif parse_size(size) == 100_000:
            ratio = result["ratios"].get(f"owlrl/{base} reason time")
            out[f"{base}: owlrl/ours >= 20 at 100k"] = (isinstance(ratio, float)
                                                       and ratio >= TARGET_SPEEDUP_100K)
    return out


def table(results: list[dict]) -> str:
    head = ("size", "reasoner", "status", "parse s", "reason s", "total s", "peak MiB", "inferred",
            "x/ours-owl / x/ours (reason)")
    rows = [head]
    for res in results:
        for which, r in res["reasoners"].items():
            ok = r["status"] == "ok"
            ratio = ("" if which.startswith("ours")
                     else f'{res["ratios"].get(f"{which}/ours-owl reason time", "")} / '
                          f'{res["ratios"].get(f"{which}/ours reason time", "")}')
            peak = r.get("peak_rss_mb", "")
            if which == "hermit" and ok:
                peak = f"{peak} (+java {r['java_peak_rss_mb']})"
            why = r.get("why") or f'time limit {r.get("limit_s", 0):.0f} s'
            status = "ok" if ok else f'{r["status"]} ({why})'
            rows.append((res["size"], which, status,
                         r.get("parse_s", ""), r.get("reason_s", f'>{r.get("wall_s", "")}'),
                         r.get("total_s", ""), peak, r.get("inferred", ""), ratio))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--hermit-sizes", default="10k,100k",
                        help="sizes at which HermiT (owlready2) also runs; '' for none")
    parser.add_argument("--owlrl-timeout", type=float, default=600)
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of our reasoners, interleaved; the median run is kept")
    parser.add_argument("--ours-timeout", type=float, default=600)
    parser.add_argument("--hermit-timeout", type=float, default=300)
    parser.add_argument("--memory-cap-mb", type=float, default=8192,
                        help="kill a reasoner whose resident memory passes this")
    parser.add_argument("--reasoners", default="ours-owl,ours,owlrl,hermit",
                        help="which to run now; results of the others are kept from an earlier "
                             "run's JSON for that size")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(CHILDREN[args.child](args.data)))
        return 0
    args.hermit_sizes = {s for s in args.hermit_sizes.split(",") if s}
    args.reasoners = {r for r in args.reasoners.split(",") if r}
    results = [bench_size(size, args) for size in args.sizes.split(",") if size]
    print(table(results))
    for res in results:
        for name, met in res["targets"].items():
            print(f"target {name}: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
