"""Step 2 of the build: check the asserted facts against the SHACL shapes in ``ontology/``.

Implements SHACL Core (W3C Recommendation) through pyshacl. The data graph is the ontology plus
the asserted facts, so shapes can look at class axioms; no inference is run first, so the shapes
see exactly what was curated.

:func:`validate_sources` is what the build calls: it takes the parsed triples and an ``engine``
("pyshacl", the reference, or "fast").
"""
from __future__ import annotations

import time
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import rdflib

from .convert import to_rdflib_graph, to_rdflib_term
from .errors import ValidationError
from .load import parse_file

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
ENGINES = ("fast", "pyshacl")
#: at most this many violations are listed in the error's message
REPORT_MAX = 50


def validate(data: rdflib.Graph, shapes: rdflib.Graph) -> None:
    """Raise :class:`ValidationError` with a readable report when any shape is violated."""
    conforms, report_graph, report_text = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    if not conforms:
        count = sum(1 for _ in report_graph.subjects(rdflib.RDF.type, SH.ValidationResult))
        raise ValidationError(report_text, count)


def load_shapes(paths: list[Path]) -> rdflib.Graph:
    """The shapes graph; a syntax error names file and line like any other source."""
    return to_rdflib_graph(t for path in paths for t in parse_file(path))


def validate_sources(ontology: list[ox.Triple], data: list[ox.Triple], shapes: list[Path], *,
                     engine: str = "fast") -> dict:
    """Validate ontology + data against the shapes files; raise :class:`ValidationError` listing
    the violations (focus node, path, value, message; at most :data:`REPORT_MAX`), or return
    figures: ``{"engine", "shapes", "constraints", "seconds"}``."""
    if engine not in ENGINES:
        raise ValueError(f"unknown SHACL engine {engine!r}, expected one of {ENGINES}")
    started = time.perf_counter()
    data_graph = to_rdflib_graph(ontology)
    for t in data:
        data_graph.add((to_rdflib_term(t.subject), to_rdflib_term(t.predicate),
                        to_rdflib_term(t.object)))
    shapes_graph = load_shapes(shapes)
    validate(data_graph, shapes_graph)
    named = {s for c in (SH.NodeShape, SH.PropertyShape)
             for s in shapes_graph.subjects(rdflib.RDF.type, c)}
    return {"engine": "pyshacl", "shapes": len(named), "constraints": None,
            "seconds": round(time.perf_counter() - started, 3)}

