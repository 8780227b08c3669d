"""Downloads, the register, the JSON-LD context and VoID, on the session's real build and server.

The build writes RDF dumps of each graph (and of their union; JSON-LD compacted with the
context), the full OWL file, a SIPRI-style register of the deals and a JSON-LD context into
``builds/<id>/downloads/``; the server serves them and describes the dataset with VoID at
``/.well-known/void``; ``tdkg export`` copies them out.
Expected values are read from the store with SPARQL wherever the test can.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests
from jsonld_client import inline
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD
from support import PROJECT, Server, run_tdkg

from tdkg import namespaces as ns
from tdkg.pipeline import downloads, store

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID_DOCUMENT = ns.BASE + ".well-known/void"
REGISTER_HEADER = ["Supplier", "Recipient", "Designation", "Description", "Number ordered",
                   "Year(s) of order", "Year(s) of delivery", "Number delivered", "Comments",
                   "Value", "Currency", "Status", "Source", "IRI"]
EXPECTED_MEDIA = {".nt.gz": "application/gzip", ".ttl": "text/turtle",
                  ".jsonld": "application/ld+json", ".csv": "text/csv",
                  ".nt": "application/n-triples", ".owl": "application/rdf+xml"}
DEAL_CLASSES = ("ArmsDeal", "Acquisition", "LicensedProductionAgreement",
                "CoProductionAgreement", "TechnologyTransferAgreement")
TDI, TDKG = ns.ID, ns.TDKG
RDF_PARSE = {".nt.gz": ox.RdfFormat.N_TRIPLES, ".ttl": ox.RdfFormat.TURTLE,
             ".jsonld": ox.RdfFormat.JSON_LD, ".nt": ox.RdfFormat.N_TRIPLES}
#: the complete graph's extra dumps: plain N-Triples, expanded JSON-LD (needs no context)
EXTRA_COMPLETE = {downloads.COMPLETE_NT: ".nt", downloads.EXPANDED: ".jsonld"}


# --- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def build_dir(built_state: Path) -> Path:
    found = store.current_build(built_state)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def manifest(build_dir: Path) -> dict:
    return json.loads((build_dir / "downloads" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def stats(build_dir: Path) -> dict:
    return store.read_info(build_dir)["stats"]


@pytest.fixture(scope="module")
def context(build_dir: Path) -> dict:
    return json.loads((build_dir / "downloads" / "context.jsonld").read_text())["@context"]


@pytest.fixture(scope="module")
def oxstore(build_dir: Path) -> ox.Store:
    return ox.Store.read_only(str(build_dir / "store"))


@pytest.fixture(scope="module")
def register(built_state: Path) -> list[dict[str, str]]:
    """`tdkg export --register` to standard output, as rows keyed by header."""
    result = run_tdkg("export", "--register", "--state-dir", str(built_state))
    assert result.returncode == 0, result.stderr
    reader = csv.reader(io.StringIO(result.stdout, newline=""))
    header = next(reader)
    assert header == REGISTER_HEADER
    return [dict(zip(header, row, strict=True)) for row in reader]


def read(path: Path) -> bytes:
    with path.open("rb") as stream:
        data = stream.read()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def parse(data: bytes, suffix: str, context: dict) -> list[ox.Quad]:
    """A dump's quads; a compacted JSON-LD dump names its context by URL: inline it."""
    if suffix == ".jsonld" and b'"@context": "' in data[:200]:
        data = inline(data, context).encode()
    return list(ox.parse(data, format=RDF_PARSE[suffix]))


def suffix_of(name: str) -> str:
    return next(s for s in (".nt.gz", ".ttl", ".jsonld", ".csv", ".json", ".nt", ".owl")
                if name.endswith(s))


def local(url: str, server) -> str:
    """A canonical https://w3id.org/tdkg/ IRI as a URL of the test server."""
    assert url.startswith(ns.BASE), url
    return server.url + "/" + url.removeprefix(ns.BASE)


def fetch_void(server, **params: str) -> tuple[requests.Response, rdflib.Graph]:
    response = requests.get(server.url + "/.well-known/void", params=params, timeout=30)
    assert response.status_code == 200, response.text
    media = response.headers["Content-Type"].split(";")[0]
    syntax = {"text/turtle": "turtle", "application/ld+json": "json-ld"}[media]
    return response, rdflib.Graph().parse(data=response.content, format=syntax)


# --- the files of the build ---------------------------------------------------------------------

def test_the_build_writes_every_download_with_its_manifest(build_dir, manifest):
    folder = build_dir / "downloads"
    names = [f["name"] for f in manifest["files"]]
    assert names == downloads.file_names()
    expected = {f"{n}{s}" for n in ("ontology", "asserted", "inferred", "complete")
                for s in (".nt.gz", ".ttl", ".jsonld")} | {
        "complete.nt", "complete.expanded.jsonld", "tdkg-full.owl", "register.csv",
        "context.jsonld"}
    assert set(names) == expected
    assert sorted(p.name for p in folder.iterdir()) == sorted(names + ["manifest.json"])
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert entry["bytes"] == len(data) > 0, entry["name"]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["name"]
        assert entry["media_type"] == EXPECTED_MEDIA.get(suffix_of(entry["name"]),
                                                          "application/ld+json")
    assert "downloads" in store.read_info(build_dir)["timings"]


def test_every_dump_parses_back_with_the_counts_of_manifest_and_build(build_dir, manifest, stats,
                                                                      context):
    counts = stats["graphs"]
    expected = {"ontology": counts[ns.GRAPH_ONTOLOGY], "asserted": counts[ns.GRAPH_ASSERTED],
                "inferred": counts[ns.GRAPH_INFERRED], "complete": sum(counts.values())}
    by_name = {f["name"]: f for f in manifest["files"]}
    for name, count in expected.items():
        files = {name + suffix: suffix for suffix in (".nt.gz", ".ttl", ".jsonld")}
        if name == "complete":
            files.update(EXTRA_COMPLETE)
        parsed = {}
        for file, suffix in files.items():
            entry = by_name[file]
            quads = parse(read(build_dir / "downloads" / entry["name"]), suffix, context)
            assert entry["triples"] == len(quads) == len(set(quads)) == count, entry["name"]
            assert all(q.graph_name == ox.DefaultGraph() for q in quads)
            parsed[file] = {q.triple for q in quads if not _has_blank(q.triple)}
        assert len({frozenset(triples) for triples in parsed.values()}) == 1, name


def _has_blank(triple: ox.Triple) -> bool:
    return isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode)


def test_the_complete_dump_is_the_union_of_the_three_graphs(build_dir, oxstore, stats):
    union = " UNION ".join(f"{{ GRAPH <{g}> {{ ?s ?p ?o }} }}" for g in ns.FACT_GRAPHS)
    row = next(iter(oxstore.query(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ {union} }} }}")))
    distinct = int(row["n"].value)
    assert distinct == sum(stats["graphs"].values()) == stats["triples"]   # graphs share nothing
    folder = build_dir / "downloads"
    complete = {q.triple for q in parse(read(folder / "complete.nt.gz"), ".nt.gz", {})}
    for name in ("ontology", "asserted", "inferred"):
        part = {q.triple for q in parse(read(folder / f"{name}.nt.gz"), ".nt.gz", {})}
        assert part <= complete, name
    assert len(complete) == distinct


def test_a_second_parser_reads_the_json_ld_dump_as_the_same_graph(build_dir, context):
    folder = build_dir / "downloads"
    from_json_ld = rdflib.Graph().parse(data=inline(read(folder / "asserted.jsonld"), context),
                                        format="json-ld")
    from_nt = rdflib.Graph().parse(data=read(folder / "asserted.nt.gz"), format="nt")
    assert len(from_json_ld) == len(from_nt) > 0
    assert isomorphic(from_json_ld, from_nt)


# --- the JSON-LD context ------------------------------------------------------------------------

def _expand(value: str, prefixes: dict[str, str]) -> str:
    prefix, _, rest = value.partition(":")
    return prefixes[prefix] + rest if prefix in prefixes else value


def test_every_context_term_names_an_iri_the_ontology_declares(build_dir, oxstore):
    context = json.loads((build_dir / "downloads" / "context.jsonld").read_text())["@context"]
    for prefix, iri in ns.PREFIXES.items():
        assert context[prefix] == iri
    declared: dict[str, set[str]] = {}
    ranges: dict[str, str] = {}
    for row in oxstore.query(f"SELECT ?t ?k ?r WHERE {{ GRAPH <{ns.GRAPH_ONTOLOGY}> {{ ?t a ?k "
                             f"OPTIONAL {{ ?t <{RDFS.range}> ?r }} }} }}"):
        declared.setdefault(row["t"].value, set()).add(row["k"].value)
        if row["r"] is not None:
            ranges[row["t"].value] = row["r"].value
    builtin = {str(RDFS.label), str(RDFS.comment)}
    owl = "http://www.w3.org/2002/07/owl#"
    terms = {k: v for k, v in context.items() if k not in ns.PREFIXES}
    assert len(terms) > 100
    for term, definition in terms.items():
        iri = _expand(definition if isinstance(definition, str) else definition["@id"],
                      ns.PREFIXES)
        assert iri in declared or iri in builtin, (term, iri)
        if iri.startswith(TDKG):
            assert term == iri.removeprefix(TDKG)
        if isinstance(definition, dict) and definition.get("@type") == "@id":
            assert owl + "ObjectProperty" in declared[iri], term
        elif isinstance(definition, dict) and "@type" in definition:
            assert owl + "DatatypeProperty" in declared[iri], term
            assert _expand(definition["@type"], ns.PREFIXES) == ranges[iri], term
    # and every term of the ontology's namespace has its short name
    tdkg_terms = {iri for iri in declared if iri.startswith(TDKG) and iri != TDKG}
    assert {iri.removeprefix(TDKG) for iri in tdkg_terms} <= set(terms)
    assert terms["label"] == {"@id": "rdfs:label", "@language": "en"}
    assert terms["altLabel"] == {"@id": "skos:altLabel", "@container": "@language"}


def test_a_compact_document_with_the_context_expands_as_intended(build_dir):
    context = json.loads((build_dir / "downloads" / "context.jsonld").read_text())
    document = {**context, "@id": "tdi:example-deal", "@type": "ArmsDeal",
                "supplier": "tdi:turkiye", "year": 2023, "label": "an example",
                "altLabel": {"tr": "bir örnek"}, "localProduction": True, "status": "tdkg:reported"}
    graph = rdflib.Graph().parse(data=json.dumps(document), format="json-ld")
    deal = URIRef(TDI + "example-deal")
    assert (deal, RDF.type, URIRef(TDKG + "ArmsDeal")) in graph
    assert (deal, URIRef(TDKG + "supplier"), URIRef(TDI + "turkiye")) in graph
    assert (deal, URIRef(TDKG + "year"), Literal("2023", datatype=XSD.integer)) in graph
    assert (deal, RDFS.label, Literal("an example", lang="en")) in graph
    assert (deal, URIRef(ns.PREFIXES["skos"] + "altLabel"), Literal("bir örnek", lang="tr")) in graph
    assert (deal, URIRef(TDKG + "status"), URIRef(TDKG + "reported")) in graph
    assert graph.value(deal, URIRef(TDKG + "localProduction")).datatype == XSD.boolean


def test_the_json_ld_dump_is_compacted_with_the_linked_context(build_dir, context):
    """Short keys and @type, values in the form their term declares, the context by URL; and
    it reads back (with the context) as the same graph as the N-Triples dump."""
    folder = build_dir / "downloads"
    document = json.loads(read(folder / "complete.jsonld"))
    assert document["@context"] == ns.BASE + "context.jsonld"
    nodes = {n["@id"]: n for n in document["@graph"]}
    deal = nodes["tdi:saudi-akinci-deal-2023"]
    assert deal["supplier"] == "tdi:turkiye" and deal["year"] == "2023"   # short names used
    assert "ArmsDeal" in deal["@type"] and deal["status"] == "tdkg:reported"
    assert not any(RDF.type.n3() in n or str(RDF.type) in n for n in nodes.values())
    graph = rdflib.Graph().parse(data=inline(json.dumps(document), context), format="json-ld")
    assert isomorphic(graph, rdflib.Graph().parse(data=read(folder / "complete.nt"), format="nt"))


def test_the_expanded_json_ld_dump_needs_no_context(build_dir):
    nodes = json.loads(read(build_dir / "downloads" / downloads.EXPANDED))
    assert isinstance(nodes, list) and all(
        key.startswith(("@", "http")) for node in nodes for key in node)


# --- serving ------------------------------------------------------------------------------------

def test_the_listing_names_every_download(live_server, manifest):
    response = requests.get(live_server.url + "/downloads/", timeout=30)
    assert response.status_code == 200
    listing = response.json()
    assert listing["build"] == manifest["build"]
    assert [f["name"] for f in listing["files"]] == [f["name"] for f in manifest["files"]]
    for item, entry in zip(listing["files"], manifest["files"], strict=True):
        assert item["bytes"] == entry["bytes"] and item["media_type"] == entry["media_type"]
        assert item["href"] == "/downloads/" + entry["name"]
        assert item["iri"] == ns.BASE + "downloads/" + entry["name"]


def test_each_download_is_served_with_its_media_type(live_server, manifest):
    for entry in manifest["files"]:
        response = requests.get(f"{live_server.url}/downloads/{entry['name']}", timeout=60)
        assert response.status_code == 200, entry["name"]
        media = response.headers["Content-Type"]
        assert media.split(";")[0] == EXPECTED_MEDIA.get(suffix_of(entry["name"]),
                                                         "application/ld+json")
        if media.startswith("text/"):
            assert "charset=utf-8" in media
        assert "Content-Encoding" not in response.headers, entry["name"]   # the .gz file itself
        assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
        assert response.headers["ETag"].strip('"') == entry["sha256"]
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        compacted = entry["name"].endswith(".jsonld") and entry["name"] not in (
            downloads.CONTEXT, downloads.EXPANDED)
        assert ("context" in entry) == compacted, entry["name"]
        if compacted:       # the dump names its context in the body and in a Link header
            assert response.json()["@context"] == entry["context"] == ns.BASE + "context.jsonld"
            assert response.links["http://www.w3.org/ns/json-ld#context"]["url"] == entry["context"]
        if entry["name"].endswith(".gz"):
            lines = gzip.decompress(response.content).decode("utf-8").splitlines()
            assert len(lines) == entry["triples"]


def test_a_download_answers_304_when_unchanged(live_server):
    url = live_server.url + "/downloads/complete.ttl"
    first = requests.get(url, timeout=30)
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    changed = requests.get(url, headers={"If-None-Match": '"something-else"'}, timeout=30)
    assert changed.status_code == 200


@pytest.mark.parametrize("path", ["/downloads/nothing.ttl", "/downloads/manifest.json.bak",
                                  "/downloads/..%2fbuild.json", "/downloads/%2e%2e/build.json",
                                  "/downloads/..%2f..%2fcurrent%2fbuild.json",
                                  "/downloads/.%2fcomplete.ttl"])
def test_unknown_names_and_traversal_are_refused(live_server, path):
    response = requests.get(live_server.url + path, timeout=30)
    assert response.status_code == 404, path
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["status"] == 404
    assert "digest" not in response.text


def test_context_and_register_have_their_own_addresses(live_server, build_dir):
    folder = build_dir / "downloads"
    context = requests.get(live_server.url + "/context.jsonld",
                           headers={"Origin": "https://example.org"}, timeout=30)
    assert context.status_code == 200
    assert context.headers["Content-Type"].startswith("application/ld+json")
    assert context.headers["Access-Control-Allow-Origin"] == "*"
    assert context.content == (folder / "context.jsonld").read_bytes()
    register = requests.get(live_server.url + "/register.csv", timeout=30)
    assert register.status_code == 200
    assert register.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = register.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename=tdkg-register.csv" in disposition
    assert register.content == (folder / "register.csv").read_bytes()


# --- VoID ---------------------------------------------------------------------------------------

def test_void_describes_the_dataset_in_turtle_and_json_ld(live_server, stats, manifest):
    response, graph = fetch_void(live_server)
    assert response.headers["Content-Type"].startswith("text/turtle")
    _, as_json_ld = fetch_void(live_server, format="jsonld")
    assert isomorphic(graph, as_json_ld)
    dataset = URIRef(VOID_DOCUMENT + "#dataset")
    assert (dataset, RDF.type, VOID.Dataset) in graph
    assert (URIRef(VOID_DOCUMENT), URIRef("http://xmlns.com/foaf/0.1/primaryTopic"), dataset) in graph
    assert graph.value(dataset, DCTERMS.title) and graph.value(dataset, DCTERMS.description)
    assert graph.value(dataset, DCTERMS.license) == URIRef(       # the README's data licence
        "https://creativecommons.org/licenses/by/4.0/")
    assert graph.value(dataset, VOID.sparqlEndpoint) == URIRef(ns.BASE + "sparql")
    assert graph.value(dataset, VOID.uriSpace) == Literal(ns.BASE)
    assert graph.value(dataset, DCTERMS.modified).datatype == XSD.dateTime
    for key, prop in (("triples", VOID.triples), ("subjects", VOID.distinctSubjects),
                      ("objects", VOID.distinctObjects), ("properties", VOID.properties),
                      ("classes", VOID.classes)):
        assert graph.value(dataset, prop) == Literal(stats[key], datatype=XSD.integer), key
    vocabularies = set(graph.objects(dataset, VOID.vocabulary))
    assert {URIRef(ns.ONTOLOGY), URIRef("http://www.w3.org/2004/02/skos/core"),
            URIRef("http://www.w3.org/ns/org")} <= vocabularies
    subsets = {str(s): s for s in graph.objects(dataset, VOID.subset)}
    assert set(ns.FACT_GRAPHS) <= set(subsets)    # and one per other union a download holds

    def dumps_of(graphs) -> set[str]:             # the manifest's dumps of exactly these graphs
        return {f"{ns.BASE}downloads/{f['name']}" for f in manifest["files"]
                if sorted(f.get("graphs", ())) == sorted(graphs)}
    for name in ns.FACT_GRAPHS:
        subset = subsets[name]
        assert graph.value(subset, VOID.triples).toPython() == stats["graphs"][name]
        short = name.removeprefix(ns.GRAPH)
        assert {str(d) for d in graph.objects(subset, VOID.dataDump)} == dumps_of([name]) >= {
            f"{ns.BASE}downloads/{short}{s}" for s in (".nt.gz", ".ttl", ".jsonld")}
    assert {str(d) for d in graph.objects(dataset, VOID.dataDump)} == dumps_of(ns.FACT_GRAPHS) >= {
        f"{ns.BASE}downloads/complete{s}" for s in (".nt.gz", ".ttl", ".jsonld")}
    root = graph.value(dataset, VOID.rootResource)
    assert live_server.ask(f"ASK {{ <{root}> ?p ?o }}")


def test_every_dump_void_links_to_is_served(live_server, manifest):
    _, graph = fetch_void(live_server)
    dumps = set(graph.objects(None, VOID.dataDump))
    assert len(dumps) == sum(1 for f in manifest["files"] if f.get("graphs")) >= 12
    sizes = {f["name"]: f["bytes"] for f in manifest["files"]}
    for dump in dumps:
        response = requests.get(local(str(dump), live_server), timeout=60)
        assert response.status_code == 200, dump
        assert len(response.content) == sizes[str(dump).rsplit("/", 1)[1]]


def test_the_service_description_links_to_void(live_server):
    response = requests.get(live_server.url + "/sparql", headers={"Accept": "text/turtle"},
                            timeout=30)
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    service = next(graph.subjects(RDF.type, SD.Service))
    dataset = graph.value(service, SD.defaultDataset)
    link = graph.value(dataset, RDFS.seeAlso)
    assert link == URIRef(VOID_DOCUMENT)
    void = requests.get(local(str(link), live_server), timeout=30)
    assert void.status_code == 200 and "void:Dataset" in void.text


def test_void_refuses_what_it_cannot_produce(live_server):
    response = requests.get(live_server.url + "/.well-known/void",
                            headers={"Accept": "image/png"}, timeout=30)
    assert response.status_code == 406


# --- the register -------------------------------------------------------------------------------

FACTS_QUERY = """SELECT ?deal ?kind ?p ?v ?label WHERE {
  VALUES ?kind { %s }
  ?deal a ?kind .
  OPTIONAL {
    VALUES ?p { tdkg:supplier tdkg:recipient tdkg:concernsSystem tdkg:transferredSystem
                tdkg:quantity tdkg:year tdkg:startYear tdkg:endYear tdkg:status }
    ?deal ?p ?v .
    OPTIONAL { ?v rdfs:label ?label }
  }
}""" % " ".join(f"tdkg:{c}" for c in DEAL_CLASSES)


@pytest.fixture(scope="module")
def deal_facts(live_server) -> dict[str, dict]:
    """Each deal of the five classes with what the graph states about it, read over SPARQL."""
    facts: dict[str, dict] = {}
    for row in live_server.select(ns.sparql_prefixes() + FACTS_QUERY):
        deal = facts.setdefault(row["deal"], {"kind": row["kind"].removeprefix(TDKG)})
        if "p" in row:
            deal.setdefault(row["p"].removeprefix(TDKG), set()).add(row.get("label", row["v"]))
    return facts


def test_register_has_one_row_per_deal_supplier_recipient_and_system(register, deal_facts):
    assert {r["IRI"] for r in register} == set(deal_facts)
    for iri, facts in deal_facts.items():
        rows = [r for r in register if r["IRI"] == iri]
        suppliers, recipients = facts.get("supplier", set()), facts.get("recipient", set())
        systems = facts.get("concernsSystem", set()) | facts.get("transferredSystem", set())
        assert len(rows) == max(1, len(suppliers)) * max(1, len(recipients)) * max(1, len(systems))
        assert {r["Supplier"] for r in rows} == (suppliers or {""}), iri
        assert {r["Recipient"] for r in rows} == (recipients or {""}), iri
        assert {r["Designation"] for r in rows} == (systems or {""}), iri


def test_register_cells_come_from_the_graph_and_stay_empty_where_it_is_silent(register, deal_facts):
    """Ordered vs delivered and order vs delivery year follow the fact's class; no cell is
    filled where the graph has nothing to put in it."""
    for row in register:
        facts = deal_facts[row["IRI"]]
        quantity = "; ".join(sorted(facts.get("quantity", set())))
        transfer = facts["kind"] == "Acquisition"
        assert row["Number delivered"] == (quantity if transfer else ""), row["IRI"]
        assert row["Number ordered"] == ("" if transfer else quantity), row["IRI"]
        year = "; ".join(sorted(facts.get("year", set())))
        assert row["Year(s) of order"] == ("" if transfer else year), row["IRI"]
        if transfer:
            start, end = facts.get("startYear", set()), facts.get("endYear", set())
            span = year or "; ".join(sorted(start))
            if end and end != start:
                span = f"{span}-{'; '.join(sorted(end))}"
            assert row["Year(s) of delivery"] == span, row["IRI"]
        else:
            assert row["Year(s) of delivery"] == ""
        assert row["Status"] == "; ".join(sorted(facts["status"]))
        if not facts.get("concernsSystem") and not facts.get("transferredSystem"):
            assert row["Description"] == ""
    assert any(r["Number ordered"] == "" for r in register)        # silence stays silence
    assert any(r["Value"] == "" and r["Currency"] == "" for r in register)


def test_register_holds_the_saudi_akinci_deal_and_the_ukrainian_tb2s(register, live_server):
    saudi = [r for r in register if r["IRI"] == TDI + "saudi-akinci-deal-2023"]
    assert len(saudi) == 1
    row = saudi[0]
    assert (row["Supplier"], row["Recipient"]) == ("Türkiye", "Saudi Arabia")
    assert row["Designation"].startswith("Akıncı")
    assert row["Description"] == "combat drone"
    assert (row["Year(s) of order"], row["Year(s) of delivery"]) == ("2023", "")
    assert (row["Value"], row["Currency"], row["Status"]) == ("3000000000", "USD", "reported")
    assert row["Number ordered"] == ""                     # the graph states no quantity
    assert "footnote 11" in row["Source"] and "https://" in row["Source"]
    assert "Baykar as supplier (implied)" in row["Comments"]
    ukraine = [r for r in register if r["IRI"] == TDI + "f000-acquisition-ukraine-tb2"]
    assert len(ukraine) == 1
    row = ukraine[0]
    assert (row["Supplier"], row["Recipient"], row["Designation"]) == (
        "Türkiye", "Ukraine", "Bayraktar TB2")
    assert "2022" in row["Year(s) of delivery"] and row["Year(s) of order"] == ""
    assert row["Number delivered"] == "" and row["Value"] == "" and row["Comments"] == ""
    # value and currency agree with the graph
    rows = live_server.select(ns.sparql_prefixes() + """SELECT ?amount ?currency WHERE {
        tdi:saudi-akinci-deal-2023 tdkg:value [ tdkg:amount ?amount ; tdkg:currency ?currency ] }""")
    assert rows == [{"amount": "3000000000", "currency": TDKG + "USD"}]


def test_register_comments_carry_structured_qualifiers_only(register, live_server):
    milgem = next(r for r in register if r["IRI"] == TDI + "pakistan-milgem-deal-2018")
    assert milgem["Number ordered"] == "4" and milgem["Number delivered"] == ""
    assert "local production in Karachi" in milgem["Comments"]
    comments = {r["Comments"] for r in register}
    prose = live_server.select(ns.sparql_prefixes() + """SELECT ?c WHERE {
        VALUES ?kind { tdkg:ArmsDeal tdkg:Acquisition } ?deal a ?kind ; rdfs:comment ?c }""")
    assert prose
    for row in prose:       # rdfs:comment prose is never copied into the register
        assert not any(row["c"] in c for c in comments)


def test_register_is_sorted_by_supplier_recipient_year_designation(register):
    keys = [(r["Supplier"] == "", r["Supplier"], r["Recipient"] == "", r["Recipient"])
            for r in register]
    assert keys == sorted(keys)


def test_register_query_answers_the_same_rows_at_the_endpoint(register, live_server):
    query = (Path(__file__).resolve().parents[1] / "queries" / "register.rq").read_text()
    rows = live_server.select(query)
    variables = dict(downloads.REGISTER_COLUMNS)
    endpoint = sorted(tuple(r.get(variables[c], "") for c in REGISTER_HEADER) for r in rows)
    assert endpoint == sorted(tuple(r[c] for c in REGISTER_HEADER) for r in register)


# --- tdkg export --------------------------------------------------------------------------------

def test_export_copies_the_downloads(built_state, build_dir, manifest, tmp_path):
    out = tmp_path / "exports"
    result = run_tdkg("export", "--state-dir", str(built_state), "--out", str(out))
    assert result.returncode == 0, result.stderr
    for entry in manifest["files"]:
        assert (out / entry["name"]).read_bytes() == (build_dir / "downloads" / entry["name"]).read_bytes()
        assert str(out / entry["name"]) in result.stdout
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_export_register_to_a_file(built_state, build_dir, tmp_path):
    out = tmp_path / "register.csv"
    result = run_tdkg("export", "--register", "--state-dir", str(built_state), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.read_bytes() == (build_dir / "downloads" / "register.csv").read_bytes()


def test_export_without_a_store_fails_with_a_message(tmp_path):
    for extra in ([], ["--register"]):
        result = run_tdkg("export", "--state-dir", str(tmp_path / "none"), *extra,
                          "--out", str(tmp_path / "out"))
        assert result.returncode == 2
        assert "no published store" in result.stderr and "tdkg build" in result.stderr
        assert not (tmp_path / "out").exists()


def test_a_build_without_downloads_exports_them_from_its_store(tmp_path, built_state):
    state = tmp_path / "var"
    result = run_tdkg("build", "--state-dir", str(state), "--no-downloads", "--skip-validation",
                      "--no-owl-files")
    assert result.returncode == 0, result.stderr
    build = store.current_build(state)
    assert not (build / "downloads").exists()
    assert "downloads" not in store.read_info(build)["timings"]
    out = tmp_path / "exports"
    result = run_tdkg("export", "--state-dir", str(state), "--out", str(out))
    assert result.returncode == 0, result.stderr
    made = json.loads((out / "manifest.json").read_text())
    reference = json.loads((store.current_build(built_state) / "downloads" / "manifest.json")
                           .read_text())
    counts = lambda m: {f["name"]: f.get("triples", f.get("rows")) for f in m["files"]}  # noqa: E731
    assert counts(made) == counts(reference)
    assert (out / "register.csv").read_bytes() == (
        store.current_build(built_state) / "downloads" / "register.csv").read_bytes()


def test_the_dumps_a_build_makes_from_its_own_files_hold_what_its_store_holds(tmp_path):
    """A build writes its dumps from N-Triples files of its graphs written beside its store
    (and the complete dump in a child process beside its later steps); for a build without
    those files (`tdkg export` of a build made without downloads) they are made from the
    store. Each file holds the same triples either way (the store writes a number in its
    canonical form), a triple the sources state twice is counted once, and the build leaves
    none of those files behind."""
    data = tmp_path / "data"
    shutil.copytree(PROJECT / "data" / "ttl", data)
    stated = next(q.triple for q in ox.parse(path=str(data / "doc-000-defence-industry.ttl"),
                                             format=ox.RdfFormat.TURTLE)
                  if q.predicate.value == str(RDFS.label))
    (data / "zz-again.nt").write_text(f"{stated} .\n", encoding="utf-8")
    state = tmp_path / "var"
    result = run_tdkg("build", "--state-dir", str(state), "--data-dir", str(data),
                      "--skip-validation", "--no-owl-files")
    assert result.returncode == 0, result.stderr
    build = store.current_build(state)
    graphs = store.read_info(build)["stats"]["graphs"]
    assert not (build / store.SCANS).exists()
    assert not [p.name for p in (build / "downloads").iterdir() if p.name.startswith(".")]
    out = tmp_path / "from-the-store"
    downloads.write_downloads(build, out=out)
    built = json.loads((build / "downloads" / "manifest.json").read_text())
    context = json.loads((build / "downloads" / "context.jsonld").read_text())["@context"]
    rdf = [f["name"] for f in built["files"] if "triples" in f and not f["name"].endswith(".owl")]
    assert len(rdf) == 4 * 3 + 2
    counts = {f["name"]: f.get("triples") for f in built["files"]}
    assert counts["asserted.nt.gz"] == graphs[ns.GRAPH_ASSERTED]
    assert counts["complete.nt"] == sum(graphs.values())
    for name in rdf:
        suffix = suffix_of(name)
        ours, theirs = (_canonical(parse(read(folder / name), suffix, context))
                        for folder in (build / "downloads", out))
        assert ours == theirs and len(ours) > 0, name


def _canonical(quads: list[ox.Quad]) -> set[ox.Quad]:
    """The quads with every literal in the form Oxigraph's store gives it ("40" for the
    decimal written 40.0)."""
    canonical = ox.Store()
    canonical.extend(quads)
    return set(canonical)


def test_the_dumps_keep_the_curated_form_of_every_literal(build_dir):
    """The dumps are written from the parsed sources, not read back from the store, which
    keeps a number's value but not its spelling: the curated share `40.0` stays `40.0`."""
    decimal = '"40.0"^^<http://www.w3.org/2001/XMLSchema#decimal>'
    assert "tdkg:percentage 40.0" in (PROJECT / "data" / "ttl" /
                                       "doc-000-defence-industry.ttl").read_text()
    for name in ("asserted.nt.gz", "complete.nt.gz"):
        assert decimal in read(build_dir / "downloads" / name).decode(), name


def test_a_relative_state_folder_serves_the_downloads(built_state):
    """`tdkg serve` with the default, relative state folder (./var): files are found where the
    build put them, not relative to the server's package folder."""
    relative = os.path.relpath(built_state, PROJECT)
    server = Server(Path(relative), env={})
    try:
        for path in ("/register.csv", "/downloads/complete.ttl", "/context.jsonld"):
            response = requests.get(server.url + path, timeout=30)
            assert response.status_code == 200, (path, response.text[:300])
    finally:
        server.stop()
