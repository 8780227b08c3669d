"""SHACL checks: every shape is named and has a message, every named shape has an example in
ontology/examples/ (with a ``# violates:`` header) that uses only declared terms, and the fact
shapes reach every subclass of tdkg:Fact. That the real ontology + data conform and that every
example breaks exactly the shape of its header is checked, for both SHACL engines (pyshacl and
the fast one), in test_validator_parity.py.

The data graph is the ontology plus the data, validated with ``inference="none"``:
the shapes rely on the ontology's rdfs:subClassOf triples being part of the data
graph (SHACL's own notion of "SHACL instance"). The bad examples are validated
together with the ontology's skeleton only (its rdf:type, rdfs:subClassOf,
rdfs:subPropertyOf, rdfs:domain and rdfs:range triples, which is everything the
shapes read from it); this keeps the whole-graph SPARQL checks fast enough to run
the examples in seconds. The examples themselves use only terms the ontology
declares, so that none of them breaks its shape through a misspelt name.
"""
from __future__ import annotations

import pathlib
import re

import pyshacl
import pytest
import rdflib
from rdflib.namespace import RDF, RDFS, SH

from tdkg.pipeline.load import parse_file
from tdkg.pipeline.vocabulary import Known, Vocabulary, findings, space_of, uses_of

ROOT = pathlib.Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology" / "tdkg.ttl"
SHAPES = ROOT / "ontology" / "shapes.ttl"
EXAMPLES = ROOT / "ontology" / "examples"
HEADER = re.compile(r"^#\s*violates:\s*<([^>]+)>", re.MULTILINE)


@pytest.fixture(scope="module")
def shapes_graph() -> rdflib.Graph:
    return rdflib.Graph().parse(SHAPES, format="turtle")


@pytest.fixture(scope="module")
def ontology_graph() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY, format="turtle")


@pytest.fixture(scope="module")
def ontology_skeleton(ontology_graph) -> rdflib.Graph:
    skeleton = rdflib.Graph()
    for p in (RDF.type, RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range):
        for t in ontology_graph.triples((None, p, None)):
            skeleton.add(t)
    return skeleton


def _validate(data: rdflib.Graph, shapes: rdflib.Graph):
    conforms, results, text = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=False
    )
    return conforms, results, text


def test_every_shape_is_named_and_has_a_message(shapes_graph):
    named = [
        s
        for cls in (SH.NodeShape, SH.PropertyShape)
        for s in shapes_graph.subjects(RDF.type, cls)
        if isinstance(s, rdflib.URIRef)
    ]
    assert len(named) >= 20
    for shape in named:
        has_message = any(shapes_graph.objects(shape, SH.message)) or any(
            shapes_graph.objects(c, SH.message) for c in shapes_graph.objects(shape, SH.sparql)
        )
        assert has_message, f"{shape} has no sh:message"


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.ttl"))


def test_one_example_per_named_shape(shapes_graph):
    named = {
        str(s)
        for cls in (SH.NodeShape, SH.PropertyShape)
        for s in shapes_graph.subjects(RDF.type, cls)
        if isinstance(s, rdflib.URIRef)
    }
    covered = {HEADER.search(f.read_text(encoding="utf-8")).group(1) for f in EXAMPLE_FILES}
    assert named == covered


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_bad_example_uses_only_declared_terms(example):
    """An example that broke its shape only because of a misspelt tdkg: term would prove
    nothing (and the build would refuse it before SHACL runs)."""
    ontology = parse_file(ONTOLOGY)
    known = Known(Vocabulary.of(ontology), frozenset(), frozenset(), frozenset())
    unknown = [f.message for f in findings(uses_of(parse_file(example)), known)
               if space_of(f.iri) == "vocabulary"]
    assert unknown == []


def test_fact_shapes_reach_every_subclass_of_fact(shapes_graph, ontology_skeleton):
    """If a node has a fact class that no shape names (tdkg:Visit, or tdkg:Rivalry two steps
    below tdkg:Fact) and lacks its source, status and label, then the common fact shapes
    still report it: the ontology's subclass axioms are part of the data graph."""
    data = rdflib.Graph()
    data += ontology_skeleton
    data.parse(data="""
        @prefix tdkg: <https://w3id.org/tdkg/ontology#> .
        [] a tdkg:Visit .
        [] a tdkg:Rivalry .
    """, format="turtle")
    conforms, results, text = _validate(data, shapes_graph)
    assert not conforms
    failed = {}
    for result in results.subjects(RDF.type, SH.ValidationResult):
        shape = str(results.value(result, SH.sourceShape))
        focus_types = set(data.objects(results.value(result, SH.focusNode), RDF.type))
        failed.setdefault(shape, set()).update(str(t) for t in focus_types)
    tdsh, tdkg = "https://w3id.org/tdkg/shapes#", "https://w3id.org/tdkg/ontology#"
    for shape in ("FactStatedInShape", "FactStatusShape", "FactLabelShape"):
        assert failed.get(tdsh + shape) == {tdkg + "Visit", tdkg + "Rivalry"}, text
