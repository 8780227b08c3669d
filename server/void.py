"""A VoID description of the dataset at ``/.well-known/void`` (VoID, W3C Interest Group Note, §6.2).

Made from the served build's metadata (``build.json``) and its downloads manifest, so describing
the dataset costs no query. Programs get RDF: Turtle by default, the other RDF syntaxes by
``Accept`` or ``format=``, as for the service description. Browsers — an ``Accept`` that ranks
``text/html`` above JSON and above every RDF syntax, or ``format=html`` — get the same facts as a
page of the site: statistics, named graphs, every download with its size and checksum, the licence.
IRIs are the canonical ``https://w3id.org/tdkg/…`` ones.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask_cors import cross_origin
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from tdkg import namespaces as ns
from tdkg.pipeline import downloads

from .description import (
    DATA_LICENCE,
    DATA_LICENCE_NAME,
    GRAPH_NOTES,
    RDFLIB_FORMAT,
    VOID,
    VOID_DOCUMENT,
)
from .downloads import PUBLIC_BASE, current
from .errors import NotAcceptable
from .formats import GRAPHS, NoAcceptableFormat, choose, prefers_html

bp = Blueprint("void", __name__)
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
DOCUMENT = VOID_DOCUMENT
DATASET = DOCUMENT + "#dataset"
ENDPOINT = ns.BASE + "sparql"
ROOT_RESOURCE = ns.ID + "turkiye"
EXAMPLE_RESOURCES = (ns.ID + "turkiye", ns.ID + "bayraktar-tb2", ns.ID + "saudi-akinci-deal-2023")
SUBSETS = {   # named graph → title
    ns.GRAPH_ONTOLOGY: "TDKG ontology",
    ns.GRAPH_ASSERTED: "TDKG asserted facts",
    ns.GRAPH_INFERRED: "TDKG inferred facts",
}
#: file suffix → the syntax a dump conforms to (W3C's format IRIs)
FORMAT_OF = {".nt.gz": FORMATS["N-Triples"], ".nt": FORMATS["N-Triples"],
             ".ttl": FORMATS["Turtle"], ".jsonld": FORMATS["JSON-LD"],
             ".rdf": FORMATS["RDF_XML"], ".owl": FORMATS["RDF_XML"]}
DESCRIPTION = (
    "An open knowledge graph of Türkiye's defence-industrial relations: producers and their "
    "weapon systems, buyers, arms deals and transfers, alliances, partnerships and rivalries. "
    "Each relation is a fact node that names the document it was taken from, the footnote and "
    "cited work behind it where there is one, and how firmly the document asserts it. The "
    "dataset is the union of three named graphs: the ontology, the curated facts and the "
    "facts the build inferred from them.")
TITLE = "TDKG: Türkiye Defence Knowledge Graph"
STATISTICS = (("triples", VOID.triples), ("subjects", VOID.distinctSubjects),
              ("objects", VOID.distinctObjects), ("properties", VOID.properties),
              ("classes", VOID.classes))


def describe(info: dict, manifest: dict | None) -> Graph:
    graph = Graph()
    for prefix, namespace in (("void", VOID), ("dcterms", DCTERMS), ("foaf", FOAF),
                              ("formats", FORMATS), ("sd", SD), ("dcat", DCAT), ("spdx", SPDX)):
        graph.bind(prefix, namespace)
    document, dataset = URIRef(DOCUMENT), URIRef(DATASET)
    graph.add((document, RDF.type, VOID.DatasetDescription))
    graph.add((document, DCTERMS.title, Literal("VoID description of TDKG", lang="en")))
    graph.add((document, FOAF.primaryTopic, dataset))

    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, DCTERMS.title, Literal(TITLE, lang="en")))
    graph.add((dataset, DCTERMS.description, Literal(DESCRIPTION, lang="en")))
    graph.add((dataset, DCTERMS.license, URIRef(DATA_LICENCE)))
    graph.add((dataset, VOID.sparqlEndpoint, URIRef(ENDPOINT)))
    graph.add((dataset, VOID.uriSpace, Literal(ns.BASE)))
    graph.add((dataset, VOID.rootResource, URIRef(ROOT_RESOURCE)))
    for example in EXAMPLE_RESOURCES:
        graph.add((dataset, VOID.exampleResource, URIRef(example)))
    if info.get("created"):
        graph.add((dataset, DCTERMS.modified, Literal(info["created"], datatype=XSD.dateTime)))
    stats = info.get("stats", {})
    for key, prop in STATISTICS:
        if key in stats:
            graph.add((dataset, prop, Literal(stats[key], datatype=XSD.integer)))
    for vocabulary in (manifest or {}).get("vocabularies", []):
        graph.add((dataset, VOID.vocabulary, URIRef(vocabulary.rstrip("#"))))

    for name, count in stats.get("graphs", {}).items():
        subset = URIRef(name)
        graph.add((dataset, VOID.subset, subset))
        graph.add((subset, RDF.type, VOID.Dataset))
        graph.add((subset, DCTERMS.title, Literal(SUBSETS.get(name, name), lang="en")))
        if name in GRAPH_NOTES:
            graph.add((subset, DCTERMS.description, Literal(GRAPH_NOTES[name], lang="en")))
        graph.add((subset, VOID.triples, Literal(count, datatype=XSD.integer)))
        graph.add((subset, VOID.sparqlEndpoint, URIRef(ENDPOINT)))
    for entry in (manifest or {}).get("files", []):
        _dump(graph, dataset, list(stats.get("graphs", {})), entry)
    return graph


def dump_graphs(entry: dict) -> tuple[str, ...]:
    """The named graphs a download holds (none: it is not an RDF dump): from the manifest, or
    for a dump named after one of the build's dumps (``complete.rdf``), that dump's graphs."""
    stem = entry["name"].split(".", 1)[0]
    return tuple(entry.get("graphs") or (downloads.DUMPS.get(stem, ()) if _syntax(entry) else ()))


def _syntax(entry: dict) -> URIRef | None:
    return next((fmt for suffix, fmt in FORMAT_OF.items() if entry["name"].endswith(suffix)), None)


def _dump(graph: Graph, dataset: URIRef, served: list[str], entry: dict) -> None:
    """A download as the ``void:dataDump`` of what it holds: the whole dataset, one named graph,
    or some other union of them (then a subset of its own, ``#ontology-asserted``)."""
    held = dump_graphs(entry)
    if not held:
        return
    if set(held) == set(served):
        target = dataset
    elif len(held) == 1 and held[0] in served:
        target = URIRef(held[0])
    else:
        names = [g for g in served if g in held] + sorted(set(held) - set(served))
        target = URIRef(DOCUMENT + "#" + "-".join(g.removeprefix(ns.GRAPH) for g in names))
        graph.add((dataset, VOID.subset, target))
        graph.add((target, RDF.type, VOID.Dataset))
        graph.add((target, DCTERMS.title, Literal(
            " + ".join(SUBSETS.get(g, g) for g in names), lang="en")))
        if "triples" in entry:
            graph.add((target, VOID.triples, Literal(entry["triples"], datatype=XSD.integer)))
    dump = URIRef(PUBLIC_BASE + entry["name"])
    graph.add((target, VOID.dataDump, dump))
    graph.add((dump, DCTERMS.format, Literal(entry.get("media_type")
                                             or downloads.media_type(entry["name"]))))
    graph.add((dump, DCAT.byteSize, Literal(entry["bytes"], datatype=XSD.nonNegativeInteger)))
    checksum = BNode()
    graph.add((dump, SPDX.checksum, checksum))
    graph.add((checksum, RDF.type, SPDX.Checksum))
    graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    graph.add((checksum, SPDX.checksumValue, Literal(entry["sha256"], datatype=XSD.hexBinary)))
    syntax = _syntax(entry)
    if syntax is not None:
        graph.add((dump, DCTERMS.conformsTo, syntax))
        graph.add((dataset, VOID.feature, syntax))


# --- the page ------------------------------------------------------------------------------------

def human_size(count: int) -> str:
    for unit, size in (("MB", 1_000_000), ("kB", 1_000)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def download_rows(manifest: dict | None) -> list[dict]:
    """Every file of the manifest as the pages show it; nothing is left out by name."""
    rows = []
    for entry in (manifest or {}).get("files", []):
        counts = [f"{entry[key]:,} {key}" for key in ("triples", "rows", "terms") if key in entry]
        rows.append({**entry, "href": "/downloads/" + entry["name"],
                     "iri": PUBLIC_BASE + entry["name"], "size": human_size(entry["bytes"]),
                     "counts": counts, "graphs": [g.removeprefix(ns.GRAPH)
                                                  for g in dump_graphs(entry)]})
    return rows


def _page(info: dict, manifest: dict | None, build: str) -> str:
    stats = info.get("stats", {})
    subsets = [{"iri": iri, "name": iri.removeprefix(ns.GRAPH), "count": count,
                "title": SUBSETS.get(iri, iri), "note": GRAPH_NOTES.get(iri, "")}
               for iri, count in stats.get("graphs", {}).items()]
    statistics = [(key, stats[key]) for key, _ in STATISTICS if key in stats]
    examples = [(iri.removeprefix(ns.BASE), "tdi:" + iri.removeprefix(ns.ID))
                for iri in EXAMPLE_RESOURCES]
    return render_template(
        "void.html", title=TITLE, description=DESCRIPTION, dataset=DATASET, document=DOCUMENT,
        licence=DATA_LICENCE, licence_name=DATA_LICENCE_NAME, created=info.get("created"),
        build=build, statistics=statistics, subsets=subsets, files=download_rows(manifest),
        vocabularies=(manifest or {}).get("vocabularies", []), uri_space=ns.BASE,
        root=(ROOT_RESOURCE.removeprefix(ns.BASE), "tdi:turkiye"), examples=examples,
        formats=[(name, keyword) for name, keyword in (
            ("Turtle", "turtle"), ("N-Triples", "ntriples"), ("JSON-LD", "jsonld"),
            ("RDF/XML", "rdfxml"))])


def wants_page() -> bool:
    """A browser's Accept (``text/html`` above JSON and above every RDF syntax) or ``format=html``.
    ``*/*`` alone, or an RDF type ranked as high as HTML, gets RDF."""
    accept, keyword = request.accept_mimetypes, request.args.get("format")
    if keyword:
        return prefers_html(accept, keyword)
    return prefers_html(accept) and all(accept["text/html"] > accept[fmt.media_type]
                                        for fmt in GRAPHS)


@bp.route("/.well-known/void")
@cross_origin(origins="*", send_wildcard=True)
def void() -> Response:
    build, _, manifest = current()
    info = current_app.config["TDKG_LIVE"].snapshot().info
    if wants_page():
        response = Response(_page(info, manifest, build), content_type="text/html; charset=utf-8")
    else:
        try:
            fmt = choose(GRAPHS, request.headers.get("Accept"), request.args.get("format"))
        except NoAcceptableFormat as err:
            raise NotAcceptable(str(err)) from None
        body = describe(info, manifest).serialize(format=RDFLIB_FORMAT[fmt.name])
        response = Response(body, content_type=fmt.media_type)
    response.vary.add("Accept")
    return response
