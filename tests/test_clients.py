"""The clients integrators already have, unchanged, against the live server.

SPARQLWrapper: every query form (SELECT, ASK, CONSTRUCT, DESCRIBE) with every return format it
offers, by GET, form POST and direct POST. rdflib's ``SPARQLStore``: each ``returnFormat`` it
can parse, by each of its methods, for the four forms, and triples read through the store. Each
answer is compared with the same query answered through plain ``requests`` (SPARQL Results JSON
for solutions, N-Triples for graphs), never with values typed in here.

A return format that does not suit the query form (Turtle for a SELECT, CSV for a CONSTRUCT) is
what these clients send as ``format=`` with ``Accept: */*``: the endpoint answers the form's
default, and SPARQLWrapper warns that it got another format than it asked for; the tests expect
that warning, since pytest turns warnings into errors.
"""
from __future__ import annotations

import contextlib
import csv
import io
from xml.dom.minidom import Document

import pytest
import rdflib
import requests
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, XSD
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from SPARQLWrapper import (
    ASK,
    CONSTRUCT,
    CSV,
    DESCRIBE,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    SELECT,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)
from SPARQLWrapper import RDF as SW_RDF

from tdkg import namespaces as ns

PREFIXES = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX tdkg: <https://w3id.org/tdkg/ontology#>
PREFIX tdi: <https://w3id.org/tdkg/id/>
PREFIX schema: <https://schema.org/>
"""
#: labels (language-tagged), integers, decimals, booleans and anyURI literals, IRIs
TYPED = ("?p IN (tdkg:percentage, tdkg:localProduction, schema:url, tdkg:strength) "
         "|| (?p = rdfs:label && STRSTARTS(STR(?s), STR(tdi:b)))")
QUERIES = {
    SELECT: PREFIXES + f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER({TYPED}) }}",
    ASK: PREFIXES + "ASK { tdi:turkiye a ?class }",
    CONSTRUCT: PREFIXES + f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER({TYPED}) }}",
    DESCRIBE: PREFIXES + "DESCRIBE tdi:turkiye",
}
FALSE_ASK = PREFIXES + "ASK { tdi:turkiye a tdkg:Company }"
SW_FORMATS = [JSON, XML, TURTLE, N3, SW_RDF, RDFXML, CSV, TSV, JSONLD]
#: the formats SPARQLWrapper itself sends for each form (others get Accept: */*)
SW_FITS = {SELECT: {JSON, XML, CSV, TSV}, ASK: {JSON, XML, CSV, TSV},
           CONSTRUCT: {TURTLE, N3, XML, RDFXML, JSONLD},
           DESCRIBE: {TURTLE, N3, XML, RDFXML, JSONLD}}
METHODS = {"GET": None, "POST": URLENCODED, "POST-direct": POSTDIRECTLY}
XSD_STRING = str(XSD.string)


# --- the reference: plain requests --------------------------------------------------------------

def reference_rows(server, query: str) -> list[dict]:
    response = requests.get(server.url + "/sparql", params={"query": query}, timeout=60,
                            headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return response.json()["results"]["bindings"]


def reference_boolean(server, query: str) -> bool:
    response = requests.get(server.url + "/sparql", params={"query": query}, timeout=60,
                            headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return response.json()["boolean"]


def reference_graph(server, query: str) -> rdflib.Graph:
    response = requests.get(server.url + "/sparql", params={"query": query}, timeout=60,
                            headers={"Accept": "application/n-triples"})
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.text, format="nt")


@pytest.fixture(scope="module")
def reference(live_server) -> dict:
    rows = reference_rows(live_server, QUERIES[SELECT])
    graphs = {form: reference_graph(live_server, QUERIES[form]) for form in (CONSTRUCT, DESCRIBE)}
    assert len(rows) > 20 and len({r["o"].get("datatype") for r in rows}) >= 4
    assert len(graphs[CONSTRUCT]) == len(rows) and len(graphs[DESCRIBE]) > 10
    return {SELECT: _json_rows(rows), ASK: reference_boolean(live_server, QUERIES[ASK]),
            "csv": _text_rows(rows), **graphs}


# --- normalising answers --------------------------------------------------------------------------

def _key(kind: str, value: str, datatype: str | None = None, lang: str | None = None) -> tuple:
    if kind != "literal":
        return (kind, value)
    if lang:
        return ("literal", value, "lang:" + lang.lower())
    return ("literal", value, datatype or XSD_STRING)


def _json_rows(bindings: list[dict]) -> set[frozenset]:
    kinds = {"uri": "uri", "literal": "literal", "typed-literal": "literal", "bnode": "bnode"}
    return {frozenset((var, _key(kinds[t["type"]], t["value"], t.get("datatype"),
                                 t.get("xml:lang"))) for var, t in row.items())
            for row in bindings}


def _xml_rows(doc: Document) -> set[frozenset]:
    rows = set()
    for result in doc.getElementsByTagName("result"):
        row = []
        for binding in result.getElementsByTagName("binding"):
            node = next(n for n in binding.childNodes if n.nodeType == n.ELEMENT_NODE)
            text = "".join(c.data for c in node.childNodes if c.nodeType == c.TEXT_NODE)
            kind = {"uri": "uri", "literal": "literal", "bnode": "bnode"}[node.tagName]
            row.append((binding.getAttribute("name"),
                        _key(kind, text, node.getAttribute("datatype") or None,
                             node.getAttribute("xml:lang") or None)))
        rows.add(frozenset(row))
    return rows


def _rdflib_rows(result: Result) -> set[frozenset]:
    return {frozenset((str(var), _rdflib_key(term)) for var, term in row.asdict().items())
            for row in result}


def _rdflib_key(term) -> tuple:
    if isinstance(term, Literal):
        return _key("literal", str(term), str(term.datatype) if term.datatype else None,
                    term.language)
    return ("uri" if isinstance(term, URIRef) else "bnode", str(term))


def _text_rows(bindings: list[dict]) -> set[frozenset]:
    """What CSV keeps of a solution: the text of each value."""
    return {frozenset((var, t["value"]) for var, t in row.items()) for row in bindings}


def _csv_rows(text: str) -> set[frozenset]:
    table = list(csv.reader(io.StringIO(text)))
    return {frozenset((h, v) for h, v in zip(table[0], row) if v) for row in table[1:]}


def _as_graph(answer) -> rdflib.Graph:
    """A SPARQLWrapper graph answer (text, or an rdflib graph) as one rdflib Graph."""
    if isinstance(answer, bytes | str):
        return rdflib.Graph().parse(data=answer, format="turtle")
    graph = rdflib.Graph()
    for triple in answer.triples((None, None, None)):
        graph.add(triple)
    return graph


# --- SPARQLWrapper ------------------------------------------------------------------------------

def _wrapper(server, query: str, fmt: str, method: str) -> SPARQLWrapper:
    sparql = SPARQLWrapper(server.url + "/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    if METHODS[method] is not None:
        sparql.setMethod(POST)
        sparql.setRequestMethod(METHODS[method])
    return sparql


def _expect_mismatch_warning(form: str, fmt: str):
    """SPARQLWrapper warns when it asks for a format that does not suit the query form."""
    if fmt in SW_FITS[form]:
        return contextlib.nullcontext()
    return pytest.warns(RuntimeWarning)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fmt", SW_FORMATS)
@pytest.mark.parametrize("form", [SELECT, ASK, CONSTRUCT, DESCRIBE])
def test_sparqlwrapper(live_server, reference, form, fmt, method):
    sparql = _wrapper(live_server, QUERIES[form], fmt, method)
    with _expect_mismatch_warning(form, fmt):
        result = sparql.query()
        answer = result.convert()
    media = result.info()["content-type"].split(";")[0]
    if form == SELECT:
        _check_select(reference, fmt, media, answer)
    elif form == ASK:
        _check_ask(reference, fmt, media, answer)
    else:
        assert isomorphic(_as_graph(answer), reference[form]), (form, fmt, media)


def _check_select(reference: dict, fmt: str, media: str, answer) -> None:
    if fmt == XML:
        assert media == "application/sparql-results+xml"
        assert _xml_rows(answer) == reference[SELECT]
    elif fmt == CSV:
        assert media == "text/csv"
        assert _csv_rows(answer.decode("utf-8")) == reference["csv"]
    elif fmt == TSV:
        assert media == "text/tab-separated-values"
        assert _rdflib_rows(Result.parse(io.BytesIO(answer), format="tsv")) == reference[SELECT]
    else:       # JSON, and every graph format: the endpoint's default, JSON
        assert media == "application/sparql-results+json"
        assert _json_rows(answer["results"]["bindings"]) == reference[SELECT]


def _check_ask(reference: dict, fmt: str, media: str, answer) -> None:
    if fmt == XML:
        boolean = answer.getElementsByTagName("boolean")[0].firstChild.data
        assert boolean == str(reference[ASK]).lower()
    elif fmt in (CSV, TSV):
        assert answer.decode("utf-8").split()[-1] == str(reference[ASK]).lower()
    else:
        assert media == "application/sparql-results+json"
        assert answer["boolean"] is reference[ASK]


@pytest.mark.parametrize("method", METHODS)
def test_sparqlwrapper_false_ask_and_query_results(live_server, method):
    sparql = _wrapper(live_server, FALSE_ASK, JSON, method)
    assert sparql.query().convert()["boolean"] is reference_boolean(live_server, FALSE_ASK)
    assert reference_boolean(live_server, FALSE_ASK) is False


def test_sparqlwrapper_sends_what_the_endpoint_now_reads(live_server):
    """The requests behind the 406s of the issue: format= twice, the second a comma list."""
    sparql = _wrapper(live_server, QUERIES[CONSTRUCT], JSONLD, "GET")
    request = sparql._createRequest()
    assert "format=json-ld&format=application/ld%2Bjson%2Capplication/x-json%2Bld" in \
        request.full_url
    assert sparql.query().info()["content-type"].startswith("application/ld+json")


# --- rdflib SPARQLStore ---------------------------------------------------------------------------

STORE_FORMATS = ["xml", "json", "csv", "tsv"]
STORE_METHODS = ["GET", "POST", "POST_FORM"]


def _store(server, fmt: str, method: str) -> SPARQLStore:
    return SPARQLStore(server.url + "/sparql", returnFormat=fmt, method=method)


@pytest.mark.parametrize("method", STORE_METHODS)
@pytest.mark.parametrize("fmt", STORE_FORMATS)
def test_sparqlstore_select(live_server, reference, fmt, method):
    graph = rdflib.Graph(store=_store(live_server, fmt, method))
    result = graph.query(QUERIES[SELECT])
    if fmt == "csv":        # CSV keeps only the text of each value
        assert {frozenset((str(v), str(t)) for v, t in row.asdict().items())
                for row in result} == reference["csv"]
    else:
        assert _rdflib_rows(result) == reference[SELECT]


@pytest.mark.parametrize("method", STORE_METHODS)
@pytest.mark.parametrize("fmt", STORE_FORMATS)
def test_sparqlstore_ask(live_server, reference, fmt, method):
    graph = rdflib.Graph(store=_store(live_server, fmt, method))
    assert graph.query(QUERIES[ASK]).askAnswer is reference[ASK]
    assert graph.query(FALSE_ASK).askAnswer is False


@pytest.mark.parametrize("method", STORE_METHODS)
@pytest.mark.parametrize("fmt", STORE_FORMATS)
@pytest.mark.parametrize("form", [CONSTRUCT, DESCRIBE])
def test_sparqlstore_graph_queries(live_server, reference, form, fmt, method):
    """returnFormat json or csv once got 406 on CONSTRUCT (it asks for SPARQL results only)."""
    graph = rdflib.Graph(store=_store(live_server, fmt, method))
    result = graph.query(QUERIES[form])
    assert isomorphic(result.graph, reference[form])


@pytest.mark.parametrize("fmt", STORE_FORMATS)
def test_sparqlstore_iterates_triples(live_server, fmt):
    """Graph iteration and ``triples`` go through the store's own SELECTs and ASKs."""
    ontology = URIRef(ns.GRAPH_ONTOLOGY)
    graph = rdflib.Graph(store=_store(live_server, fmt, "GET"), identifier=ontology)
    classes = {URIRef(r["c"]["value"]) for r in reference_rows(
        live_server, f"SELECT ?c WHERE {{ GRAPH <{ontology}> {{ ?c a <{OWL.Class}> }} }}")}
    assert classes and set(graph.subjects(RDF.type, OWL.Class)) == classes
    count = int(reference_rows(live_server, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH "
                                            f"<{ontology}> {{ ?s ?p ?o }} }}")[0]["n"]["value"])
    assert sum(1 for _ in graph) == count > 1000
    assert len(graph) == count
    some_class = min(classes)
    assert (some_class, RDF.type, OWL.Class) in graph
    assert (some_class, RDF.type, URIRef("urn:x:nothing")) not in graph
