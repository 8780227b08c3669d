"""JSON-LD that people and pyld can use: resource documents, the ontology document and the dumps
come compacted with the project's context (``@type``, short keys), the context linked by URL.

pyld is the reference: the tests read the served documents with it (offline: its document loader
fetches the context from the test server), frame them by ``@type``, and check that
:mod:`tdkg.jsonld` writes exactly what ``pyld.jsonld.compact`` writes for the same triples.
Expected values come from SPARQL answers of the same server.
"""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests
from jsonld_client import options
from pyld import jsonld as pyld
from rdflib.compare import isomorphic

from tdkg import jsonld
from tdkg import namespaces as ns
from tdkg.pipeline import downloads, store

TURKIYE = ns.ID + "turkiye"
CONTEXT_URL = ns.BASE + "context.jsonld"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"


@pytest.fixture(scope="module")
def downloads_dir(built_state: Path) -> Path:
    return store.current_build(built_state) / "downloads"


@pytest.fixture(scope="module")
def context(downloads_dir: Path) -> dict:
    return json.loads((downloads_dir / "context.jsonld").read_text())["@context"]


def fetch(server, path: str) -> requests.Response:
    response = requests.get(server.url + path, timeout=30)
    assert response.status_code == 200, (path, response.text[:300])
    return response


def triples_of(nt: bytes) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)]


def nodes(document: dict) -> list[dict]:
    return document.get("@graph", [document])


def types_of(node: dict) -> list[str]:
    found = node.get("@type", [])
    return [found] if isinstance(found, str) else found


def short(iri: str, context: dict) -> str:
    """How the context writes a class IRI: its term, or a compact IRI."""
    term = next((t for t, d in context.items() if d == "tdkg:" + iri.removeprefix(ns.TDKG)), None)
    if term is not None:
        return term
    prefix, base = max(((p, b) for p, b in ns.PREFIXES.items() if iri.startswith(b)),
                       key=lambda pb: len(pb[1]))
    return f"{prefix}:{iri.removeprefix(base)}"


# --- the resource documents ---------------------------------------------------------------------

def test_a_resource_document_is_compacted_with_the_linked_context(live_server, context):
    """Served documents name the serving server's copy of the context, so that a reader resolves
    it where it got the document (the dumps name the canonical URL)."""
    response = fetch(live_server, "/data/id/turkiye.jsonld")
    assert response.headers["Content-Type"].split(";")[0] == "application/ld+json"
    assert response.links[CONTEXT_REL]["url"] == live_server.url + "/context.jsonld"
    document = response.json()
    assert document["@context"] == live_server.url + "/context.jsonld"
    assert requests.get(document["@context"], timeout=30).json()["@context"] == context
    first = document["@graph"][0]               # the described resource comes first
    assert first["@id"] == "tdi:turkiye"
    types = live_server.select(f"SELECT ?c WHERE {{ <{TURKIYE}> a ?c }}")
    assert sorted(types_of(first)) == sorted(short(row["c"], context) for row in types)
    label = live_server.select(f"""SELECT ?l WHERE {{ <{TURKIYE}> <{jsonld.RDFS}label> ?l
                                   FILTER(lang(?l) = "en") }}""")
    assert first["label"] == label[0]["l"]
    for node in document["@graph"]:             # short keys: no full IRIs, no rdf:type
        assert not [k for k in node if k.startswith("http") or k == "rdf:type"], node["@id"]


def test_pyld_frames_turkiye_by_its_type(live_server, context):
    """Framing by ``@type`` finds Türkiye, with its label: the frame's class is the one SPARQL
    says Türkiye has in the asserted graph, written as the context writes it."""
    asserted = live_server.select(
        f"SELECT ?c WHERE {{ GRAPH <{ns.GRAPH_ASSERTED}> {{ <{TURKIYE}> a ?c }} }}")
    assert len(asserted) == 1
    kind = short(asserted[0]["c"], context)
    label = live_server.select(f"""SELECT ?l WHERE {{ <{TURKIYE}> <{jsonld.RDFS}label> ?l
                                   FILTER(lang(?l) = "en") }}""")[0]["l"]
    document = fetch(live_server, "/data/id/turkiye.jsonld").json()
    framed = pyld.frame(document, {"@context": CONTEXT_URL, "@type": kind}, options(live_server))
    found = [n for n in nodes(framed) if n["@id"] == "tdi:turkiye"]
    assert len(found) == 1 and found[0]["label"] == label
    assert kind in types_of(found[0])


def test_pyld_frames_every_state_in_the_asserted_dump(live_server, context):
    document = fetch(live_server, "/downloads/asserted.jsonld").json()
    framed = pyld.frame(document, {"@context": CONTEXT_URL, "@type": "State"}, options(live_server))
    states = live_server.select(
        f"SELECT DISTINCT ?s WHERE {{ GRAPH <{ns.GRAPH_ASSERTED}> {{ ?s a <{ns.TDKG}State> }} }}")
    assert sorted(n["@id"] for n in nodes(framed)) == sorted(
        "tdi:" + row["s"].removeprefix(ns.ID) for row in states)
    assert all("label" in n for n in nodes(framed))


def test_pyld_reads_the_resource_document_as_the_same_graph(live_server):
    document = fetch(live_server, "/data/id/turkiye.jsonld").json()
    quads = pyld.to_rdf(document, {**options(live_server), "format": "application/n-quads"})
    from_json_ld = rdflib.Graph().parse(data=quads, format="nt")
    from_nt = rdflib.Graph().parse(data=fetch(live_server, "/data/id/turkiye.nt").text,
                                   format="nt")
    assert len(from_json_ld) == len(from_nt) > 100
    assert isomorphic(from_json_ld, from_nt)


def test_pyld_compacting_a_served_document_changes_nothing(live_server):
    """A client that compacts with the context URL itself gets the document it was served."""
    served = fetch(live_server, "/data/id/turkiye.jsonld").json()
    again = pyld.compact(served, served["@context"], options(live_server))
    assert again["@context"] == served["@context"] and again["@graph"] == served["@graph"]


def test_the_resource_document_is_what_pyld_compacts(live_server, context):
    served = fetch(live_server, "/data/id/turkiye.jsonld").json()
    triples = triples_of(fetch(live_server, "/data/id/turkiye.nt").content)
    reference = pyld.compact(jsonld.node_objects(triples, first=TURKIYE), {"@context": context})
    assert nodes(reference) == served["@graph"]


def test_the_ontology_document_is_compacted_too(live_server):
    response = fetch(live_server, "/ontology.jsonld")
    assert response.links[CONTEXT_REL]["url"] == live_server.url + "/context.jsonld"
    document = response.json()
    assert document["@context"] == live_server.url + "/context.jsonld"
    header = document["@graph"][0]
    assert header["@id"] == ns.ONTOLOGY and header["@type"] == "owl:Ontology"
    deal = next(n for n in document["@graph"] if n["@id"] == "tdkg:ArmsDeal")
    assert deal["@type"] == "owl:Class" and deal["label"]


def test_content_negotiation_reaches_the_compacted_document(live_server):
    response = requests.get(live_server.url + "/id/turkiye",
                            headers={"Accept": "application/ld+json"}, timeout=30)
    assert response.history[0].status_code == 303
    assert response.json()["@graph"][0]["@id"] == "tdi:turkiye"


# --- the dumps ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ontology", "asserted", "inferred"])
def test_each_json_ld_dump_is_what_pyld_compacts(downloads_dir, context, name):
    """pyld takes about 0.3 ms per triple, so the complete dump (their union) is left to the
    round-trip check of test_downloads."""
    triples = triples_of(gzip.decompress((downloads_dir / f"{name}.nt.gz").read_bytes()))
    reference = pyld.compact(jsonld.node_objects(triples), {"@context": context})
    dump = json.loads((downloads_dir / f"{name}.jsonld").read_text())
    assert dump["@context"] == CONTEXT_URL
    assert nodes(reference) == dump["@graph"]


# --- the compaction's corners, against pyld -----------------------------------------------------

CORNERS_CONTEXT = {
    "ex": "http://example.org/", "xsd": jsonld.XSD, "rdfs": jsonld.RDFS,
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "Thing": "ex:Thing", "knows": {"@id": "ex:knows", "@type": "@id"},
    "year": {"@id": "ex:year", "@type": "xsd:integer"}, "note": {"@id": "ex:note"},
    "label": {"@id": "rdfs:label", "@language": "en"},
    "altLabel": {"@id": "skos:altLabel", "@container": "@language"},
}
CORNERS = """@prefix ex: <http://example.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
ex:a a ex:Thing , ex:Other ; ex:knows ex:b , "a literal" ; ex:year 2020 , "2021"^^xsd:gYear ;
  ex:note "plain" , "2020-01-01"^^xsd:date , "une note"@fr , ex:c ;
  rdfs:label "label"@en , "etiket"@tr , "no language" ;
  skos:altLabel "x"@en , "y"@en , "z"@tr , "none" ; ex:part [ ex:knows ex:a ] ;
  <http://elsewhere.example/p> <http://elsewhere.example/o> ;
  <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "a literal type" .
ex:b a ex:Thing .
"""


def test_the_corners_of_the_compaction_agree_with_pyld():
    """Each way a value can miss its term: an IRI where a literal is declared and the reverse,
    another datatype, another language, a plain string for a language term, several values
    in a language map, a literal rdf:type, a blank node, an IRI no prefix covers."""
    triples = [q.triple for q in ox.parse(CORNERS.encode(), format=ox.RdfFormat.TURTLE)]
    ours = jsonld.compact(triples, CORNERS_CONTEXT)["@graph"]
    reference = pyld.compact(jsonld.node_objects(triples), {"@context": CORNERS_CONTEXT})
    assert nodes(reference) == ours
    a = ours[0]
    assert a["@type"] == ["Thing", "ex:Other"] and a["knows"] == "ex:b"
    assert a["ex:knows"] == "a literal" and a["year"] == "2020"
    assert a["ex:year"] == {"@type": "xsd:gYear", "@value": "2021"}
    assert a["altLabel"] == {"en": ["x", "y"], "tr": "z", "@none": "none"}
    assert a["label"] == "label" and {"@language": "tr", "@value": "etiket"} in a["rdfs:label"]
    assert a[jsonld.RDF_TYPE] == "a literal type"            # no rdf: prefix in this context
    assert a["note"] == ["plain", {"@type": "xsd:date", "@value": "2020-01-01"},
                         {"@language": "fr", "@value": "une note"}, {"@id": "ex:c"}]
    assert a["http://elsewhere.example/p"] == {"@id": "http://elsewhere.example/o"}


def _ntriples_lines(triples: list[ox.Triple]) -> list[str]:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode().splitlines(True)


def test_merging_graphs_nodes_gives_what_compacting_their_union_gives():
    """The complete dump is written from its graphs' compacted nodes, merged (each graph is
    compacted once): a subject's types, values and language maps spread over three graphs
    come out as compacting all the triples at once gives them, byte for byte."""
    triples = [q.triple for q in ox.parse(CORNERS.encode(), format=ox.RdfFormat.TURTLE)]
    triples += [q.triple for q in ox.parse(
        b'<http://example.org/b> <http://www.w3.org/2004/02/skos/core#altLabel> "w"@en .',
        format=ox.RdfFormat.N_TRIPLES)]
    parts = [triples[i::3] for i in range(3)]       # every subject's triples in several parts
    assert all(parts) and len({t.subject for t in parts[0]} & {t.subject for t in parts[1]}) > 1
    compactor = jsonld.Compactor(CORNERS_CONTEXT)
    keyed = [compactor.keyed_rows(jsonld.ntriples_rows(_ntriples_lines(part)))
             for part in parts]
    merged = list(compactor.merged(keyed))
    union = jsonld.Compactor(CORNERS_CONTEXT).rows(jsonld.ntriples_rows(
        [line for part in parts for line in _ntriples_lines(part)]))
    assert merged == union
    assert len(merged) < sum(len(k) for k in keyed)     # subjects were merged, not listed twice
    assert merged[0]["@type"] == ["Thing", "ex:Other"]
    written, expected = io.StringIO(), io.StringIO()
    jsonld.dump_nodes(CONTEXT_URL, iter(merged), written)
    jsonld.dump({"@context": CONTEXT_URL, "@graph": union}, expected)
    assert written.getvalue() == expected.getvalue()
    assert json.loads(written.getvalue())["@graph"] == union
    empty = io.StringIO()
    jsonld.dump_nodes(CONTEXT_URL, iter([]), empty)
    assert json.loads(empty.getvalue()) == {"@context": CONTEXT_URL, "@graph": []}


@pytest.mark.parametrize("definition", [{"@id": "ex:x", "@container": "@list"},
                                        {"@id": "ex:x", "@type": "@vocab"},
                                        {"@id": "ex:x", "@reverse": "ex:y"}, ["ex:x"]])
def test_a_context_beyond_what_the_compaction_implements_is_refused(definition):
    with pytest.raises(jsonld.UnsupportedContext, match="term 'x'"):
        jsonld.Compactor({"ex": "http://example.org/", "x": definition})


def test_rdflib_reads_a_served_document_by_its_url_alone(live_server):
    """No loader, no inlining: rdflib fetches the context the document names, from the server
    that served it, and reads the same graph as the N-Triples document."""
    from_json_ld = rdflib.Graph().parse(live_server.url + "/data/id/turkiye.jsonld",
                                        format="json-ld")
    from_nt = rdflib.Graph().parse(data=fetch(live_server, "/data/id/turkiye.nt").text,
                                   format="nt")
    assert len(from_json_ld) == len(from_nt) > 100
    assert isomorphic(from_json_ld, from_nt)


TRICKY = [
    ox.Literal('quote " backslash \\ tab \t newline \n return \r'),
    ox.Literal("bell \x07 nul-free control \x1f delete \x7f"),
    ox.Literal("line separator \u2028 next line \x85 end"),
    ox.Literal("Türkiye’nin savunma sanayii 🚀", language="tr"),
    ox.Literal("Baykar", language="EN-gb"),
    ox.Literal("40.0", datatype=ox.NamedNode(jsonld.XSD + "decimal")),
    ox.Literal("ends with a quote\"", datatype=ox.NamedNode("https://example.org/dt#x")),
    ox.Literal(""),
    ox.NamedNode("https://w3id.org/tdkg/id/a-b_c?d=1#e"),
    ox.BlankNode("b0"),
]


def test_the_dumps_read_oxigraphs_n_triples_text_as_pyoxigraph_reads_it(context, tmp_path):
    """The dumps' compaction parses N-Triples lines itself; every kind of object and every
    escape Oxigraph writes comes back as pyoxigraph's own terms give it, and so does the
    compacted document."""
    subject, predicate = ox.NamedNode(TURKIYE), ox.NamedNode(ns.TDKG + "note")
    triples = [ox.Triple(subject, predicate, o) for o in TRICKY]
    triples += [ox.Triple(ox.BlankNode("b0"), ox.NamedNode(jsonld.RDF_TYPE),
                          ox.NamedNode(ns.TDKG + "State")),
                ox.Triple(subject, ox.NamedNode(jsonld.RDFS + "label"), ox.Literal("T", language="en"))]
    path = tmp_path / "graph.nt"
    path.write_bytes(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES))
    assert list(jsonld.ntriples_rows(downloads._lines([path]))) == \
        [jsonld._row(t) for t in triples]
    assert jsonld.compact_ntriples(downloads._lines([path]), context) == \
        jsonld.compact(triples, context)


def test_the_n_triples_reader_refuses_what_json_ld_cannot_say():
    quoted = ox.Triple(ox.NamedNode(TURKIYE), ox.NamedNode(ns.TDKG + "p"),
                       ox.Triple(ox.NamedNode(TURKIYE), ox.NamedNode(ns.TDKG + "p"),
                                 ox.Literal("x")))
    text = ox.serialize([quoted], format=ox.RdfFormat.N_TRIPLES).decode()
    with pytest.raises(ValueError, match="RDF-star"):
        list(jsonld.ntriples_rows([text]))
