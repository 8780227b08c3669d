"""Dereferencing (W3C "Cool URIs for the Semantic Web"): every IRI the graph mints answers on the
real server, a page for browsers, RDF for programs; resource pages; the ontology document.

The resource IRIs are https://w3id.org/tdkg/...; the server answers them under the same path, so
``live_server.url + path`` stands for the IRI once w3id redirects to the deployment.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
import rdflib
import requests
from jsonld_client import inline
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from tdkg.namespaces import sparql_prefixes

BASE = "https://w3id.org/tdkg/"
TDKG = rdflib.Namespace(BASE + "ontology#")
TURKIYE = rdflib.URIRef(BASE + "id/turkiye")
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8"
#: media type → (extension of the document, rdflib parser)
RDF_TYPES = {
    "text/turtle": ("ttl", "turtle"),
    "application/ld+json": ("jsonld", "json-ld"),
    "application/rdf+xml": ("rdf", "xml"),
    "application/n-triples": ("nt", "nt"),
}


def get(server, path: str, accept: str | None = None, **params) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.get(server.url + path, headers=headers, params=params,
                        allow_redirects=False, timeout=30)


def parse(response: requests.Response, parser: str) -> rdflib.Graph:
    data = response.content
    if parser == "json-ld":     # compacted, its context named by URL: inline the served one
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(response.url))
        data = inline(data, requests.get(origin + "/context.jsonld", timeout=30).json()["@context"])
    return rdflib.Graph().parse(data=data, format=parser, publicID=BASE)


def select(server, query: str) -> list[dict[str, str]]:
    return server.select(sparql_prefixes() + query)


# ---- 303 for things, 200 for documents ----------------------------------------------------

@pytest.mark.parametrize("media", RDF_TYPES)
def test_a_thing_iri_answers_303_to_the_rdf_document_a_program_asks_for(live_server, media):
    ext, parser = RDF_TYPES[media]
    response = get(live_server, "/id/turkiye", media)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/data/id/turkiye.{ext}")
    assert "Accept" in response.headers["Vary"]
    document = requests.get(live_server.url + f"/data/id/turkiye.{ext}", timeout=30)
    assert document.status_code == 200
    assert document.headers["Content-Type"].split(";")[0] == media
    graph = parse(document, parser)
    assert (TURKIYE, RDFS.label, rdflib.Literal("Türkiye", lang="en")) in graph
    assert (TURKIYE, SKOS.exactMatch, rdflib.URIRef("http://www.wikidata.org/entity/Q43")) in graph


def test_the_rdf_document_holds_every_triple_about_the_resource(live_server):
    graph = parse(requests.get(live_server.url + "/data/id/turkiye.nt", timeout=30), "nt")
    rows = select(live_server, """SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE {
        { BIND(tdi:turkiye AS ?s) ?s ?p ?o } UNION
        { BIND(tdi:turkiye AS ?o) ?s ?p ?o FILTER(?s != tdi:turkiye) } } }""")
    assert len(graph) == int(rows[0]["n"])
    assert len(set(graph.subjects(None, TURKIYE))) > 10          # incoming links too


def test_a_browser_is_sent_to_the_html_page(live_server):
    response = get(live_server, "/id/turkiye", BROWSER)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/page/id/turkiye")
    page = requests.get(live_server.url + "/page/id/turkiye", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("ext,media", [("ttl", "text/turtle"), ("jsonld", "application/ld+json"),
                                       ("rdf", "application/rdf+xml"),
                                       ("nt", "application/n-triples")])
def test_extension_and_format_override_negotiation(live_server, ext, media):
    by_extension = get(live_server, f"/id/turkiye.{ext}", BROWSER)
    by_parameter = get(live_server, "/id/turkiye", BROWSER, format=ext)
    for response in (by_extension, by_parameter):
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/data/id/turkiye.{ext}")
    document = get(live_server, f"/data/id/turkiye.{ext}", BROWSER)
    assert document.headers["Content-Type"].split(";")[0] == media


def test_a_document_without_extension_negotiates_and_names_its_variant(live_server):
    response = get(live_server, "/data/id/turkiye", "application/ld+json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert response.headers["Content-Location"] == "/data/id/turkiye.jsonld"
    assert "Accept" in response.headers["Vary"]
    assert len(parse(response, "json-ld")) > 0


def test_inference_false_leaves_the_inferred_triples_out(live_server):
    full = parse(get(live_server, "/data/id/turkiye.ttl"), "turtle")
    asserted = parse(get(live_server, "/data/id/turkiye.ttl", inference="false"), "turtle")
    assert len(asserted) < len(full)
    assert (TURKIYE, TDKG.partnerOf, rdflib.URIRef(BASE + "id/pakistan")) in full
    assert not list(asserted.triples((None, TDKG.partnerOf, None)))
    redirect = get(live_server, "/id/turkiye", "text/turtle", inference="false")
    assert redirect.headers["Location"].endswith("/data/id/turkiye.ttl?inference=false")


def test_every_minted_iri_dereferences(live_server):
    """Each IRI under https://w3id.org/tdkg/ that the store holds answers: things with 303,
    ontology terms inside the ontology document (a hash IRI: its fragment names an entry)."""
    rows = select(live_server, """SELECT DISTINCT ?x WHERE {
        { ?x ?p ?o } UNION { ?s ?x ?o } UNION { ?s ?p ?x }
        FILTER(isIRI(?x) && STRSTARTS(STR(?x), "https://w3id.org/tdkg/")) }""")
    iris = sorted(r["x"] for r in rows)
    things = [i for i in iris if "#" not in i and not i.startswith(BASE + "ontology")]
    terms = [i for i in iris if i.startswith(BASE + "ontology#")]
    assert len(things) > 500 and len(terms) > 200
    session = requests.Session()
    failures = []
    for iri in things:
        response = session.head(live_server.url + "/" + iri[len(BASE):],
                                headers={"Accept": "text/turtle"}, timeout=30)
        if response.status_code != 303:
            failures.append((iri, response.status_code))
    assert failures == []
    doc = session.get(live_server.url + "/ontology.html", timeout=60).text
    anchors = set(re.findall(r'id="([^"]+)"', doc))
    missing = [t for t in terms if t.split("#", 1)[1] not in anchors]
    assert missing == [], f"{len(missing)} ontology terms have no entry in the documentation"


# ---- 404 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/id/no-such-thing", "/id/no-such-thing.ttl",
                                  "/data/id/no-such-thing.ttl", "/page/id/no-such-thing",
                                  "/source/doc-999", "/graph/no-such-graph", "/ontology/9.9.9"])
def test_an_unknown_iri_is_a_404_page_for_people_and_json_for_programs(live_server, path):
    page = get(live_server, path, BROWSER)
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert "404" in page.text
    assert path.rstrip("/").rsplit("/", 1)[-1].split(".ttl")[0] in html.unescape(page.text)
    program = get(live_server, path, "text/turtle")
    assert program.status_code == 404
    assert program.json()["error"]["status"] == 404


# ---- resource pages -----------------------------------------------------------------------

def page_of(server, path: str) -> str:
    response = requests.get(server.url + path, headers={"Accept": BROWSER}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return response.text


def test_a_state_page_shows_names_types_facts_sources_and_wikidata(live_server):
    text = page_of(live_server, "/id/turkiye")
    plain = html.unescape(text)
    assert "<h1>Türkiye</h1>" in text
    alt = [r["a"] for r in select(live_server, "SELECT ?a { tdi:turkiye skos:altLabel ?a }")]
    assert alt and all(f'<span class="altname">{a}</span>' in plain for a in alt)
    assert 'href="http://www.wikidata.org/entity/Q43"' in text
    assert ">state</a>" in text                                   # its type, by label
    # every fact node Türkiye takes part in is listed with its status and document
    facts = select(live_server, """SELECT DISTINCT ?f ?status ?doc WHERE {
        GRAPH <https://w3id.org/tdkg/graph/asserted> { ?f ?role tdi:turkiye ;
              tdkg:status ?status ; tdkg:statedIn ?doc } }""")
    assert len(facts) > 50
    rows = re.findall(r'<li class="fact-row"[^>]*>\s*<div class="fact-head">.*?'
                      r'<a class="fact" href="([^"]+)">.*?</li>', text, re.S)
    assert sorted(set(rows)) == sorted({"/" + f["f"][len(BASE):] for f in facts})
    deal = re.search(r'<li class="fact-row"[^>]*>(?:(?!</li>).)*?'
                     r'<a class="fact" href="/id/saudi-akinci-deal-2023">.*?</li>', text, re.S)
    assert deal, "the Saudi Akıncı deal is missing from Türkiye's facts"
    assert "status-reported" in deal.group(0)
    assert 'href="/source/doc-000"' in deal.group(0)
    assert 'href="/source/doc-000-fn-11"' in deal.group(0) and "footnote 11" in deal.group(0)
    assert "mathrubhumi.com" in deal.group(0)                     # the cited URL's host
    assert "status-implied" in plain or "status-claimed" in plain


def test_inferred_facts_are_marked_and_link_to_their_explanation(live_server):
    text = page_of(live_server, "/id/turkiye")
    group = re.search(r'<details class="group inferred-group"[^>]*>'
                      r'(?:(?!<details class="group).)*?'
                      r'<a class="property" href="/ontology#partnerOf"[^>]*>.*?</details>',
                      text, re.S)
    assert group, "Türkiye's inferred partnerships have no group"
    row = re.search(r'<li class="inferred-row"><a href="/id/pakistan".*?</li>', group.group(0),
                    re.S)
    assert row, "Türkiye's inferred partnership with Pakistan is not shown as inferred"
    assert "badge-inferred" in row.group(0)
    why = html.unescape(re.search(r'<a class="why" href="([^"]+)"', row.group(0)).group(1))
    explanation = requests.get(live_server.url + why, headers={"Accept": BROWSER}, timeout=30)
    assert explanation.status_code == 200 and "inferred by" in explanation.text
    assert 'href="/source/doc-003"' in explanation.text           # down to the source document
    as_json = requests.get(live_server.url + why, headers={"Accept": "application/json"}, timeout=30)
    assert as_json.json()["explanation"]["origin"] == "inferred"
    asserted_rows = re.findall(r'<tr class="asserted', text)
    assert asserted_rows, "asserted statements should be shown too"


def test_a_fact_page_shows_its_status_and_source(live_server):
    text = page_of(live_server, "/id/saudi-akinci-deal-2023")
    section = re.search(r'<section class="own-source">.*?</section>', text, re.S).group(0)
    assert "status-reported" in section and 'href="/source/doc-000-fn-11"' in section
    assert 'href="/id/turkiye"' in text and 'href="/id/saudi-arabia"' in text


def test_a_footnote_page_links_the_cited_url(live_server):
    url = select(live_server, """SELECT ?u { tds:doc-000-fn-11 tdkg:citesWork ?w .
                                  ?w schema:url ?u }""")[0]["u"]
    text = page_of(live_server, "/source/doc-000-fn-11")
    assert html.escape(url) in text or url in text
    assert page_of(live_server, "/source/doc-000").count("doc-000-fn-") >= 10


def test_pages_work_without_javascript(live_server):
    """Resource pages hold everything in their HTML (groups are <details>); their only scripts
    are our own files, which draw the ties and add buttons (tests/test_resource_page.py reads
    the page with JavaScript off)."""
    for path in ("/id/turkiye", "/id/saudi-akinci-deal-2023", "/source/doc-000"):
        text = page_of(live_server, path)
        scripts = re.findall(r"<script\b[^>]*>", text)
        assert all('src="/static/resource.js"' in t or 'src="/vendor/vis-network/' in t
                   or 'type="application/json"' in t for t in scripts), scripts
        assert "<noscript" not in text
    assert 'class="fact-row"' in page_of(live_server, "/id/turkiye")
    # the query page is YASGUI, a script; without it, it points to the endpoint and the examples
    noscript = re.search(r"<noscript>(.*?)</noscript>", page_of(live_server, "/"), re.S)
    assert noscript and 'href="/sparql"' in noscript.group(1) \
        and 'href="/queries.json"' in noscript.group(1)


def test_foreign_iris_are_links_only_over_http(hostile_server):
    """A ``javascript:`` or ``data:`` IRI in the data is shown as text, never as a link."""
    text = page_of(hostile_server, "/id/hostile-firm")
    assert not re.search(r'<a [^>]*href="(?:javascript|data):', text)
    assert 'class="unlinked" title="javascript:alert(1)">javascript:alert(1)</span>' in text
    assert 'href="https://example.org/ok"' in text


def test_markup_in_the_data_is_shown_as_text(hostile_server):
    text = page_of(hostile_server, "/id/hostile-firm")
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Firm" in text
    turkiye = page_of(hostile_server, "/id/turkiye")
    assert "<b>bold</b>" not in turkiye and "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;" in turkiye


# ---- graph names ------------------------------------------------------------------------------

def test_a_graph_name_answers_with_its_dump_or_a_page(live_server):
    redirect = get(live_server, "/graph/asserted", "text/turtle")
    assert redirect.status_code == 303
    assert redirect.headers["Location"].endswith("/downloads/asserted.ttl")
    page = get(live_server, "/graph/inferred", BROWSER)
    assert page.status_code == 200 and "/downloads/inferred.nt.gz" in page.text


# ---- the ontology -----------------------------------------------------------------------------

PROTEGE = ("application/rdf+xml, application/xml; q=0.7, text/xml; q=0.6, text/plain; q=0.1, "
           "*/*; q=0.09")


@pytest.mark.parametrize("accept,media,parser", [
    (PROTEGE, "application/rdf+xml", "xml"), ("*/*", "application/rdf+xml", "xml"),
    ("text/turtle", "text/turtle", "turtle"), ("application/ld+json", "application/ld+json",
                                               "json-ld"),
    ("application/n-triples", "application/n-triples", "nt")])
def test_the_ontology_iri_answers_rdf(live_server, accept, media, parser):
    response = get(live_server, "/ontology", accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media
    assert "Accept" in response.headers["Vary"]
    graph = parse(response, parser)
    ontology = rdflib.URIRef(BASE + "ontology")
    assert (ontology, RDF.type, OWL.Ontology) in graph
    assert len(list(graph.subjects(RDF.type, OWL.Class))) > 100


def test_the_ontology_version_iri_answers_too(live_server):
    graph = parse(get(live_server, "/ontology.ttl"), "turtle")
    version = graph.value(rdflib.URIRef(BASE + "ontology"), OWL.versionIRI)
    assert version is not None
    response = get(live_server, "/" + str(version)[len(BASE):], "text/turtle")
    assert response.status_code == 200 and len(parse(response, "turtle")) == len(graph)


def test_the_ontology_documentation_lists_every_term_with_its_definition(live_server):
    response = get(live_server, "/ontology", BROWSER)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Location"] == "/ontology.html"
    doc = html.unescape(re.sub(r"<[^>]+>", " ", response.text))
    doc = re.sub(r"\s+", " ", doc)
    graph = parse(get(live_server, "/ontology.ttl"), "turtle")
    terms = [t for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
             for t in graph.subjects(RDF.type, kind) if str(t).startswith(str(TDKG))]
    assert len(terms) > 200
    missing = []
    for term in terms:
        definition = graph.value(term, SKOS.definition)
        label = graph.value(term, RDFS.label)
        if label is None or str(label) not in doc or (
                definition is not None and re.sub(r"\s+", " ", str(definition)) not in doc):
            missing.append(str(term))
    assert missing == []
    assert "<script src=" not in response.text and '<link href="http' not in response.text


def test_the_query_page_links_the_entry_points(live_server):
    """``/`` is the query page (server/workbench.py); it still links the other ways in."""
    text = page_of(live_server, "/")
    for href in ("/id/turkiye", "/ontology", "/sparql", "/.well-known/void", "/downloads/",
                 "/register.csv"):
        assert f'href="{href}"' in text
