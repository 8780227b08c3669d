"""The SPARQL 1.1 Service Description of the default (read-only) server over the real build.

The W3C suite's three mf:ServiceDescriptionTest give only names, so each is written out here:
``returns-rdf``, ``has-endpoint-triple`` and ``conforms-to-schema`` (checked with the SHACL shapes
of ``tests/shapes/service-description.ttl``). The VoID figures TDKG adds are checked against the
store itself, and every advertised result format against what the endpoint serves.
"""
from __future__ import annotations

from pathlib import Path

import pyshacl
import pytest
import rdflib
import requests
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, XSD

import w3c_protocol as w3c
from tdkg import namespaces as ns

SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
FORMATS = rdflib.Namespace("http://www.w3.org/ns/formats/")
SHAPES = Path(__file__).parent / "shapes" / "service-description.ttl"
#: format IRI → (media type to ask for, a query whose answer can take that format)
FORMAT_CHECKS = {
    "SPARQL_Results_JSON": ("application/sparql-results+json", "SELECT * WHERE {} LIMIT 1"),
    "SPARQL_Results_XML": ("application/sparql-results+xml", "SELECT * WHERE {} LIMIT 1"),
    "SPARQL_Results_CSV": ("text/csv", "SELECT * WHERE {} LIMIT 1"),
    "SPARQL_Results_TSV": ("text/tab-separated-values", "SELECT * WHERE {} LIMIT 1"),
    "Turtle": ("text/turtle", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"),
    "N-Triples": ("application/n-triples", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"),
    "JSON-LD": ("application/ld+json", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"),
    "RDF_XML": ("application/rdf+xml", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"),
}
SD_TESTS = w3c.load_sd_tests()      # the W3C data must be there: fail, never skip


def fetch(url: str, accept: str | None = None) -> tuple[requests.Response, rdflib.Graph]:
    response = requests.get(url, headers={"Accept": accept} if accept else {"Accept": None},
                            timeout=30)
    assert response.status_code == 200, response.text
    media = response.headers["Content-Type"].split(";")[0].strip()
    assert media in w3c.GRAPH_PARSERS, f"{media} is not an RDF syntax"
    return response, rdflib.Graph().parse(data=response.content, format=w3c.GRAPH_PARSERS[media])


def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(SHAPES, format="turtle")


def returns_rdf(server) -> None:
    """GET on the endpoint (no query, no Accept) returns RDF, and every RDF syntax says the same."""
    _, reference = fetch(server.url + "/sparql")
    assert len(reference) > 20
    for accept in ("text/turtle", "application/n-triples", "application/ld+json",
                   "application/rdf+xml"):
        response, graph = fetch(server.url + "/sparql", accept)
        assert response.headers["Content-Type"].startswith(accept)
        assert isomorphic(graph, reference), accept


def has_endpoint_triple(server) -> None:
    """The description has an sd:endpoint triple naming the URL it was fetched from."""
    for url in (server.url + "/sparql", server.url + "/sparql/"):
        _, graph = fetch(url)
        services = set(graph.subjects(RDF.type, SD.Service))
        assert len(services) == 1
        assert (services.pop(), SD.endpoint, URIRef(url)) in graph, url


def conforms_to_schema(server) -> None:
    """The description conforms to the SD vocabulary (domains, ranges, closed value lists)."""
    _, graph = fetch(server.url + "/sparql")
    conforms, _, report = pyshacl.validate(graph, shacl_graph=shapes(), inference="none")
    assert conforms, report
    service = next(graph.subjects(RDF.type, SD.Service))
    languages = set(graph.objects(service, SD.supportedLanguage))
    assert languages == {SD.SPARQL11Query}, "the read-only server must not advertise Update"
    dataset = graph.value(service, SD.defaultDataset)
    names = {graph.value(g, SD.name) for g in graph.objects(dataset, SD.namedGraph)}
    assert {URIRef(ns.GRAPH_ONTOLOGY), URIRef(ns.GRAPH_ASSERTED)} <= names


CHECKS = {"returns-rdf": returns_rdf, "has-endpoint-triple": has_endpoint_triple,
          "conforms-to-schema": conforms_to_schema}


def test_the_manifest_has_these_three_tests():
    assert set(SD_TESTS) == set(CHECKS)


@pytest.mark.parametrize("test_id", list(CHECKS))
def test_service_description(live_server, test_id: str):
    CHECKS[test_id](live_server)


def test_the_shapes_catch_a_broken_description(live_server):
    """The shapes are not vacuous: a description without an endpoint or dataset fails them."""
    _, graph = fetch(live_server.url + "/sparql")
    service = next(graph.subjects(RDF.type, SD.Service))
    graph.remove((service, SD.endpoint, None))
    graph.add((service, SD.supportedLanguage, SD.SPARQL12Query))
    conforms, _, report = pyshacl.validate(graph, shacl_graph=shapes(), inference="none")
    assert not conforms
    assert "sd:endpoint" in report and "sd:supportedLanguage" in report


def test_every_advertised_result_format_is_served(live_server):
    _, graph = fetch(live_server.url + "/sparql")
    advertised = {str(f).removeprefix(str(FORMATS)) for f in graph.objects(None, SD.resultFormat)}
    assert advertised and advertised <= set(FORMAT_CHECKS)
    for name in sorted(advertised):
        media, query = FORMAT_CHECKS[name]
        response = live_server.sparql(query, accept=media)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["Content-Type"].startswith(media), name


def _count(server, graph: str) -> int:
    rows = server.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return int(rows[0]["n"])


def test_void_figures_are_positive_integers_that_match_the_store(live_server):
    _, graph = fetch(live_server.url + "/sparql")
    dataset = graph.value(next(graph.subjects(RDF.type, SD.Service)), SD.defaultDataset)
    default = graph.value(dataset, SD.defaultGraph)
    for node in (dataset, default):
        for prop in (VOID.triples, VOID.distinctSubjects, VOID.distinctObjects, VOID.properties,
                     VOID.classes):
            value = graph.value(node, prop)
            assert isinstance(value, Literal) and value.datatype == XSD.integer, (prop, value)
            assert value.toPython() > 0, (prop, value)
    per_graph = {}
    for named in graph.objects(dataset, SD.namedGraph):
        value = graph.value(graph.value(named, SD.graph), VOID.triples)
        assert isinstance(value, Literal) and value.datatype == XSD.integer
        per_graph[str(graph.value(named, SD.name))] = value.toPython()
    for name, count in per_graph.items():
        assert count == _count(live_server, name), name
    assert per_graph[ns.GRAPH_ONTOLOGY] > 0 and per_graph[ns.GRAPH_ASSERTED] > 0
    assert graph.value(default, VOID.triples).toPython() >= max(per_graph.values())


def test_entailment_is_stated_honestly(live_server):
    _, graph = fetch(live_server.url + "/sparql")
    service = next(graph.subjects(RDF.type, SD.Service))
    assert (service, SD.defaultEntailmentRegime,
            URIRef("http://www.w3.org/ns/entailment/Simple")) in graph
    assert "inference=false" in str(graph.value(service, rdflib.RDFS.comment))
    inferred = next(graph.subjects(SD.name, URIRef(ns.GRAPH_INFERRED)))
    note = str(graph.value(inferred, rdflib.RDFS.comment))
    assert "/why" in note and "Not a complete OWL 2 RL closure" in note
