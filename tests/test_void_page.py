"""The dataset's VoID description for people and for programs, on the session's real server.

``/.well-known/void`` is the "Dataset" link of every page: a browser's ``Accept`` gets a page of
the site (statistics, named graphs, every download with its size and checksum, the licence), an
RDF ``Accept`` gets VoID as before. The figures on the page are checked against SPARQL and the
build's downloads manifest, the licence against the README and the ontology, and a download the
page cannot know by name (added to a scratch copy of the build) against both renderings.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import rdflib
import requests
from page_tags import Tags
from rdflib import URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF
from support import PROJECT, Server

from tdkg import namespaces as ns
from tdkg.pipeline import downloads, store

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
DATASET = URIRef(ns.BASE + ".well-known/void#dataset")
PARSERS = {"text/turtle": "turtle", "application/rdf+xml": "xml",
           "application/n-triples": "nt", "application/ld+json": "json-ld"}
NAV = ("/", "/network", "/timeline", "/ontology", "/.well-known/void")


def get(server, path: str = "/.well-known/void", accept: str | None = None, **params):
    headers = {"Accept": accept} if accept else {"Accept": None}
    return requests.get(server.url + path, headers=headers, params=params, timeout=60)


def void_graph(server, **params) -> rdflib.Graph:
    response = get(server, accept="text/turtle", **params)
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.content, format="turtle")


@pytest.fixture(scope="module")
def build_dir(built_state: Path) -> Path:
    found = store.current_build(built_state)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def manifest(build_dir: Path) -> dict:
    found = downloads.read_manifest(build_dir)
    assert found is not None and found["files"]
    return found


@pytest.fixture(scope="module")
def void_page(live_server) -> Tags:
    response = get(live_server, accept=BROWSER)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["Vary"]
    return Tags(response.text)


# --- negotiation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("accept", [BROWSER, "text/html", "application/xhtml+xml,text/html;q=0.9",
                                    "text/html;q=0.9, text/turtle;q=0.5"])
def test_a_browser_gets_the_dataset_page(live_server, accept):
    response = get(live_server, accept=accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("accept", "params", "media"), [
    ("application/rdf+xml", {}, "application/rdf+xml"),
    ("text/turtle", {}, "text/turtle"),
    ("application/ld+json", {}, "application/ld+json"),
    ("application/n-triples", {}, "application/n-triples"),
    ("*/*", {}, "text/turtle"),
    (None, {}, "text/turtle"),
    ("application/xml", {}, "application/rdf+xml"),
    ("text/html;q=0.5, text/turtle", {}, "text/turtle"),     # RDF ranked above HTML
    ("text/html, text/turtle", {}, "text/turtle"),           # a tie goes to the data
    (BROWSER, {"format": "turtle"}, "text/turtle"),          # format= wins over Accept
    (BROWSER, {"format": "rdfxml"}, "application/rdf+xml"),
])
def test_programs_get_rdf(live_server, accept, params, media):
    response = get(live_server, accept=accept, **params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media
    graph = rdflib.Graph().parse(data=response.content, format=PARSERS[media])
    assert (DATASET, RDF.type, VOID.Dataset) in graph


def test_format_html_gives_the_page_whatever_the_accept(live_server):
    response = get(live_server, accept="text/turtle", format="html")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")


def test_an_unknown_format_and_an_unproducible_type_are_refused(live_server):
    assert get(live_server, accept="image/png").status_code == 406
    assert get(live_server, accept=BROWSER, format="pdf").status_code == 406


# --- the page ------------------------------------------------------------------------------------

def test_the_page_has_the_site_navigation_and_links_the_ways_in(void_page):
    hrefs = [a["href"] for a, _ in void_page.find("a")]
    assert len(void_page.find("header", class_="site")) == 1
    for href in NAV + ("/sparql", "/ontology", "/downloads/"):
        assert href in hrefs, href
    for fmt in ("turtle", "ntriples", "jsonld", "rdfxml"):
        assert f"/.well-known/void?format={fmt}" in hrefs
    assert [text for _, text in void_page.find("h1")] == ["TDKG: Türkiye Defence Knowledge Graph"]


def test_the_statistics_are_the_stores(live_server, void_page):
    counts = live_server.select("""SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?s) AS ?subjects)
        (COUNT(DISTINCT ?o) AS ?objects) (COUNT(DISTINCT ?p) AS ?properties)
        WHERE { ?s ?p ?o }""")[0]
    classes = live_server.select("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?x a ?c }")[0]["n"]
    shown = {attrs["data-stat"]: (attrs["data-value"], text) for attrs, text in void_page.find("td")
             if "data-stat" in attrs}
    expected = {**counts, "classes": classes}
    assert set(shown) == set(expected)
    for key, value in expected.items():
        assert shown[key] == (value, f"{int(value):,}"), key


def test_every_named_graph_is_listed_with_its_triple_count(live_server, void_page):
    rows = live_server.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    expected = {row["g"]: int(row["n"]) for row in rows}
    assert set(expected) == set(ns.FACT_GRAPHS)
    listed = {attrs["data-graph"]: attrs for attrs, _ in void_page.find("tr", class_="subset")}
    assert set(listed) == set(expected)
    counts = [int(a["data-value"]) for a, _ in void_page.find("td", class_="count")
              if "data-value" in a]
    for graph, triples in expected.items():
        assert triples in counts, graph


def test_every_download_is_listed_with_the_manifests_size_and_checksum(live_server, void_page,
                                                                       manifest):
    rows = {a["id"].removeprefix("download-"): (a, text) for a, text in void_page.find("tr")
            if a.get("id", "").startswith("download-")}
    assert list(rows) == [f["name"] for f in manifest["files"]]       # all of them, in order
    hrefs = {a["href"] for a, _ in void_page.find("a")}
    for entry in manifest["files"]:
        attrs, text = rows[entry["name"]]
        assert int(attrs["data-bytes"]) == entry["bytes"]
        assert f"{entry['bytes']:,} bytes" in text
        assert attrs["data-sha256"] == entry["sha256"] and entry["sha256"] in text
        assert entry["media_type"] in text
        assert f"/downloads/{entry['name']}" in hrefs
        served = requests.get(f"{live_server.url}/downloads/{entry['name']}", timeout=60)
        assert len(served.content) == entry["bytes"], entry["name"]
        assert hashlib.sha256(served.content).hexdigest() == entry["sha256"], entry["name"]


# --- the licence ---------------------------------------------------------------------------------

def licence_of_the_readme() -> str:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Licence"):]
    match = re.search(r"Data and ontology: (.+?)\.$", section, re.MULTILINE)
    assert match, "the README's Licence section names no data licence"
    return match.group(1)


CC_URLS = {"CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/",
           "CC0 1.0": "https://creativecommons.org/publicdomain/zero/1.0/"}


def test_void_states_the_licence_the_readme_and_the_ontology_give(live_server, void_page):
    licence = URIRef(CC_URLS[licence_of_the_readme()])
    graph = void_graph(live_server)
    assert set(graph.objects(DATASET, DCTERMS.license)) == {licence}
    ontology = rdflib.Graph().parse(data=get(live_server, "/ontology.ttl").content, format="turtle")
    assert ontology.value(URIRef(ns.ONTOLOGY), DCTERMS.license) == licence
    links = void_page.find("a", rel="license")
    assert [a["href"] for a, _ in links] == [str(licence)]
    assert links[0][1] == licence_of_the_readme()


def test_the_service_description_states_the_licence(live_server):
    response = get(live_server, "/sparql", accept="text/turtle")
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    dataset = graph.value(next(graph.subjects(RDF.type, SD.Service)), SD.defaultDataset)
    assert graph.value(dataset, DCTERMS.license) == URIRef(CC_URLS[licence_of_the_readme()])


# --- dumps in the RDF ----------------------------------------------------------------------------

def test_void_gives_every_dump_its_size_and_checksum(live_server, manifest):
    graph = void_graph(live_server)
    dumps = {str(d).removeprefix(ns.BASE + "downloads/"): d
             for d in graph.objects(None, VOID.dataDump)}
    rdf_files = {f["name"]: f for f in manifest["files"] if f.get("graphs")}
    assert set(dumps) == set(rdf_files) and len(dumps) >= 12
    for name, dump in dumps.items():
        entry = rdf_files[name]
        assert graph.value(dump, DCAT.byteSize).toPython() == entry["bytes"]
        checksum = graph.value(dump, SPDX.checksum)
        assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert str(graph.value(checksum, SPDX.checksumValue)) == entry["sha256"]
        assert str(graph.value(dump, DCTERMS.format)) == entry["media_type"]


def test_a_download_nobody_named_appears_on_the_page_in_void_and_on_the_ontology_page(
        scratch_state):
    """The pages list the manifest, not a list of names: a new file (here an RDF/XML dump of the
    ontology and the asserted facts, added to a copy of the build) shows up everywhere."""
    build = store.current_build(scratch_state)
    folder = downloads.folder(build)
    content = rdflib.Graph().parse(folder / "ontology.ttl").serialize(format="xml").encode()
    (folder / "extra-union.rdf").write_bytes(content)
    manifest = json.loads((folder / downloads.MANIFEST).read_text())
    entry = {"name": "extra-union.rdf", "media_type": "application/rdf+xml",
             "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
             "triples": 1, "graphs": [ns.GRAPH_ONTOLOGY, ns.GRAPH_ASSERTED]}
    manifest["files"].append(entry)
    (folder / downloads.MANIFEST).write_text(json.dumps(manifest))
    server = Server(scratch_state)
    try:
        page = Tags(get(server, accept=BROWSER).text)
        row = page.find("tr", id="download-extra-union.rdf")
        assert len(row) == 1 and int(row[0][0]["data-bytes"]) == entry["bytes"]
        graph = void_graph(server)
        dump = URIRef(ns.BASE + "downloads/extra-union.rdf")
        holders = list(graph.subjects(VOID.dataDump, dump))
        assert len(holders) == 1 and holders[0] not in (DATASET, *map(URIRef, ns.FACT_GRAPHS))
        assert (DATASET, VOID.subset, holders[0]) in graph
        assert graph.value(dump, DCAT.byteSize).toPython() == entry["bytes"]
        ontology = Tags(get(server, "/ontology", accept=BROWSER).text)
        assert "/downloads/extra-union.rdf" in {a["href"] for a, _ in ontology.find("a")}
        assert requests.get(server.url + "/downloads/extra-union.rdf", timeout=30).content == content
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)])
def test_the_dataset_page_reads_well_in_a_browser(live_server, page, offsite_requests, screenshot,
                                                 width, height):
    """What the "Dataset" link of every page opens, in Chromium: the page, not an RDF/XML
    download, with nothing wider than the screen."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/")
    with page.expect_navigation():
        page.locator("header.site nav a", has_text="Dataset").click()
    assert page.url == f"{live_server.url}/.well-known/void"
    assert page.locator("h1").inner_text() == "TDKG: Türkiye Defence Knowledge Graph"
    assert page.locator("a[rel=license]").is_visible()
    assert page.locator("tr.download").count() == len(
        requests.get(live_server.url + "/downloads/", timeout=30).json()["files"])
    wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wider <= 0, f"the page scrolls sideways by {wider} px at {width} px"
    screenshot(f"{width}x{height}")
    assert offsite_requests == []
