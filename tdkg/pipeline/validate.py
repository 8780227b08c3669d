"""Step 2 of the build: check the asserted facts against the SHACL shapes in ``ontology/``.

Implements SHACL Core (W3C Recommendation) through pyshacl. The data graph is the ontology plus
the asserted facts, so shapes can look at class axioms; no inference is run first, so the shapes
see exactly what was curated.
"""
from __future__ import annotations

from pathlib import Path

import pyshacl
import rdflib

from .convert import to_rdflib_graph
from .errors import ValidationError
from .load import parse_file

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")


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
