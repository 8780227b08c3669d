"""The build's rdflib graphs: the hand-written converter against oxrdflib, end to end.

The build parses with pyoxigraph, then needs rdflib graphs for pyshacl (validation) and for the
OWL export (the RDF/XML files and the ontology's HTML page). This script builds those graphs
from the same triples in three ways and times what the build does with them:

* ``converter``: ``tdkg.pipeline.convert.to_rdflib_graph`` into rdflib's in-memory store (the
  build's way);
* ``oxrdflib``: the triples bulk-loaded into an in-memory pyoxigraph store, seen as rdflib graphs
  through oxrdflib's ``Oxigraph`` store (terms converted on every read);
* ``ox-native`` (validation only, with ``--native``): the pyoxigraph store handed to pyshacl
  as is, which pyshacl 0.40 wraps in oxrdflib itself (its working copy stays in Oxigraph).

It checks that pyshacl reports the same results every way (on the seed data, and on a copy with
faults put in so that there is something to report) and compares the OWL files' graphs: the
oxrdflib graphs sit on an Oxigraph store, which keeps numbers in canonical form, so literals
such as ``5.0`` come out as ``5`` (counted and shown; any other difference fails).

Usage::

    python bench/convert.py [--synthetic 100k] [--rounds 3] [--native] [--validate-synthetic]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import rdflib
from oxrdflib import OxigraphStore
from rdflib.compare import graph_diff, to_isomorphic
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # the sibling module: bench/ is no package

from tdkg.pipeline.build import Inputs
from tdkg.pipeline.convert import to_rdflib_graph
from tdkg.pipeline.load import load_sources
from tdkg.pipeline.ontology_html import HTML_FILE
from tdkg.pipeline.owl_export import (
    FULL_FILE,
    ONTOLOGY_FILE,
    export_documentation,
    export_owl,
)
from tdkg.pipeline.validate import load_shapes

PROJECT = Path(__file__).resolve().parents[1]
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
TDKG_STATUS = ox.NamedNode("https://w3id.org/tdkg/ontology#status")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")


# --- the three ways to make graphs ---------------------------------------------------------------
def by_converter(ontology: list[ox.Triple], data: list[ox.Triple]):
    """As the build does: two rdflib graphs; pyshacl gets their sum (a third in-memory copy)."""
    onto, facts = to_rdflib_graph(ontology), to_rdflib_graph(data)
    return onto, facts, lambda: onto + facts


def by_oxrdflib(ontology: list[ox.Triple], data: list[ox.Triple]):
    """One in-memory Oxigraph store: a named graph each, and both in the default graph."""
    store, graphs = ox.Store(), {}
    for name, triples in (("urn:x-tdkg:ontology", ontology), ("urn:x-tdkg:data", data)):
        graphs[name] = ox.NamedNode(name)
        store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, graphs[name]) for t in triples)
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for t in [*ontology, *data])
    wrapped = OxigraphStore(store=store)
    onto, facts = (rdflib.Graph(wrapped, rdflib.URIRef(n)) for n in graphs)
    both = rdflib.Graph(wrapped, DATASET_DEFAULT_GRAPH_ID)
    return onto, facts, lambda: both


def native_store(ontology: list[ox.Triple], data: list[ox.Triple]) -> ox.Store:
    store = ox.Store()
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for t in [*ontology, *data])
    return store


# --- what the build does with them -------------------------------------------------------------
def validate(data_graph, shapes: rdflib.Graph) -> tuple[bool, rdflib.Graph]:
    """pyshacl exactly as tdkg.pipeline.validate calls it; the report graph is returned."""
    conforms, report, _ = pyshacl.validate(data_graph, shacl_graph=shapes, inference="none",
                                           advanced=True, allow_warnings=True)
    return conforms, report


def results_of(report: rdflib.Graph) -> set[tuple]:
    """Each validation result as (focus, path, value, constraint, shape, severity): blank-node
    free where the shapes name things, so two runs' reports compare as sets."""
    rows = set()
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        rows.add(tuple(_term(report.value(result, p)) for p in (
            SH.focusNode, SH.resultPath, SH.value, SH.sourceConstraintComponent,
            SH.sourceShape, SH.resultSeverity)))
    return rows


def _term(node):
    return "_:b" if isinstance(node, rdflib.BNode) else node


# --- inputs --------------------------------------------------------------------------------------
def seed() -> tuple[list[ox.Triple], list[ox.Triple]]:
    inputs = Inputs.of(PROJECT / "ontology", PROJECT / "data" / "ttl")
    sources = load_sources(inputs.ontology, inputs.data)
    return sources.ontology, sources.data


def faulty(data: list[ox.Triple]) -> list[ox.Triple]:
    """The seed data less every third status and every fifth label: shapes that require them
    then report violations, so that reports with something in them can be compared."""
    statuses = labels = 0
    kept = []
    for t in data:
        if t.predicate == TDKG_STATUS:
            statuses += 1
            if statuses % 3 == 0:
                continue
        elif t.predicate == RDFS_LABEL:
            labels += 1
            if labels % 5 == 0:
                continue
        kept.append(t)
    return kept


def synthetic(size: int) -> list[ox.Triple]:
    lines = "".join(f"{s} {p} {o} .\n" for s, p, o in generate.Generator(size, 42).triples())
    return [q.triple for q in ox.parse(lines.encode(), ox.RdfFormat.N_TRIPLES)]


def shapes_graph() -> rdflib.Graph:
    return load_shapes(Inputs.of(PROJECT / "ontology", PROJECT / "data" / "ttl").shapes)


# --- measuring -----------------------------------------------------------------------------------
def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def table(title: str, rows: Iterable[tuple[str, ...]]) -> None:
    print(f"\n{title}")
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, line in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


WAYS = {"converter": by_converter, "oxrdflib": by_oxrdflib}


def measure_graphs(label: str, ontology, data, rounds: int, shapes, *, validation: bool,
                   owl: bool, native: bool) -> list[tuple[str, ...]]:
    with tempfile.TemporaryDirectory(prefix="convert-") as tmp:
        return _measure(label, ontology, data, rounds, shapes, Path(tmp), validation=validation,
                        owl=owl, native=native)


def _measure(label: str, ontology, data, rounds: int, shapes, tmp: Path, *, validation: bool,
             owl: bool, native: bool) -> list[tuple[str, ...]]:
    """One row per way: graph build, validation, OWL export and their sum (the build's share).
    The ways take turns, ``rounds`` times; the best time of each step is kept (the machine is
    shared, so the least disturbed run is the one that says what the code costs)."""
    best: dict[tuple[str, str], float] = {}
    reports, exported = {}, {}

    def keep(way: str, step: str, took: float) -> None:
        best[way, step] = min(took, best.get((way, step), took))

    for _ in range(rounds):
        for name, make in WAYS.items():
            took, (onto, facts, both) = timed(partial(make, ontology, data))
            keep(name, "build", took)
            if validation:
                took, reports[name] = timed(lambda both=both: validate(both(), shapes))
                keep(name, "validate", took)
            if owl:
                out = tmp / name
                took, exported[name] = timed(partial(export_owl, onto, facts, out))
                keep(name, "owl", took)
                took, _ = timed(partial(export_documentation, onto, out))
                keep(name, "page", took)
    if validation and native:     # once: it takes minutes
        took, store = timed(partial(native_store, ontology, data))
        keep("ox-native", "build", took)
        took, reports["ox-native"] = timed(partial(validate, store, shapes))
        keep("ox-native", "validate", took)
    check_same(label, reports, exported)
    ways = [*WAYS, *(["ox-native"] if validation and native else [])]
    return [row(f"{label}: {way}", [best.get((way, step)) for step in STEPS]) for way in ways]


def seconds(value: float) -> str:
    return f"{value:.2f} s"


STEPS = ("build", "validate", "owl", "page")
HEADER = ("data: way", "build graphs", "pyshacl", "OWL files", "ontology page", "sum")


def row(label: str, steps: list[float | None]) -> tuple:
    return (label, *("–" if s is None else seconds(s) for s in steps),
            seconds(sum(s for s in steps if s is not None)))


def check_same(label: str, reports: dict, exported: dict) -> None:
    """Fail loudly unless every way gave pyshacl's same results and the same OWL graphs."""
    results = {name: (conforms, results_of(report)) for name, (conforms, report) in reports.items()}
    first = next(iter(results.values()), None)
    for name, value in results.items():
        if value != first:
            raise SystemExit(f"{label}: pyshacl's results differ between ways ({name})")
    if first is not None:
        print(f"{label}: pyshacl conforms={first[0]}, {len(first[1])} results, the same "
              f"for {', '.join(results)}")
    for file in (ONTOLOGY_FILE, FULL_FILE) if exported else ():
        graphs = {name: rdflib.Graph().parse(paths["ontology"].parent / file, format="xml")
                  for name, paths in exported.items()}
        print(f"{label}: {file}: {compare_files(graphs)}")
    if exported:
        pages = {(paths["ontology"].parent / HTML_FILE).read_text() for paths in exported.values()}
        if len(pages) != 1:
            raise SystemExit(f"{label}: {HTML_FILE} differs between ways")
        print(f"{label}: {HTML_FILE}: the same page either way")


def compare_files(graphs: dict[str, rdflib.Graph]) -> str:
    """'the same graph', or how the oxrdflib file differs: literals whose lexical form changed
    but not their value are counted, anything else fails."""
    mine, theirs = to_isomorphic(graphs["converter"]), to_isomorphic(graphs["oxrdflib"])
    if mine == theirs:
        return "the same graph either way"
    _, only_mine, only_theirs = graph_diff(mine, theirs)
    rewritten = {(s, p, o) for s, p, o in only_mine
                 if isinstance(o, rdflib.Literal) and any(
                     o.eq(o2) and o2 != o for o2 in only_theirs.objects(s, p))}
    if len(rewritten) != len(only_mine) or len(only_mine) != len(only_theirs):
        raise SystemExit(f"the files differ in more than lexical forms: {sorted(only_mine)[:5]}")
    pairs = {f"{o} → {only_theirs.value(s, p)}" for s, p, o in rewritten}
    examples = ", ".join(sorted(pairs)[:3])
    return (f"{len(rewritten)} literals have another lexical form (same value) through "
            f"oxrdflib, e.g. {examples}: the Oxigraph store keeps numbers in canonical form")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synthetic", type=generate.parse_size, default=100_000,
                    help="size of the synthetic data (0: seed data only)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="turns of each way; the best time of each step is shown")
    ap.add_argument("--native", action="store_true",
                    help="also run pyshacl over the bare pyoxigraph store (once; minutes)")
    ap.add_argument("--validate-synthetic", action="store_true",
                    help="run pyshacl on the synthetic data too (minutes)")
    options = ap.parse_args(argv)
    shapes = shapes_graph()
    ontology, data = seed()
    rows = [HEADER]
    rows += measure_graphs(f"seed ({len(ontology) + len(data)})", ontology, data,
                           options.rounds, shapes, validation=True, owl=True,
                           native=options.native)
    rows += measure_graphs("seed with faults", ontology, faulty(data), 1, shapes,
                           validation=True, owl=False, native=False)
    if options.synthetic:
        synth = synthetic(options.synthetic)
        rows += measure_graphs(f"synthetic ({len(ontology) + len(synth)})", ontology, synth,
                               options.rounds, shapes, validation=options.validate_synthetic,
                               owl=True, native=False)
    table(f"Wall-clock seconds, best of {options.rounds} turns (seed with faults: one turn)",
          rows)
    return 0

if __name__ == "__main__":
    sys.exit(main())
