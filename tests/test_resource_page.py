"""Resource pages that summarise (issue 16, item 1), in a real headless Chromium (Debian's chromium
driven by Playwright; see conftest.py) against the real server: the largest resource's page is a
few screens tall with its groups closed, every group opens, and every fact node, status, document,
footnote, cited site and "why?" link of the resource is still on the page, counted against SPARQL
answers of the same server. The smallest resource gets the same checks; the groups also open
without JavaScript."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.slow

BASE = "https://w3id.org/tdkg/"
ASSERTED = "https://w3id.org/tdkg/graph/asserted"
INFERRED = "https://w3id.org/tdkg/graph/inferred"
WIDTH, HEIGHT = 1400, 900
#: the page with its groups closed stays within this many screens of the 1400×900 window
SCREENS = 4
#: properties a page shows in its header, not as statements (server/resource.py)
HEADER = ("rdf:type", "rdfs:label", "skos:altLabel", "skos:exactMatch", "rdfs:comment",
          "skos:definition")

# the resources under /id/ with the most and the fewest triples about them (as subject or object)
# in the named graphs, ties broken by IRI
EXTREMES = """SELECT ?x (COUNT(*) AS ?n) WHERE {
  { GRAPH ?g { ?x ?p ?o } } UNION { GRAPH ?g { ?s ?p ?x } }
  FILTER(isIRI(?x) && STRSTARTS(STR(?x), "https://w3id.org/tdkg/id/")) }
GROUP BY ?x ORDER BY %s(?n) ?x LIMIT 1"""


@pytest.fixture(scope="module")
def extremes(live_server) -> dict[str, str]:
    largest = live_server.select(EXTREMES % "DESC")[0]["x"]
    smallest = live_server.select(EXTREMES % "ASC")[0]["x"]
    assert largest != smallest
    return {"largest": largest, "smallest": smallest}


@pytest.fixture()
def wide_page(page):
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return page


def local(iri: str) -> str:
    assert iri.startswith(BASE), iri
    return "/" + iri[len(BASE):]


def open_resource(page, server, iri: str) -> None:
    page.goto(server.url + "/page" + local(iri))
    page.wait_for_function("window.tdkgResource && (window.tdkgResource.ready "
                           "|| window.tdkgResource.error)", timeout=30_000)
    assert page.evaluate("window.tdkgResource.error") is None


def expected(server, iri: str) -> dict:
    """What the page must show, from SPARQL: fact nodes with their status and documents, the
    footnotes and cited URLs they rest on, and the inferred triples that get a "why?" link."""
    facts = server.select(f"""SELECT ?f ?status ?doc WHERE {{ GRAPH <{ASSERTED}> {{
        ?f ?role <{iri}> ; tdkg:status ?status . OPTIONAL {{ ?f tdkg:statedIn ?doc }} }} }}""")
    notes = server.select(f"""SELECT DISTINCT ?note ?url WHERE {{ GRAPH <{ASSERTED}> {{
        ?f ?role <{iri}> ; tdkg:status ?status ; tdkg:citation ?note .
        OPTIONAL {{ ?note tdkg:citesWork ?w . ?w schema:url ?url }} }} }}""")
    header = ", ".join(HEADER)
    why = server.select(f"""SELECT ?s ?p ?o WHERE {{
        {{ GRAPH <{INFERRED}> {{ <{iri}> ?p ?o }} BIND(<{iri}> AS ?s)
           FILTER(?p NOT IN ({header})) }}
        UNION
        {{ GRAPH <{INFERRED}> {{ ?s ?p <{iri}> }} BIND(<{iri}> AS ?o) FILTER(?s != <{iri}>)
           FILTER NOT EXISTS {{ GRAPH <{ASSERTED}> {{ ?s tdkg:status ?any }} }} }} }}""")
    status: dict[str, set[str]] = {}
    docs: dict[str, set[str]] = {}
    for row in facts:
        status.setdefault(row["f"], set()).add(row["status"].rsplit("#", 1)[1])
        if "doc" in row:
            docs.setdefault(row["f"], set()).add(row["doc"])
    return {"status": status, "docs": docs,
            "notes": {r["note"] for r in notes}, "urls": {r["url"] for r in notes if "url" in r},
            "why": {(r["s"], r["p"], r["o"]) for r in why}}


def open_every_group(page) -> int:
    """Open every group and every "show all" by clicking its summary (the first and the last group
    through Playwright, as a reader would; the others by the summary's click(), which toggles a
    <details> the same way and is quicker); each must open and show rows. Returns the number of
    groups."""
    groups = page.locator("details.group")
    for group in (groups.first, groups.last):
        if not group.evaluate("d => d.open"):
            group.locator("> summary").click()
        assert group.evaluate("d => d.open")
    page.evaluate("""() => {
        for (const d of document.querySelectorAll('details.group, details.more'))
            if (!d.open) d.querySelector(':scope > summary').click(); }""")
    closed = page.evaluate("""() => [...document.querySelectorAll('details.group, details.more')]
        .filter((d) => !d.open || !d.querySelector('li, tr') ||
                       d.querySelector('li, tr').offsetParent === null).map((d) => d.id)""")
    assert closed == [], f"groups that did not open or show no row: {closed}"
    return groups.count()


def shown(page) -> dict:
    """What the opened page shows: visible fact rows with their status and links."""
    rows = page.evaluate("""() => [...document.querySelectorAll('li.fact-row')]
        .filter((li) => li.offsetParent !== null)
        .map((li) => ({ fact: li.dataset.fact,
            href: li.querySelector('a.fact').getAttribute('href'),
            status: [...li.querySelectorAll('.fact-head .status')].map((s) =>
                [...s.classList].find((c) => c.startsWith('status-')).slice(7)),
            links: [...li.querySelectorAll('.fact-source a')]
                .map((a) => a.getAttribute('href')) }))""")
    why = page.evaluate("""() => [...document.querySelectorAll('a.why')]
        .filter((a) => a.offsetParent !== null).map((a) => a.getAttribute('href'))""")
    return {"rows": rows, "why": why}


def check_everything_reachable(page, server, iri: str) -> dict:
    want = expected(server, iri)
    got = shown(page)
    facts = [row["fact"] for row in got["rows"]]
    assert len(facts) == len(set(facts)), "a fact node is listed twice"
    assert set(facts) == set(want["status"]), "fact nodes differ from the SPARQL answer"
    links = set()
    for row in got["rows"]:
        assert row["href"] == local(row["fact"])
        assert set(row["status"]) == want["status"][row["fact"]], row
        assert {local(d) for d in want["docs"].get(row["fact"], ())} <= set(row["links"]), row
        links.update(row["links"])
    assert {local(n) for n in want["notes"]} <= links, "a footnote is missing"
    assert want["urls"] <= links, "a cited site is missing"
    whys = {(q["s"][0][1:-1], q["p"][0][1:-1], q["o"][0][1:-1])
            for q in (parse_qs(urlsplit(h).query) for h in got["why"])}
    assert len(got["why"]) == len(whys)
    assert whys == want["why"], "the inferred triples with a why? link differ from SPARQL's"
    return {"facts": len(facts), "why": len(whys)}


def test_the_largest_page_is_a_few_screens_and_keeps_every_fact(wide_page, live_server, extremes,
                                                                 screenshot, offsite_requests):
    page = wide_page
    iri = extremes["largest"]
    open_resource(page, live_server, iri)
    groups = page.locator("section.facts details.group")
    assert groups.count() >= 5
    assert not any(groups.nth(i).evaluate("d => d.open") for i in range(groups.count())), \
        "a large resource's groups start closed"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= SCREENS * HEIGHT, f"{height} px tall with its groups closed"
    # the header card counts the facts, by status and by kind, as SPARQL does
    want = expected(live_server, iri)
    card = page.locator("header.card")
    assert card.locator(".totals strong").first.inner_text() == str(len(want["status"]))
    by_status = sum(int(c) for c in card.locator(".by-status .count").all_inner_texts())
    assert by_status == sum(len(s) for s in want["status"].values())
    by_kind = sum(int(c) for c in card.locator(".by-kind .count").all_inner_texts())
    assert by_kind == len(want["status"])
    group_counts = [int(c) for c in page.locator("section.facts details.group > summary .count")
                    .all_inner_texts()]
    assert sum(group_counts) == len(want["status"])
    # role names are readable: no prefixed names (org:member) anywhere in the text
    text = page.locator("article.resource").inner_text()
    assert "org:" not in text and "tdkg:" not in text
    screenshot("closed")

    opened = open_every_group(page)
    assert opened >= groups.count()
    figures = check_everything_reachable(page, live_server, iri)
    assert figures["facts"] == len(want["status"]) and figures["why"] > 0
    assert page.evaluate("document.documentElement.scrollHeight") > height
    assert offsite_requests == []


def test_the_ties_network_draws_the_closest_ties_and_lists_them_all(wide_page, live_server,
                                                                    extremes):
    page = wide_page
    open_resource(page, live_server, extremes["largest"])
    assert page.locator("#ties-network canvas").count() == 1
    drawn = set(page.evaluate("tdkgResource.nodes.getIds()"))
    listed = page.evaluate("""() => [...document.querySelectorAll('#ties-list tr[data-id]')]
        .map((tr) => tr.dataset.id)""")
    assert extremes["largest"] in drawn
    assert drawn - {extremes["largest"]} <= set(listed)
    assert len(drawn) - 1 == min(len(listed), 24)
    # every tie is one of the resource's fact partners or an end of an inferred relation
    partners = {r["x"] for r in live_server.select(f"""SELECT DISTINCT ?x WHERE {{
        {{ GRAPH <{ASSERTED}> {{ ?f ?r <{extremes['largest']}> ; tdkg:status ?s ; ?q ?x }} }}
        UNION {{ GRAPH <{INFERRED}> {{ <{extremes['largest']}> ?p ?x }} }}
        UNION {{ GRAPH <{INFERRED}> {{ ?x ?p <{extremes['largest']}> }} }}
        UNION {{ GRAPH <{ASSERTED}> {{ <{extremes['largest']}> ?p ?x }} }}
        UNION {{ GRAPH <{ASSERTED}> {{ ?x ?p <{extremes['largest']}> }} }} }}""")}
    assert set(listed) <= partners
    # the list is there without the drawing: a closed <details> that opens
    page.locator("#ties-list > summary").click()
    assert page.locator("#ties-list tr[data-id]").first.is_visible()


def test_a_role_link_in_the_card_opens_its_group(wide_page, live_server, extremes):
    page = wide_page
    open_resource(page, live_server, extremes["largest"])
    link = page.locator(".by-group a").nth(1)
    target = link.get_attribute("href")[1:]
    assert not page.evaluate("(id) => document.getElementById(id).open", target)
    link.click()
    page.wait_for_function("(id) => document.getElementById(id).open", arg=target)


OPEN_STATES = "[...document.querySelectorAll('section.facts details')].map(d => d.open)"


def test_open_all_and_close_all(wide_page, live_server, extremes):
    page = wide_page
    open_resource(page, live_server, extremes["largest"])
    page.locator("button.open-all").click()
    states = page.evaluate(OPEN_STATES)
    assert states and all(states)
    page.locator("button.close-all").click()
    states = page.evaluate(OPEN_STATES)
    assert not any(states)


def test_the_smallest_page(wide_page, live_server, extremes, screenshot):
    page = wide_page
    iri = extremes["smallest"]
    open_resource(page, live_server, iri)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * HEIGHT, f"{height} px for the smallest resource"
    screenshot("smallest")
    open_every_group(page)
    check_everything_reachable(page, live_server, iri)
    # every triple about it has its other end on the page
    triples = live_server.select(f"""SELECT ?x WHERE {{
        {{ GRAPH ?g {{ <{iri}> ?p ?x }} }} UNION {{ GRAPH ?g {{ ?x ?p <{iri}> }} }}
        FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{BASE}")) }}""")
    hrefs = set(page.evaluate(
        "[...document.querySelectorAll('article a')].map(a => a.getAttribute('href'))"))
    for row in triples:
        if "/ontology#" in row["x"]:
            assert "/ontology" + row["x"].split("/ontology", 1)[1] in hrefs, row
        else:
            assert local(row["x"]) in hrefs, row


def test_groups_open_without_javascript(browser, live_server, extremes):
    """With scripts off the page still holds everything: groups are <details> and open on click."""
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": WIDTH, "height": HEIGHT})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/page" + local(extremes["largest"]))
        assert page.locator("#ties-network").is_hidden()          # no drawing, but the list
        page.locator("#ties-list > summary").click()
        assert page.locator("#ties-list tr[data-id]").first.is_visible()
        open_every_group(page)
        check_everything_reachable(page, live_server, extremes["largest"])
    finally:
        context.close()
