"""The query page at ``/`` in a real browser: Debian's Chromium driven by Playwright (see
conftest.py). YASGUI over this server's /sparql, the analysts' examples, the "include inferred
facts" switch, result links to resource pages, downloads and share links; nothing may be
fetched from anywhere but 127.0.0.1.

Expectations come from the endpoint itself (``live_server.select``), never hard-coded rows."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import pytest
import requests

from conftest import SCREENSHOTS, _is_local
from tdkg.namespaces import PREFIXES

pytestmark = pytest.mark.slow

#: an example whose rows exist only through the reasoner (tdkg:IndirectPartnership nodes)
EXAMPLE = "indirect-partners-through-pakistan"
BASE = "https://w3id.org/tdkg/"
ROWS = ".tabPanel.active .yasr table.dataTable tbody tr:has(td:not(.dt-empty))"


def local(iri: str) -> str:
    assert iri.startswith(BASE), iri
    return "/" + iri[len(BASE):]


def example(live_server, name: str = EXAMPLE) -> dict:
    listed = requests.get(live_server.url + "/queries.json", timeout=30).json()["examples"]
    return next(ex for ex in listed if ex["name"] == name)


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-query-ready=true]")


def editor_query(page) -> str:
    return page.evaluate("() => tdkgWorkbench.yasgui.getTab().getQuery()")


def run_query(page) -> int:
    """Press the active tab's run button; wait for the answer to be drawn; return its row count."""
    before = int(page.locator("#query-status").get_attribute("data-run"))
    page.locator(".tabPanel.active .yasqe_queryButton").click()
    return wait_for_answer(page, before)


def wait_for_answer(page, before: int) -> int:
    page.wait_for_function(
        """before => { const s = document.querySelector('#query-status');
                       return Number(s.dataset.run) > before && s.dataset.state === 'done'; }""",
        arg=before)
    status = page.locator("#query-status")
    rows = int(status.get_attribute("data-rows"))
    assert page.locator(ROWS).count() == rows, status.inner_text()
    return rows


def column_hrefs(page, column: int) -> list[str]:
    """The link targets in one result column (0 is the row number)."""
    return page.locator(ROWS).evaluate_all(
        """(rows, column) => rows.map(r => r.querySelectorAll('td')[column]
                                             .querySelector('a').getAttribute('href'))""",
        column + 1)


def test_example_with_and_without_inferred_facts(live_server, page, offsite_requests,
                                                 screenshot):
    ex = example(live_server)
    with_inference = live_server.select(ex["query"])
    without = live_server.select(ex["query"], inference="false")
    assert len(with_inference) > len(without), "the example must depend on inferred triples"

    open_page(page, live_server.url + "/")
    assert page.title().startswith("Query")
    shot = screenshot("empty")
    assert shot.stat().st_size > 1000
    page.select_option("#examples", EXAMPLE)
    assert page.locator("#example-description .example-summary").inner_text() == ex["summary"]
    assert page.locator("#example-description .example-text").inner_text() == ex["description"]
    assert editor_query(page) == ex["shortQuery"]
    assert not editor_query(page).lstrip().upper().startswith("PREFIX")
    assert page.locator(".tabPanel.active").count() == 1

    # with the reasoner's conclusions (the default): the rows /sparql gives
    assert page.locator("#inference").is_checked()
    assert run_query(page) == len(with_inference)
    assert sorted(column_hrefs(page, 0)) == sorted(local(r["partner"]) for r in with_inference)
    assert "inference" not in parse_qs(urlsplit(page.url).query)
    assert parse_qs(urlsplit(page.url).query)["query"] == [ex["shortQuery"]]
    screenshot("with-inference")

    # without them: the count drops to what /sparql?inference=false gives
    page.locator("#inference").uncheck()
    assert run_query(page) == len(without)
    assert "without inferred facts" in page.locator("#query-status").inner_text()
    assert parse_qs(urlsplit(page.url).query)["inference"] == ["false"]
    screenshot("without-inference")

    # the downloads follow the query and the switch
    links = page.locator("#downloads a")
    assert links.count() == 3
    expected = {"csv": "text/csv", "tsv": "text/tab-separated-values",
                "json": "application/sparql-results+json"}
    for i in range(3):
        href = links.nth(i).get_attribute("href")
        params = parse_qs(urlsplit(href).query)
        fmt = params["format"][0]
        assert params["query"] == [ex["shortQuery"]] and params["inference"] == ["false"]
        answer = requests.get(live_server.url + href, timeout=30)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].split(";")[0] == expected.pop(fmt)
        if fmt == "csv":
            assert len(answer.text.strip().splitlines()) == 1 + len(without)
    assert expected == {}

    # back on: the inferred rows return; a result IRI links to its page on this server
    page.locator("#inference").check()
    assert run_query(page) == len(with_inference)
    first = with_inference[0]
    link = page.locator(ROWS).first.locator("td").nth(1).locator("a")
    assert link.get_attribute("href") == local(first["partner"])
    assert link.get_attribute("target") is None
    # the raw view: an IRI of someone else's (a datatype) keeps YASR's link, in a new tab
    page.locator(".tabPanel.active .raw-switch input").check()
    datatype = page.locator(ROWS).first.locator("a[href^='http://www.w3.org/2001/XMLSchema#']")
    assert datatype.count() >= 1 and datatype.first.get_attribute("target") == "_blank"
    page.locator(".tabPanel.active .raw-switch input").uncheck()
    link = page.locator(ROWS).first.locator("td").nth(1).locator("a")
    with page.expect_navigation():
        link.click()
    assert page.url == f"{live_server.url}/page{local(first['partner'])}"
    assert page.locator("h1").inner_text() == first["partnerLabel"]
    screenshot("resource")

    # and back: YASGUI kept the tab and its answer
    page.go_back()
    page.wait_for_selector("html[data-query-ready=true]")
    assert editor_query(page) == ex["shortQuery"]
    assert offsite_requests == []


def test_share_link_opens_the_same_query_and_runs_it(live_server, browser, page,
                                                      offsite_requests, screenshot):
    ex = example(live_server)
    without = live_server.select(ex["query"], inference="false")
    open_page(page, live_server.url + "/")
    page.select_option("#examples", EXAMPLE)
    page.locator("#inference").uncheck()
    share = page.locator("#share-link").get_attribute("href")
    assert parse_qs(urlsplit(share).query) == {"query": [ex["shortQuery"]],
                                               "inference": ["false"]}

    # "Copy link" hands the full address to the clipboard (recorded here: the system clipboard
    # of a headless browser depends on window focus)
    page.evaluate("""() => { window.copiedTexts = [];
        navigator.clipboard.writeText = text => {
            copiedTexts.push(text); return Promise.resolve(); }; }""")
    page.locator("#copy-link").click()
    page.wait_for_function("() => document.querySelector('#copy-link').textContent === 'Copied'")
    assert page.evaluate("() => copiedTexts") == [live_server.url + share]

    # a fresh browser (nothing stored), guarded like the page fixture
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  service_workers="block")
    context.set_default_timeout(15_000)

    def guard(route) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            offsite_requests.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    try:
        fresh = context.new_page()
        fresh.goto(live_server.url + share)
        rows = wait_for_answer(fresh, 0)
        assert rows == len(without)
        assert editor_query(fresh) == ex["shortQuery"]
        assert not fresh.locator("#inference").is_checked()
        # a fresh page shows the shared query in its one tab, named and described as the example
        assert fresh.locator(".yasgui .tabsList .tab").count() == 1
        assert fresh.locator("#examples").input_value() == EXAMPLE
        assert fresh.locator("#example-description .example-summary").inner_text() == \
            ex["summary"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        fresh.screenshot(path=str(SCREENSHOTS / "test_share_link-opened.png"), full_page=True)

        # the same link with inference on gives the inferred rows
        fresh.goto(live_server.url + "/?" + urlencode({"query": ex["query"]}))
        assert wait_for_answer(fresh, 0) == len(live_server.select(ex["query"]))
        assert fresh.locator("#inference").is_checked()
    finally:
        context.close()
    assert offsite_requests == []


def test_editor_completes_from_this_server_only(live_server, page, offsite_requests):
    """Prefixes come from the project's list, classes and properties from this /sparql."""
    open_page(page, live_server.url + "/")
    hints = page.locator(".CodeMirror-hints li")

    def complete(text: str) -> list[str]:
        page.evaluate("() => { const y = tdkgWorkbench.yasgui.getTab().getYasqe();"
                      " y.setValue(''); y.focus(); }")
        page.keyboard.type(text)
        page.keyboard.press("Control+Space")
        hints.first.wait_for()
        found = hints.all_inner_texts()
        page.keyboard.press("Escape")
        return found

    assert "tdkg: <https://w3id.org/tdkg/ontology#>" in complete("PREFIX td")
    assert "tdkg:State" in complete("PREFIX tdkg: <https://w3id.org/tdkg/ontology#>\n"
                                    "SELECT * WHERE { ?x a tdkg:Sta")
    # the predeclared prefixes complete without PREFIX lines, and are no syntax error
    assert "tdkg:State" in complete("SELECT * WHERE { ?x a tdkg:Sta")
    assert "rdfs:label" in complete("SELECT * WHERE { ?x rdfs:lab")
    assert editor_query(page) == "SELECT * WHERE { ?x rdfs:lab"
    assert page.locator(".tabPanel.active .CodeMirror .parseErrorIcon").count() == 0
    assert offsite_requests == []


def test_add_prefix_lines_makes_the_query_portable(live_server, page, offsite_requests):
    """"Add PREFIX lines" writes out the predeclared prefixes the query uses (and only those),
    after its leading comments; the answer stays the same."""
    ex = example(live_server, "states-in-the-most-facts")
    open_page(page, live_server.url + "/")
    page.select_option("#examples", ex["name"])
    short = editor_query(page)
    page.locator("#add-prefixes").click()
    full = editor_query(page)
    declared = [line for line in full.splitlines() if line.startswith("PREFIX ")]
    used = {p for p in PREFIXES if f"{p}:" in short}
    assert {line.split()[1].rstrip(":") for line in declared} == used
    for line in declared:
        prefix = line.split()[1].rstrip(":")
        assert line == f"PREFIX {prefix}: <{PREFIXES[prefix]}>"
    assert full.endswith(short)
    assert "Added" in page.locator("#query-status").inner_text()
    # a second click adds nothing
    page.locator("#add-prefixes").click()
    assert editor_query(page) == full
    # the portable query gives the same answer (here and so in any SPARQL client)
    assert live_server.select(full) == live_server.select(short)
    assert offsite_requests == []


def test_default_query_and_every_example_load(live_server, page, offsite_requests):
    open_page(page, live_server.url + "/")
    query = editor_query(page)
    assert not re.search(r"^\s*PREFIX\s", query, re.M | re.I)
    assert query.lstrip().startswith("#")
    assert run_query(page) == len(live_server.select(query)) > 0

    listed = requests.get(live_server.url + "/queries.json", timeout=30).json()["examples"]
    options = page.locator("#examples option").evaluate_all(
        "os => os.map(o => o.value).filter(v => v)")
    assert options == [ex["name"] for ex in listed]
    for ex in listed:
        page.select_option("#examples", ex["name"])
        assert editor_query(page) == ex["shortQuery"]
        assert page.locator("#example-description .example-summary").inner_text() == \
            ex["summary"]
    assert offsite_requests == []



def test_a_long_query_goes_by_post_and_its_link_by_fragment(live_server, browser, page,
                                                          offsite_requests):
    """queries/register.rq is too long for a GET request line once encoded: the page POSTs it,
    and its share link carries it after '#', which never reaches the server."""
    ex = example(live_server, "register")
    expected = live_server.select(ex["query"])
    methods = []
    # the query's own requests (not the page's one request for labels, which asks for ?rank)
    page.on("request", lambda r: methods.append(r.method)
            if "/sparql" in r.url and "?rank" not in unquote_plus(r.post_data or r.url) else None)
    open_page(page, live_server.url + "/")
    page.select_option("#examples", "register")
    assert run_query(page) == len(expected) > 0
    assert methods and methods[-1] == "POST"
    share = page.locator("#share-link").get_attribute("href")
    assert share.startswith("/#query=") and page.url == live_server.url + share
    assert page.locator("#downloads a").first.get_attribute("data-post") == "true"

    fresh = page.context.new_page()     # same storage: the tab is found again, not duplicated
    fresh.goto(live_server.url + share)
    assert wait_for_answer(fresh, 0) == len(expected)
    assert editor_query(fresh) == ex["shortQuery"]
    assert fresh.locator(".yasgui .tabsList .tab").count() == 1
    assert offsite_requests == []


def cell_texts(page, column: int) -> list[str]:
    """The text shown in one result column (0 is the first variable)."""
    return page.locator(ROWS).evaluate_all(
        "(rows, column) => rows.map(r => r.querySelectorAll('td')[column].innerText.trim())",
        column + 1)


def english_labels(live_server, iris) -> dict[str, str]:
    values = " ".join(f"<{iri}>" for iri in set(iris))
    rows = live_server.select(f"""SELECT ?s ?label WHERE {{ VALUES ?s {{ {values} }}
        ?s rdfs:label ?label FILTER (lang(?label) = "en" || lang(?label) = "") }}""")
    return {r["s"]: r["label"] for r in rows}


def text_align(page, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all(
        "cells => cells.map(c => getComputedStyle(c).textAlign)")


def test_results_read_as_labels_and_plain_values_with_raw_rdf_one_click_away(
        live_server, page, offsite_requests, screenshot):
    """indirect-partners-through-pakistan answers with a graph IRI (?partner), an English
    label, another graph IRI (?status) and an integer (?links)."""
    ex = example(live_server)
    rows = live_server.select(ex["query"])
    names = english_labels(live_server, [r["status"] for r in rows])
    open_page(page, live_server.url + "/")
    page.select_option("#examples", EXAMPLE)
    assert run_query(page) == len(rows)
    switch = page.locator(".tabPanel.active .raw-switch input")
    assert not switch.is_checked()
    order = [r["partner"] for r in rows]
    shown = [local(iri) for iri in order]
    assert column_hrefs(page, 0) == shown       # rows in the answer's order (no sorting)

    # by default: labels and plain values, no RDF syntax
    assert cell_texts(page, 0) == [r["partnerLabel"] for r in rows]
    assert cell_texts(page, 1) == [r["partnerLabel"] for r in rows]
    assert cell_texts(page, 2) == [names[r["status"]] for r in rows]
    assert cell_texts(page, 3) == [r["links"] for r in rows]
    texts = page.locator(ROWS).all_inner_texts()
    assert not [t for t in texts if '"' in t or "@en" in t or "^^" in t or "tdi:" in t]
    # numbers right-aligned (cells and heading), text left
    assert set(text_align(page, f"{ROWS} td:nth-child(5)")) == {"right"}
    assert text_align(page, ".tabPanel.active .yasr thead th:nth-child(5)") == ["right"]
    assert set(text_align(page, f"{ROWS} td:nth-child(3)")) <= {"left", "start"}
    screenshot("readable")

    # one click: the raw RDF terms
    switch.check()
    first_cell = "document.querySelector('.tabPanel.active .yasr tbody td:nth-child(2)')"
    page.wait_for_function(f"() => {first_cell}.innerText.includes('tdi:')")
    assert cell_texts(page, 0) == ["tdi:" + iri.rsplit("/", 1)[1] for iri in order]
    assert cell_texts(page, 1) == [f'"{r["partnerLabel"]}"@en' for r in rows]
    assert cell_texts(page, 3) == [f'"{r["links"]}"^^xsd:integer' for r in rows]
    assert column_hrefs(page, 0) == shown
    assert set(text_align(page, f"{ROWS} td:nth-child(5)")) == {"right"}
    screenshot("raw")
    # and back
    switch.uncheck()
    page.wait_for_function(f"() => !{first_cell}.innerText.includes('tdi:')")
    assert cell_texts(page, 1) == [r["partnerLabel"] for r in rows]
    assert offsite_requests == []


def test_graph_iris_show_their_labels_fetched_in_one_request(live_server, page,
                                                             offsite_requests, screenshot):
    """states-in-the-most-facts answers with bare IRIs and counts: the page asks /sparql once
    for their labels and shows them, linked to the states' pages, at both window sizes."""
    ex = example(live_server, "states-in-the-most-facts")
    rows = live_server.select(ex["query"])
    names = english_labels(live_server, [r["state"] for r in rows])
    label_requests = []
    page.on("request", lambda r: label_requests.append(r.url) if "/sparql" in r.url and
            "?rank" in unquote_plus(r.post_data or r.url) else None)
    page.set_viewport_size({"width": 1400, "height": 900})
    open_page(page, live_server.url + "/")
    page.select_option("#examples", ex["name"])
    page.locator(".tabPanel.active .yasr .select_table").click()
    assert run_query(page) == len(rows)
    assert len(label_requests) == 1
    assert cell_texts(page, 0) == [names[r["state"]] for r in rows]
    assert column_hrefs(page, 0) == [local(r["state"]) for r in rows]
    assert cell_texts(page, 1) == [r["facts"] for r in rows]
    assert set(text_align(page, f"{ROWS} td:nth-child(3)")) == {"right"}
    screenshot("table-1400x900")
    # the same IRIs again: the labels are known, no new request
    run_query(page)
    assert len(label_requests) == 1
    # on a phone, as a phone opens the page
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("html[data-query-ready=true]")
    # the address is a share link to a chart example, which opens on its chart: ask for the table
    page.locator(".tabPanel.active .yasr .select_table").click()
    assert run_query(page) == len(rows)
    assert cell_texts(page, 0) == [names[r["state"]] for r in rows]
    screenshot("table-390x844")
    assert offsite_requests == []


def test_markup_and_script_iris_in_answers_stay_text(hostile_server, page, offsite_requests):
    """A label holding markup is shown as text (it comes through the label request, the
    answer has no label column); javascript: and data: IRIs are no links in either view."""
    query = ("SELECT ?firm ?seeAlso WHERE { VALUES ?firm { tdi:hostile-firm } "
             "?firm rdfs:seeAlso ?seeAlso } ORDER BY ?seeAlso")
    rows = hostile_server.select(query)
    label = hostile_server.select("SELECT ?l WHERE { tdi:hostile-firm rdfs:label ?l }")[0]["l"]
    assert "<script>" in label
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, hostile_server.url + "/")
    page.evaluate("q => { tdkgWorkbench.yasgui.getTab().setQuery(q); }", query)
    assert run_query(page) == len(rows) == 3
    assert cell_texts(page, 0) == [label] * 3
    table = page.locator(".tabPanel.active .yasr table.dataTable")
    assert table.locator("script, b").count() == 0
    for raw in (False, True):
        page.locator(".tabPanel.active .raw-switch input").set_checked(raw)
        page.wait_for_function(
            "raw => document.querySelector('.tabPanel.active .yasr tbody td:nth-child(2)')"
            ".innerText.includes('tdi:') === raw", arg=raw)
        hrefs = table.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
        assert hrefs and not [h for h in hrefs if not h.startswith(("http://", "https://"))]
        assert table.locator("a[href='https://example.org/ok']").count() == 1
        assert "javascript:alert(1)" in table.inner_text()        # shown, as text
    assert dialogs == [] and offsite_requests == []
