"""Step 2 of the build: check the asserted facts against the SHACL shapes in ``ontology/``.

The data graph is the ontology plus the asserted facts, so shapes can look at class axioms; no
inference is run first, so the shapes see exactly what was curated.

Two engines give the same validation results (``tests/test_validator_parity.py``):

* ``"pyshacl"``, the reference: SHACL Core and SHACL-SPARQL through pyshacl over rdflib graphs;
  seconds for the seed data, far too slow for a million triples.
* ``"fast"``: the shapes compiled to SPARQL queries run on an in-memory Oxigraph store
  (:mod:`tdkg.pipeline.shacl_sparql`). Shapes using a feature it does not compile are validated
  by the reference engine instead, and the figures say why.

:func:`validate_sources` is what the build calls.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pyoxigraph as ox
import rdflib

from . import shacl_sparql
from .convert import to_ox_term, to_rdflib_graph, to_rdflib_term
from .errors import ValidationError
from .load import parse_file
from .shacl_sparql import Result

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
ENGINES = ("fast", "pyshacl")
#: at most this many violations are listed in the error's message
REPORT_MAX = 50


def validate(data: rdflib.Graph, shapes: rdflib.Graph) -> None:
    """Raise :class:`ValidationError` with pyshacl's report when any shape is violated."""
    conforms, report_graph, report_text = _pyshacl(data, shapes)
    if not conforms:
        count = sum(1 for _ in report_graph.subjects(rdflib.RDF.type, SH.ValidationResult))
        raise ValidationError(report_text, count)


def load_shapes(paths: list[Path]) -> rdflib.Graph:
    """The shapes graph; a syntax error names file and line like any other source."""
    return to_rdflib_graph(t for path in paths for t in parse_file(path))


def validate_sources(ontology: list[ox.Triple], data: list[ox.Triple], shapes: list[Path], *,
                     engine: str = "fast") -> dict:
    """Validate ontology + data against the shapes files.

    Raises :class:`ValidationError` listing the violations (focus node, path, value, message;
    at most :data:`REPORT_MAX`) or returns figures: ``{"engine", "shapes", "constraints",
    "seconds"}`` (and ``"fallback"``, the reason, when "fast" had to use the reference)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown SHACL engine {engine!r}, expected one of {ENGINES}")
    started = time.perf_counter()
    shapes_graph = load_shapes(shapes)
    results, figures = run_engine(engine, ontology, data, shapes_graph)
    figures["seconds"] = round(time.perf_counter() - started, 3)
    failing = [r for r in results if r.severity == str(SH.Violation)]
    if failing:
        raise ValidationError(report(failing, names=_blank_labels(failing, data)), len(failing))
    return figures


LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


def _blank_labels(results: list[Result], data: list[ox.Triple]) -> dict[str, str]:
    """The label of each blank node a result names, so that the report says which one it is
    (a blank node's id is made up by the parser and found in no file)."""
    blanks = {str(t) for r in results for t in (r.focus, r.value) if isinstance(t, ox.BlankNode)}
    if not blanks:
        return {}
    return {str(t.subject): t.object.value for t in data
            if t.predicate.value == LABEL and str(t.subject) in blanks
            and isinstance(t.object, ox.Literal)}


def run_engine(engine: str, ontology: list[ox.Triple], data: list[ox.Triple],
               shapes_graph: rdflib.Graph) -> tuple[list[Result], dict]:
    """Every validation result (any severity) of one engine, and its figures."""
    fallback = None
    if engine == "fast":
        try:
            compiler = shacl_sparql.Compiler(shapes_graph)
            store, rewritten = shacl_sparql.load_store(ontology, data)
            workers = 2 if (len(ontology) + len(data) >= shacl_sparql.PARALLEL_MIN
                            and (os.cpu_count() or 1) > 1) else 1
            results = shacl_sparql.run(compiler, store, rewritten, workers)
            return results, {"engine": "fast", "shapes": len(compiler.top),
                             "constraints": len(compiler.checks), "processes": workers}
        except shacl_sparql.Unsupported as why:
            fallback = f"the fast engine does not handle {why}"
    data_graph = to_rdflib_graph(ontology)
    for t in data:
        data_graph.add((to_rdflib_term(t.subject), to_rdflib_term(t.predicate),
                        to_rdflib_term(t.object)))
    _, report_graph, _ = _pyshacl(data_graph, shapes_graph)
    results = pyshacl_results(report_graph, shapes_graph)
    figures = {"engine": "pyshacl", "shapes": len(_top_shapes(shapes_graph)),
               "constraints": None}
    if fallback:
        figures["fallback"] = fallback
    return results, figures


def _pyshacl(data: rdflib.Graph, shapes: rdflib.Graph):
    import pyshacl  # imported only when used: it takes about a second to import
    return pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=True,
                            allow_warnings=True)


def _top_shapes(shapes: rdflib.Graph) -> set:
    targets = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
    return {s for p in targets for s in shapes.subjects(p, None)}


def _ox(node):
    return None if node is None else to_ox_term(node)


def pyshacl_results(report_graph: rdflib.Graph, shapes_graph: rdflib.Graph) -> list[Result]:
    """pyshacl's report graph as :class:`Result` records (the fast engine's form)."""
    out = []
    for r in report_graph.subjects(rdflib.RDF.type, SH.ValidationResult):
        def one(p, r=r):
            return report_graph.value(r, p)
        path = one(SH.resultPath)
        shape = one(SH.sourceShape)
        message = one(SH.resultMessage)
        out.append(Result(
            _ox(one(SH.focusNode)),
            shacl_sparql.render_path(report_graph, path) if path is not None else None,
            _ox(one(SH.value)), str(one(SH.sourceConstraintComponent)), str(shape),
            str(one(SH.resultSeverity)), str(message) if message is not None else None))
    return out


def report(results: list[Result], limit: int = REPORT_MAX, per_shape: int = 10,
           names: dict[str, str] | None = None) -> str:
    """A readable report: per shape and constraint component, how many results and the shape's
    message, then the results (focus node, path, value), at most ``per_shape`` for each and
    ``limit`` in all; ``names`` gives a blank node's label to show beside it."""
    names = names or {}

    def term(node) -> str:
        label = names.get(str(node))
        return f'{node} (labelled "{label}")' if label is not None else str(node)

    def short(iri: str) -> str:
        for prefix, ns in (("tdsh:", "https://w3id.org/tdkg/shapes#"), ("sh:", str(SH))):
            if iri.startswith(ns):
                return prefix + iri[len(ns):]
        return f"<{iri}>"
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.shape, r.component), []).append(r)
    lines, shown = [], 0
    for (shape, component), group in sorted(groups.items()):
        group.sort(key=lambda r: (str(r.focus), str(r.value)))
        name = short(component).replace("ConstraintComponent", "")
        lines.append(f"{short(shape)} ({name}): {len(group)} result(s)")
        if group[0].message:
            lines.append(f"  {group[0].message}")
        listed = group[:max(0, min(per_shape, limit - shown))]
        for r in listed:
            lines.append(f"  - focus node {term(r.focus)}" + (f", path {r.path}" if r.path else "")
                         + (f", value {term(r.value)}" if r.value is not None else ""))
        shown += len(listed)
        if len(group) > len(listed):
            lines.append(f"  ... and {len(group) - len(listed)} more")
    return "\n".join(lines)
