"""A person following links through the resource pages, in a real headless Chromium (Debian's
chromium driven by Playwright; see conftest.py): a state, one of its agreements, its source."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_from_a_state_to_an_agreement_to_its_source(any_kind, page, offsite_requests,
                                                    screenshot):
    """On each store kind (the embedded store, the Oxigraph server, Virtuoso)."""
    live_server = any_kind[1]
    # the IRI path itself: the browser asks for HTML and follows the 303 to the page
    page.goto(f"{live_server.url}/id/turkiye")
    assert page.url == f"{live_server.url}/page/id/turkiye"
    assert page.locator("h1").inner_text() == "Türkiye"
    assert "Turkey" in page.locator(".altnames").inner_text()
    assert page.locator("a.wikidata-link").get_attribute("href") == \
        "http://www.wikidata.org/entity/Q43"
    inferred = page.locator("section.inferred-facts li.inferred-row")
    assert inferred.count() > 0 and inferred.first.locator("a.why").count() == 1
    screenshot("state")

    # on to an agreement Türkiye is party to
    # its facts are in closed groups: open the one that holds the deal (and its "show all")
    deal = page.locator("section.facts a.fact", has_text="Akıncı drone deal")
    assert deal.count() == 1
    inside = page.locator("a.fact", has_text="Akıncı drone deal")
    page.locator("section.facts details.group", has=inside).locator("> summary").click()
    more = page.locator("section.facts details.more", has=inside)
    if more.count():
        more.locator("> summary").click()
    with page.expect_navigation():
        deal.click()
    assert page.url.endswith("/page/id/saudi-akinci-deal-2023")
    assert "arms deal" in page.locator(".types").first.inner_text()
    source = page.locator("section.own-source")
    assert source.locator(".status").inner_text() == "reported"
    screenshot("agreement")

    # on to the footnote it rests on, which gives the cited URL, and to the document
    with page.expect_navigation():
        source.locator("a", has_text="footnote 11").click()
    assert page.url.endswith("/page/source/doc-000-fn-11")
    cited = page.locator("a[href^='http']", has_text="mathrubhumi")
    assert cited.count() >= 1, page.content()[:2000]
    page.go_back()
    with page.expect_navigation():
        page.locator("section.own-source a", has_text="Doc 000").click()
    assert page.url.endswith("/page/source/doc-000")
    assert page.locator("h1").inner_text().startswith("Doc 000")
    screenshot("source")
    assert offsite_requests == []
