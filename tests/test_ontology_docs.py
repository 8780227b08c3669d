"""The analyst's model stays documented: ontology/README.md names every property of the ontology,
gives the roles of every fact class, says what draws every shortcut and inferred property, and
its status table (and the README's) match the ontology."""
from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests
from page_tags import Tags
from rdflib.namespace import OWL, RDF, RDFS, SKOS
from support import PROJECT

from tdkg import namespaces as ns
from tdkg.pipeline.rules import load_rules

ONTOLOGY = rdflib.Graph().parse(PROJECT / "ontology" / "tdkg.ttl")
PAGE = (PROJECT / "ontology" / "README.md").read_text(encoding="utf-8")
README = (PROJECT / "README.md").read_text(encoding="utf-8")
TDKG = rdflib.Namespace(ns.TDKG)


def local(iri) -> str:
    return str(iri)[len(ns.TDKG):]


def mentioned(name: str, text: str) -> bool:
    return re.search(rf"`(?:tdkg:)?{re.escape(name)}`", text) is not None


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^#{1,3} ", text[start + len(heading):], re.MULTILINE)
    return text[start:start + len(heading) + (following.start() if following else len(text))]


def table_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]


PROPERTIES = sorted({local(s) for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
                     for s in ONTOLOGY.subjects(RDF.type, kind) if str(s).startswith(ns.TDKG)})


@pytest.mark.parametrize("name", PROPERTIES)
def test_every_property_of_the_ontology_is_on_the_page(name):
    assert mentioned(name, PAGE), f"tdkg:{name} is not documented in ontology/README.md"


def test_every_fact_class_has_its_roles_in_the_one_table():
    facts = {local(c) for c in ONTOLOGY.transitive_subjects(RDFS.subClassOf, TDKG.Fact)
             if str(c).startswith(ns.TDKG)} - {"Fact"}
    rows = table_rows(section(PAGE, "## Modelling pattern: fact nodes"))
    first_column = " ".join(r[0] for r in rows)
    missing = sorted(c for c in facts if not mentioned(c, first_column))
    assert len(facts) > 30 and not missing, missing


def _shortcut_table() -> dict[str, str]:
    rows = table_rows(section(PAGE, "### Shortcut and inferred properties"))
    return {name: " ".join(row[1:]) for row in rows[1:] for name in re.findall(r"`(?:tdkg:)?(\w+)`", row[0])}


def test_every_shortcut_of_the_ontology_says_what_draws_it():
    table = _shortcut_table()
    defined = {local(s) for s in ONTOLOGY.subjects(OWL.propertyChainAxiom, None)} | \
              {local(s) for s in ONTOLOGY.subjects(OWL.inverseOf, None) if str(s).startswith(ns.TDKG)}
    assert {"countryOfOrigin", "partnerOf", "inTensionWith", "partyTo"} <= defined
    for name in defined:
        assert name in table, f"tdkg:{name} is missing from the shortcut table"
        assert "chain" in table[name] or "inverse" in table[name], name


@pytest.mark.parametrize("rule", load_rules(PROJECT / "ontology" / "rules"), ids=lambda r: r.name)
def test_every_property_a_rule_draws_is_in_the_table_with_that_rule(rule):
    table = _shortcut_table()
    drawn = {p.value for _, p, _ in rule.template if isinstance(p, ox.NamedNode)} - {str(RDF.type)}
    assert drawn
    for iri in drawn:
        name = local(iri)
        assert name in table, f"{rule.path.name} draws tdkg:{name}, which is not in the table"
        assert rule.path.name in table[name] or "every rule" in table[name], (name, rule.path.name)


def test_the_status_table_matches_the_ontology():
    strengths = {local(s): int(o) for s, o in ONTOLOGY.subject_objects(TDKG.strength)}
    rows = table_rows(section(PAGE, "## Epistemic status"))
    documented = {re.search(r"`tdkg:(\w+)`", r[0]).group(1): int(r[1]) for r in rows[1:]}
    assert documented == strengths


def test_the_readme_describes_the_six_statuses_and_the_voice():
    knowledge = section(README, "## The knowledge")
    for status in TDKG.reported, TDKG.claimed, TDKG.implied, TDKG.curatorKnowledge, \
            TDKG.speculative, TDKG.officiallyDenied:
        label = str(ONTOLOGY.value(status, RDFS.label))
        assert label in knowledge, f"the README's knowledge section does not describe '{label}'"
    assert "`tdkg:claimedBy`" in knowledge and "`tdkg:status`" in knowledge


# --- the documentation page (/ontology for browsers), on the session's real server -------------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
PREFIXES = ns.sparql_prefixes() + f"PREFIX onto: <{ns.GRAPH_ONTOLOGY}>\n"


def page_text(server, path: str) -> str:
    response = requests.get(server.url + path, headers={"Accept": BROWSER}, timeout=60)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    return response.text


@pytest.fixture(scope="module")
def ontology_page(live_server) -> Tags:
    return Tags(page_text(live_server, "/ontology"))


def nav_of(text: str) -> str:
    return re.search(r'<header class="site">.*?</header>', text, re.DOTALL).group(0)


def test_the_page_has_one_title_the_ontologys_iri_and_version(live_server, ontology_page):
    header = live_server.select(PREFIXES + """SELECT ?o ?title ?version ?versionIRI WHERE {
        GRAPH onto: { ?o a owl:Ontology ; dcterms:title ?title ; owl:versionInfo ?version ;
                      owl:versionIRI ?versionIRI } }""")
    assert len(header) == 1 and header[0]["o"] == ns.ONTOLOGY
    titles = [text for _, text in ontology_page.find("h1")]
    assert titles == [header[0]["title"]]
    schemes = live_server.select(PREFIXES + """SELECT ?label WHERE {
        GRAPH onto: { ?s a skos:ConceptScheme ; rdfs:label ?label } }""")
    assert schemes and all(s["label"] not in titles[0] for s in schemes)
    assert [text for _, text in ontology_page.find(id="ontology-iri")] == [ns.ONTOLOGY]
    version = ontology_page.find(id="ontology-version")[0][1]
    assert header[0]["version"] in version and header[0]["versionIRI"] in version


def test_the_page_has_the_sites_navigation(live_server):
    text = page_text(live_server, "/ontology")
    assert nav_of(text) == nav_of(page_text(live_server, "/graph/asserted"))
    for href in ("/", "/network", "/timeline", "/ontology", "/.well-known/void"):
        assert f'href="{href}"' in nav_of(text)
    assert "tdkg.css" in text and "docs.css" in text


def test_the_projects_own_terms_come_before_the_borrowed_ones(live_server, ontology_page):
    rows = live_server.select(PREFIXES + """SELECT ?term WHERE { GRAPH onto: {
        VALUES ?kind { owl:Class owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty }
        ?term a ?kind . FILTER(isIRI(?term)) } }""")
    own = {r["term"].removeprefix(ns.TDKG) for r in rows if r["term"].startswith(ns.TDKG)}
    borrowed = {r["term"] for r in rows if not r["term"].startswith(ns.TDKG)}
    assert len(own) > 200 and {str(SKOS.Concept), "http://www.w3.org/ns/org#Organization"} <= borrowed
    order = [attrs.get("id") for attrs, _ in ontology_page.find(class_="term")]
    own_places = [i for i, anchor in enumerate(order) if anchor in own]
    assert {order[i] for i in own_places} == own          # every own term has its entry
    listed = {a["href"] for a, _ in ontology_page.find("a") if a.get("href") in borrowed}
    assert listed == borrowed                             # every borrowed one too, linked home
    borrowed_rows = [i for i, (name, attrs, _) in enumerate(
        t for t in ontology_page.tags if "term" in t[1].get("class", "").split()) if name == "tr"]
    assert len(borrowed_rows) == len(borrowed) and max(own_places) < min(borrowed_rows)


def test_the_concept_schemes_are_shown_with_their_concepts(live_server, ontology_page):
    counts = {r["class"].removeprefix(ns.TDKG): int(r["n"]) for r in live_server.select(
        PREFIXES + """SELECT ?class (COUNT(DISTINCT ?concept) AS ?n) WHERE { GRAPH onto: {
            ?class rdfs:subClassOf+ skos:Concept . ?concept a ?class .
            FILTER(STRSTARTS(STR(?class), STR(tdkg:))) } } GROUP BY ?class""")}
    assert {"EpistemicStatus", "ParticipantRole", "Indicator"} <= set(counts)
    shown: dict[str, list[str]] = {}
    current = None
    for name, attrs, _ in ontology_page.tags:
        if name == "section":
            current = attrs["id"].removeprefix("vocabulary-") if "vocabulary" in attrs.get(
                "class", "") else None
            if current:
                shown[current] = []
        elif current and name == "li" and attrs.get("class") == "term":
            shown[current].append(attrs["id"])
    assert {k: len(v) for k, v in shown.items()} == counts
    scheme = live_server.select(PREFIXES + """SELECT ?s (COUNT(?c) AS ?n) WHERE { GRAPH onto: {
        ?s a skos:ConceptScheme ; skos:hasTopConcept ?c } } GROUP BY ?s""")
    assert len(scheme) == 1 and scheme[0]["s"] == ns.TDKG + "EpistemicStatusScheme"
    assert len(ontology_page.find(id="EpistemicStatusScheme")) == 1
    assert len(shown["EpistemicStatus"]) == int(scheme[0]["n"])
    strengths = live_server.select(PREFIXES + """SELECT ?s WHERE { GRAPH onto: {
        ?s tdkg:strength ?n } } ORDER BY DESC(?n)""")
    assert shown["EpistemicStatus"] == [r["s"].removeprefix(ns.TDKG) for r in strengths]


def test_the_page_links_the_other_formats_and_the_downloads(live_server, ontology_page):
    hrefs = [a["href"] for a, _ in ontology_page.find("a")]
    for path, media in (("/ontology.rdf", "application/rdf+xml"), ("/ontology.ttl", "text/turtle"),
                        ("/ontology.nt", "application/n-triples"),
                        ("/ontology.jsonld", "application/ld+json")):
        assert path in hrefs
        response = requests.get(live_server.url + path, timeout=60)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith(media)
    assert "/.well-known/void#downloads" in hrefs
    listing = requests.get(live_server.url + "/downloads/", timeout=30).json()["files"]
    for entry in listing:
        if entry["media_type"] == "application/rdf+xml":       # ontology and data, for OWL tools
            assert entry["href"] in hrefs, entry["name"]


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)])
def test_the_page_reads_well_in_a_browser(live_server, page, offsite_requests, width, height,
                                          request):
    """The top of the page, the concept schemes and the borrowed terms, as a person sees them
    (viewport screenshots in tests/artifacts/screenshots: the whole page is ~50,000 px tall)."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/ontology")
    assert page.locator("h1").count() == 1 and page.locator("header.site nav a").count() == 5
    assert page.locator("h1").is_visible()
    wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wider <= 0, f"the page scrolls sideways by {wider} px at {width} px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for anchor in ("", "#vocabulary-EpistemicStatus", "#partnerOf", "#borrowed"):
        if anchor:
            page.goto(f"{live_server.url}/ontology{anchor}")
            assert page.locator(anchor).is_visible()
        name = anchor.strip("#") or "top"
        page.screenshot(path=str(SCREENSHOTS / f"ontology-{width}x{height}-{name}.png"))
    assert offsite_requests == []
