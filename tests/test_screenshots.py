"""Every HTML page of the site, looked at (issue 16, item 5): a screenshot of each at 1400×900 (a
desktop window) and 390×844 (a phone) in Debian's Chromium, saved as
``tests/artifacts/screenshots/site-<width>x<height>-<page>.png`` for a person to open. Each page
must answer with its status, draw without a script error and without asking anything of another
host; the resource pages must also fit the phone's width (no sideways scrolling)."""
from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

SIZES = [(1400, 900), (390, 844)]
#: a page longer than this many screens is saved down to there
MAX_SCREENS = 8
BASE = "https://w3id.org/tdkg/"
EXTREMES = """SELECT ?x (COUNT(*) AS ?n) WHERE {
  { GRAPH ?g { ?x ?p ?o } } UNION { GRAPH ?g { ?s ?p ?x } }
  FILTER(isIRI(?x) && STRSTARTS(STR(?x), "https://w3id.org/tdkg/id/")) }
GROUP BY ?x ORDER BY %s(?n) ?x LIMIT 1"""
#: what "drawn" means on each kind of page (a script's own flag), beyond the load event
READY = {
    "query": "document.documentElement.dataset.queryReady === 'true'",
    "resource": "window.tdkgResource && (window.tdkgResource.ready || window.tdkgResource.error)",
    "network": "window.tdkgNetwork && (window.tdkgNetwork.ready || window.tdkgNetwork.error)",
    "timeline": "window.tdkgTimeline && (window.tdkgTimeline.ready || window.tdkgTimeline.error)",
}


def local(iri: str) -> str:
    return "/" + iri[len(BASE):]


@pytest.fixture(scope="module")
def site(live_server) -> list[tuple[str, str, int, str | None]]:
    """(name, path, expected status, readiness key) of every kind of HTML page, with the
    resources picked by SPARQL: the largest and smallest, a fact node and a source document."""
    largest = live_server.select(EXTREMES % "DESC")[0]["x"]
    smallest = live_server.select(EXTREMES % "ASC")[0]["x"]
    fact = live_server.select("""SELECT ?f WHERE { GRAPH <https://w3id.org/tdkg/graph/asserted> {
        ?f tdkg:status ?s ; tdkg:citation ?n } } ORDER BY ?f LIMIT 1""")[0]["f"]
    document = live_server.select("""SELECT ?d (COUNT(?f) AS ?n) WHERE {
        GRAPH <https://w3id.org/tdkg/graph/asserted> { ?f tdkg:statedIn ?d } }
        GROUP BY ?d ORDER BY DESC(?n) ?d LIMIT 1""")[0]["d"]
    inferred = live_server.select(f"""SELECT ?p ?o WHERE {{
        GRAPH <https://w3id.org/tdkg/graph/inferred> {{
        <{largest}> ?p ?o FILTER(isIRI(?o) && ?p != rdf:type) }} }} ORDER BY ?p ?o LIMIT 1""")[0]
    why = "/why?s=" + quote(f"<{largest}>") + "&p=" + quote(f"<{inferred['p']}>") + \
        "&o=" + quote(f"<{inferred['o']}>")
    pages = [
        ("query", "/", 200, "query"),
        ("resource-largest", "/page" + local(largest), 200, "resource"),
        ("resource-smallest", "/page" + local(smallest), 200, "resource"),
        ("resource-fact", "/page" + local(fact), 200, "resource"),
        ("resource-document", "/page" + local(document), 200, "resource"),
        ("network", "/network", 200, "network"),
        ("timeline", "/timeline", 200, "timeline"),
        ("search", "/search?q=turk", 200, None),
        ("ontology", "/ontology", 200, None),
        ("void", "/.well-known/void", 200, None),
        ("graph", "/graph/asserted", 200, None),
        ("builds", "/builds", 200, None),
        ("why", why, 200, None),
        ("error-404", "/page/id/no-such-thing", 404, None),
    ]
    return pages


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_is_drawn_and_saved(browser, live_server, site, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB",
                                  service_workers="block")
    context.set_default_timeout(30_000)
    offsite: list[str] = []

    def guard(route) -> None:
        if re.match(r"(?:data|blob|about):|http://127\.0\.0\.1[:/]", route.request.url):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    errors: list[str] = []
    saved = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(f"{page.url}: {err}"))
        for name, path, status, ready in site:
            started = time.monotonic()
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == status, (name, path)
            if ready:
                page.wait_for_function(READY[ready], timeout=30_000)
            if name.startswith("resource"):
                assert page.evaluate("window.tdkgResource.error") is None, name
            if name.startswith("resource") or name in ("network", "timeline"):
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, f"{name} is {wide} px wide in a {width} px window"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            target = SCREENSHOTS / f"site-{width}x{height}-{name}.png"
            tall = page.evaluate("document.documentElement.scrollHeight")
            # the whole page, or its first screens when it is very long (the ontology's
            # documentation): a full shot of that takes many seconds and shows nothing more
            clip = None if tall <= MAX_SCREENS * height else \
                {"x": 0, "y": 0, "width": width, "height": MAX_SCREENS * height}
            page.screenshot(path=str(target), full_page=True, clip=clip)
            assert target.stat().st_size > 5_000, target
            saved.append(target.name)
            print(f"{name}: {time.monotonic() - started:.1f} s")     # shown with -s
    finally:
        context.close()
    assert errors == []
    assert offsite == []
    assert len(saved) == len(site)
