"""The fast SHACL engine (shapes compiled to SPARQL on Oxigraph) against the reference (pyshacl):
the same validation results, compared as (focus node, path, value, constraint component, source
shape, severity), on every example of ontology/examples/, on the real data and on a copy of the
real data with faults put in. Also what validate_sources reports and raises.

The examples are validated with the ontology's skeleton (as in test_shapes.py), so that pyshacl
takes a fraction of a second each; the real data with the whole ontology, as the build does.
"""
from __future__ import annotations

import pathlib
import re

import pyoxigraph as ox
import pytest
import rdflib

from tdkg.pipeline import validate as V
from tdkg.pipeline.errors import ValidationError
from tdkg.pipeline.load import parse_file, source_files

ROOT = pathlib.Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology" / "tdkg.ttl"
SHAPES = ROOT / "ontology" / "shapes.ttl"
EXAMPLES = sorted((ROOT / "ontology" / "examples").glob("*.ttl"))
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
TDKG = "https://w3id.org/tdkg/ontology#"
XSD = "http://www.w3.org/2001/XMLSchema#"
HEADER = re.compile(r"^#\s*violates:\s*<([^>]+)>", re.MULTILINE)
SKELETON = {RDF + "type", RDFS + "subClassOf", RDFS + "subPropertyOf", RDFS + "domain",
            RDFS + "range"}


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return V.load_shapes([SHAPES])


@pytest.fixture(scope="module")
def ontology() -> list[ox.Triple]:
    return parse_file(ONTOLOGY)


@pytest.fixture(scope="module")
def skeleton(ontology) -> list[ox.Triple]:
    return [t for t in ontology if t.predicate.value in SKELETON]


@pytest.fixture(scope="module")
def data() -> list[ox.Triple]:
    files = source_files(ROOT / "data" / "ttl")
    assert files
    return [t for f in files for t in parse_file(f)]


def _value(term) -> str:
    """A term as the reference engine's graph holds it (rdflib's normal lexical form)."""
    if isinstance(term, ox.Literal) and not term.language:
        normal = rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
        return f'"{normal}"^^<{term.datatype.value}>'
    return str(term)


def results(engine: str, ontology, data, shapes) -> set[tuple]:
    found, figures = V.run_engine(engine, ontology, data, shapes)
    assert figures["engine"] == engine, figures
    keys = {(str(r.focus), r.path, _value(r.value) if r.value is not None else None,
             r.component, r.shape, r.severity) for r in found}
    assert len(keys) == len(found), "an engine reported a result twice"
    return keys


def assert_same(ontology, data, shapes) -> set[tuple]:
    fast = results("fast", ontology, data, shapes)
    reference = results("pyshacl", ontology, data, shapes)
    assert fast == reference, (f"only fast: {sorted(fast - reference, key=str)}\n"
                               f"only pyshacl: {sorted(reference - fast, key=str)}")
    return fast


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_same_results(example, skeleton, shapes):
    """Both engines agree, and what they find is a breach of exactly the shape named in the
    example's ``# violates:`` header (test_shapes.py checks that every shape has one)."""
    header = HEADER.search(example.read_text(encoding="utf-8"))
    assert header, f"{example.name} lacks a '# violates: <shape IRI>' header"
    assert (rdflib.URIRef(header.group(1)), None, None) in shapes, header.group(1)
    found = assert_same(skeleton, parse_file(example), shapes)
    assert {key[4] for key in found} == {header.group(1)}, found


def test_real_data_same_results(ontology, data, shapes):
    """The real data conform, for both engines."""
    assert assert_same(ontology, data, shapes) == set()


def test_incomparable_value_follows_shacl(skeleton, shapes):
    """The one known difference: a value that cannot be compared with a bound (an xsd:gYear
    against the integer bounds of the year shape) fails both sh:minInclusive and
    sh:maxInclusive in the fast engine, as SHACL says (the comparison is not true); pyshacl
    orders literals of different datatypes (rdflib's ORDER BY rules) and reports only one."""
    data = [ox.Triple(ox.NamedNode("https://w3id.org/tdkg/id/x"), ox.NamedNode(TDKG + "year"),
                      ox.Literal("2020", datatype=ox.NamedNode(XSD + "gYear"))),
            ox.Triple(ox.NamedNode("https://w3id.org/tdkg/id/x"), ox.NamedNode(RDFS + "label"),
                      ox.Literal("x", language="en"))]
    fast = results("fast", skeleton, data, shapes)
    reference = results("pyshacl", skeleton, data, shapes)
    components = {key[3].rsplit("#", 1)[1] for key in fast - reference}
    assert reference < fast and components == {"MaxInclusiveConstraintComponent"}, fast
    assert {key[3].rsplit("#", 1)[1] for key in fast if key[4].endswith("#YearShape")} == {
        "DatatypeConstraintComponent", "MinInclusiveConstraintComponent",
        "MaxInclusiveConstraintComponent"}


def faulty(data: list[ox.Triple]) -> list[ox.Triple]:
    """The real data less every third status and every fifth label, plus one fault of each
    kind the shapes check (cardinality, class, datatype, ill-formed literal, range, node kind,
    a literal Oxigraph stores in another form, a whole-graph SPARQL check)."""
    kept, statuses, labels = [], 0, 0
    for t in data:
        if t.predicate.value == TDKG + "status":
            statuses += 1
            if statuses % 3 == 0:
                continue
        elif t.predicate.value == RDFS + "label":
            labels += 1
            if labels % 5 == 0:
                continue
        kept.append(t)

    def first(predicate: str):
        return next(t.subject for t in data if t.predicate.value == TDKG + predicate)

    def add(s, p: str, o):
        kept.append(ox.Triple(s, ox.NamedNode(p), o))

    def lit(value: str, datatype: str):
        return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype))
    dated, money, voiced = first("year"), first("amount"), first("claimedBy")
    fact = first("statedIn")
    add(dated, TDKG + "year", lit("1850", "integer"))
    add(dated, RDFS + "comment", lit("2020", "gYear"))
    add(dated, TDKG + "month", lit("13", "integer"))
    add(dated, TDKG + "month", lit("05", "integer"))
    add(money, TDKG + "amount", lit("-5.00", "decimal"))
    add(money, TDKG + "percentage", lit("12.50", "decimal"))
    add(money, TDKG + "percentage", lit("twelve", "decimal"))
    add(voiced, TDKG + "claimedBy", ox.Literal("someone", language="en"))
    add(fact, TDKG + "statedIn", voiced)
    add(fact, RDFS + "label", ox.Literal("no language"))
    add(voiced, TDKG + "status", ox.NamedNode(TDKG + "notTheCase"))
    add(fact, TDKG + "citation", ox.BlankNode("not-a-footnote"))
    return kept


@pytest.fixture(scope="module")
def faulty_results(ontology, data, shapes) -> set[tuple]:
    return assert_same(ontology, faulty(data), shapes)


def test_faulty_data_same_results(faulty_results):
    found = faulty_results
    components = {key[3].rsplit("#", 1)[1] for key in found}
    # the faults reach many kinds of constraint, not only the removed statuses and labels
    assert {"MinCountConstraintComponent", "MaxCountConstraintComponent",
            "ClassConstraintComponent", "DatatypeConstraintComponent",
            "MinInclusiveConstraintComponent", "MaxInclusiveConstraintComponent",
            "NodeKindConstraintComponent", "OrConstraintComponent",
            "SPARQLConstraintComponent", "InConstraintComponent"} <= components, components
    values = {key[2] for key in found}
    assert '"-5.00"^^<http://www.w3.org/2001/XMLSchema#decimal>' in values


def test_validate_sources_passes_and_reports(ontology, data, faulty_results):
    figures = V.validate_sources(ontology, data, [SHAPES])
    assert figures["engine"] == "fast" and figures["shapes"] >= 20
    assert figures["constraints"] >= figures["shapes"] and figures["seconds"] >= 0
    with pytest.raises(ValidationError) as caught:
        V.validate_sources(ontology, faulty(data), [SHAPES], engine="fast")
    err = caught.value
    assert err.count == len(faulty_results)
    text = str(err)
    assert f"{err.count} violation(s)" in text
    assert "tdsh:MonetaryAmountShape (sh:MinInclusive): 1 result(s)\n" in text
    assert "non-negative xsd:decimal tdkg:amount" in text           # the shape's message
    found, _ = V.run_engine("fast", ontology, faulty(data), V.load_shapes([SHAPES]))
    amount = V.report([r for r in found if r.shape.endswith("#MonetaryAmountShape")])
    assert amount.startswith("tdsh:MonetaryAmountShape (sh:MaxCount): 1 result(s)\n"), amount
    assert ("  - focus node <https://w3id.org/tdkg/id/" in amount
            and ', path <https://w3id.org/tdkg/ontology#amount>, value "-5.00"^^<'
            'http://www.w3.org/2001/XMLSchema#decimal>' in amount), amount
    labels = sum(1 for key in faulty_results if key[4].endswith("#EntityLabelShape"))
    assert f"tdsh:EntityLabelShape (sh:SPARQL): {labels} result(s)" in text
    assert f"... and {labels - 10} more" in text                    # ten listed per shape
    assert text.count("\n  - ") == V.REPORT_MAX                     # and fifty in all
    with pytest.raises(ValueError, match="unknown SHACL engine"):
        V.validate_sources(ontology, data, [SHAPES], engine="quick")


def test_unsupported_shape_falls_back_to_reference(tmp_path):
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text("""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ;
            sh:property [ sh:path ex:p ; sh:qualifiedValueShape [ sh:class ex:D ] ;
                          sh:qualifiedMinCount 1 ] .
    """, encoding="utf-8")
    data = parse_file(shapes)[:0] + [ox.Triple(
        ox.NamedNode("http://example.org/x"), ox.NamedNode(RDF + "type"),
        ox.NamedNode("http://example.org/C"))]
    with pytest.raises(ValidationError, match="QualifiedMinCount"):
        V.validate_sources([], data, [shapes])
    _, figures = V.run_engine("fast", [], data, V.load_shapes([shapes]))
    assert figures["engine"] == "pyshacl"
    assert "qualifiedValueShape" in figures["fallback"]


def test_forked_queries_give_the_same_rows(ontology, data, shapes):
    """Above PARALLEL_MIN triples a forked child runs about half of the queries: its rows are
    the ones this process computes (here on the faulted seed data, forced)."""
    import threading

    from tdkg.pipeline import shacl_sparql as S
    compiler = S.Compiler(shapes)
    store, rewritten = S.load_store(ontology, faulty(data))
    jobs = list(zip(compiler.checks, S.resolve_closures([c.query for c in compiler.checks],
                                                        store)))
    forked = S._rows_parallel(store, jobs)
    if threading.active_count() > 1:        # a fork would not copy the other threads
        assert forked is None
        return
    assert forked == [S._rows(store, check, query) for check, query in jobs]
    assert sum(map(len, forked)) > 0
    serial = S.run(compiler, store, rewritten, workers=1)
    assert sorted(map(repr, S.run(compiler, store, rewritten, workers=2))) == \
        sorted(map(repr, serial))
