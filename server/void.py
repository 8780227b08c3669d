"""A VoID description of the dataset at ``/.well-known/void`` (VoID, W3C Interest Group Note, §6.2).

Made from the served build's metadata (``build.json``) and its downloads manifest, so describing
the dataset costs no query. Turtle by default; the other RDF syntaxes by ``Accept`` or ``format=``,
as for the service description. IRIs are the canonical ``https://w3id.org/tdkg/…`` ones.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from flask_cors import cross_origin
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, XSD

from tdkg import namespaces as ns
from tdkg.pipeline import downloads

from .description import GRAPH_NOTES, RDFLIB_FORMAT, VOID, VOID_DOCUMENT
from .downloads import PUBLIC_BASE, current
from .errors import NotAcceptable
from .formats import GRAPHS, NoAcceptableFormat, choose

bp = Blueprint("void", __name__)
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
DOCUMENT = VOID_DOCUMENT
DATASET = DOCUMENT + "#dataset"
ENDPOINT = ns.BASE + "sparql"
ROOT_RESOURCE = ns.ID + "turkiye"
EXAMPLE_RESOURCES = (ns.ID + "turkiye", ns.ID + "bayraktar-tb2", ns.ID + "saudi-akinci-deal-2023")
SUBSETS = {   # named graph → (dump name, title)
    ns.GRAPH_ONTOLOGY: ("ontology", "TDKG ontology"),
    ns.GRAPH_ASSERTED: ("asserted", "TDKG asserted facts"),
    ns.GRAPH_INFERRED: ("inferred", "TDKG inferred facts"),
}
FORMAT_OF = {".nt.gz": FORMATS["N-Triples"], ".ttl": FORMATS["Turtle"],
             ".jsonld": FORMATS["JSON-LD"]}
DESCRIPTION = (
    "An open knowledge graph of Türkiye's defence-industrial relations: producers and their "
    "weapon systems, buyers, arms deals and transfers, alliances, partnerships and rivalries. "
    "Each relation is a fact node that names the document it was taken from, the footnote and "
    "cited work behind it where there is one, and how firmly the document asserts it. The "
    "dataset is the union of three named graphs: the ontology, the curated facts and the "
    "facts the build inferred from them.")
STATISTICS = (("triples", VOID.triples), ("subjects", VOID.distinctSubjects),
              ("objects", VOID.distinctObjects), ("properties", VOID.properties),
              ("classes", VOID.classes))


def describe(info: dict, manifest: dict | None) -> Graph:
    graph = Graph()
    for prefix, namespace in (("void", VOID), ("dcterms", DCTERMS), ("foaf", FOAF),
                              ("formats", FORMATS), ("sd", SD)):
        graph.bind(prefix, namespace)
    document, dataset = URIRef(DOCUMENT), URIRef(DATASET)
    graph.add((document, RDF.type, VOID.DatasetDescription))
    graph.add((document, DCTERMS.title, Literal("VoID description of TDKG", lang="en")))
    graph.add((document, FOAF.primaryTopic, dataset))

    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, DCTERMS.title, Literal("TDKG: Türkiye Defence Knowledge Graph", lang="en")))
    graph.add((dataset, DCTERMS.description, Literal(DESCRIPTION, lang="en")))
    graph.add((dataset, VOID.sparqlEndpoint, URIRef(ENDPOINT)))
    graph.add((dataset, VOID.uriSpace, Literal(ns.BASE)))
    for fmt in FORMAT_OF.values():      # the syntaxes the dumps come in
        graph.add((dataset, VOID.feature, fmt))
    graph.add((dataset, VOID.rootResource, URIRef(ROOT_RESOURCE)))
    for example in EXAMPLE_RESOURCES:
        graph.add((dataset, VOID.exampleResource, URIRef(example)))
    if info.get("created"):
        graph.add((dataset, DCTERMS.modified, Literal(info["created"], datatype=XSD.dateTime)))
    stats = info.get("stats", {})
    for key, prop in STATISTICS:
        if key in stats:
            graph.add((dataset, prop, Literal(stats[key], datatype=XSD.integer)))
    files = {} if manifest is None else {f["name"]: f for f in manifest["files"]}
    for vocabulary in (manifest or {}).get("vocabularies", []):
        graph.add((dataset, VOID.vocabulary, URIRef(vocabulary.rstrip("#"))))
    _dumps(graph, dataset, "complete", files)

    for name, count in stats.get("graphs", {}).items():
        subset = URIRef(name)
        dump, title = SUBSETS.get(name, (None, name))
        graph.add((dataset, VOID.subset, subset))
        graph.add((subset, RDF.type, VOID.Dataset))
        graph.add((subset, DCTERMS.title, Literal(title, lang="en")))
        if name in GRAPH_NOTES:
            graph.add((subset, DCTERMS.description, Literal(GRAPH_NOTES[name], lang="en")))
        graph.add((subset, VOID.triples, Literal(count, datatype=XSD.integer)))
        graph.add((subset, VOID.sparqlEndpoint, URIRef(ENDPOINT)))
        if dump is not None:
            _dumps(graph, subset, dump, files)
    return graph


def _dumps(graph: Graph, dataset: URIRef, name: str, files: dict) -> None:
    for suffix, fmt in FORMAT_OF.items():
        entry = files.get(name + suffix)
        if entry is None:
            continue
        dump = URIRef(PUBLIC_BASE + entry["name"])
        graph.add((dataset, VOID.dataDump, dump))
        graph.add((dump, DCTERMS.format, Literal(downloads.media_type(entry["name"]))))
        graph.add((dump, DCTERMS.conformsTo, fmt))


@bp.route("/.well-known/void")
@cross_origin(origins="*", send_wildcard=True)
def void() -> Response:
    try:
        fmt = choose(GRAPHS, request.headers.get("Accept"), request.args.get("format"))
    except NoAcceptableFormat as err:
        raise NotAcceptable(str(err)) from None
    _, _, manifest = current()
    info = current_app.config["TDKG_LIVE"].snapshot().info
    body = describe(info, manifest).serialize(format=RDFLIB_FORMAT[fmt.name])
    response = Response(body, content_type=fmt.media_type)
    response.vary.add("Accept")
    return response
