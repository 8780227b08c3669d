"""The SPARQL 1.1 Service Description (W3C Recommendation) with VoID statistics of the dataset.

Answered on a GET of the endpoint without a query. The figures come from the build's metadata,
computed once when the store was built, so describing the service costs no query.
"""
from __future__ import annotations

from flask import Response, current_app, request
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from tdkg import namespaces as ns

from .errors import NotAcceptable
from .formats import GRAPHS, NoAcceptableFormat, choose

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
#: the dataset's VoID description (server/void.py), linked from the sd:Dataset
VOID_DOCUMENT = ns.BASE + ".well-known/void"
#: the licence of the data and the ontology (the README's "Licence"; the ontology states the same
#: with dcterms:license), given in VoID and here; the code is Apache-2.0 (pyproject.toml)
DATA_LICENCE = "https://creativecommons.org/licenses/by/4.0/"
DATA_LICENCE_NAME = "CC BY 4.0"
GRAPH_NOTES = {
    ns.GRAPH_ONTOLOGY: "The OWL 2 DL ontology, as written in ontology/tdkg.ttl.",
    ns.GRAPH_ASSERTED: "The facts curated from the source documents, as written in data/ttl/.",
    ns.GRAPH_INFERRED: (
        "Triples the build materialised: the OWL 2 RL rules for the constructs the ontology uses "
        "(cax-sco, prp-spo1, prp-inv, prp-symp, prp-trp, prp-dom, prp-rng, prp-spo2) and the "
        "SPARQL rules of ontology/rules/. Not a complete OWL 2 RL closure: no owl:sameAs, "
        "owl:Thing or datatype axioms. Each triple's derivation is served at /why."),
}
RDFLIB_FORMAT = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "rdfxml": "xml"}
RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
                  "SPARQL_Results_TSV", "Turtle", "N-Triples", "JSON-LD", "RDF_XML")


def describe(endpoint: str, info: dict, updates: bool, federation: bool) -> Graph:
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    graph.bind("dcterms", DCTERMS)
    service = URIRef(endpoint + "#service")
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, URIRef(endpoint)))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    if updates:
        graph.add((service, SD.supportedLanguage, SD.SPARQL11Update))
    if federation:
        graph.add((service, SD.feature, SD.BasicFederatedQuery))
    for name in RESULT_FORMATS:
        graph.add((service, SD.resultFormat, FORMATS[name]))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    graph.add((service, RDFS.comment, Literal(
        "Queries are evaluated under simple entailment: the endpoint does no reasoning at query "
        "time. The default graph is the union of the ontology, the curated (asserted) facts and "
        "the facts the build inferred; send inference=false to leave the inferred graph out.",
        lang="en")))
    graph.add((service, SD.defaultDataset, _dataset(graph, info)))
    return graph


def _dataset(graph: Graph, info: dict) -> BNode:
    stats = info.get("stats", {})
    dataset, default = BNode(), BNode()
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((dataset, RDFS.seeAlso, URIRef(VOID_DOCUMENT)))
    graph.add((dataset, DCTERMS.license, URIRef(DATA_LICENCE)))
    graph.add((default, RDF.type, SD.Graph))
    for key, prop in (("triples", VOID.triples), ("subjects", VOID.distinctSubjects),
                      ("objects", VOID.distinctObjects), ("properties", VOID.properties),
                      ("classes", VOID.classes)):
        if key in stats:
            graph.add((default, prop, Literal(stats[key], datatype=XSD.integer)))
            graph.add((dataset, prop, Literal(stats[key], datatype=XSD.integer)))
    for name, count in stats.get("graphs", {}).items():
        named, inner = BNode(), BNode()
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(name)))
        graph.add((named, SD.graph, inner))
        graph.add((inner, RDF.type, SD.Graph))
        graph.add((inner, VOID.triples, Literal(count, datatype=XSD.integer)))
        if name in GRAPH_NOTES:
            graph.add((named, RDFS.comment, Literal(GRAPH_NOTES[name], lang="en")))
    return dataset


def respond() -> Response:
    config = current_app.config["TDKG"]
    live = current_app.config["TDKG_LIVE"].snapshot()
    try:
        fmt = choose(GRAPHS, request.headers.get("Accept"), request.args.get("format"))
    except NoAcceptableFormat as err:
        raise NotAcceptable(str(err)) from None
    graph = describe(request.base_url, live.info, config.updates_enabled,
                     bool(config.service_allowlist))
    body = graph.serialize(format=RDFLIB_FORMAT[fmt.name])
    response = Response(body, content_type=fmt.media_type)
    response.vary.add("Accept")
    return response
