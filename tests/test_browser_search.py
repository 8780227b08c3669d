"""The search page in a real browser: Debian's Chromium driven by Playwright (see conftest.py)."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_search_page_in_chromium(live_server, page, offsite_requests, screenshot):
    page.goto(f"{live_server.url}/search?q=turkiye")
    assert page.title().startswith("Search: turkiye")

    first = page.locator("li.search-result a").first
    assert first.inner_text() == "Türkiye"
    assert first.get_attribute("href") == "/id/turkiye"
    assert page.locator("li.search-result").count() == 20
    assert page.locator("header input[name=q]").input_value() == "turkiye"
    shot = screenshot("turkiye")
    assert shot.stat().st_size > 1000

    # a new search from the header form
    box = page.locator("header form.search input[name=q]")
    box.fill("akıncı")
    with page.expect_navigation():
        box.press("Enter")
    assert re.search(r"/search\?q=ak%C4%B1nc%C4%B1$", page.url), page.url
    links = page.locator("li.search-result a")
    assert links.first.inner_text() == "Akıncı"
    assert links.first.get_attribute("href") == "/id/akinci"
    assert "Saudi Arabia – Türkiye Akıncı drone deal (2023)" in links.all_inner_texts()
    assert page.locator("header input[name=q]").input_value() == "akıncı"
    screenshot("akinci")

    # the same with the button, and a query that finds nothing
    box.fill("zzqx nothing")
    with page.expect_navigation():
        page.locator("header form.search button[type=submit]").click()
    assert page.locator("li.search-result").count() == 0
    assert "No names match" in page.locator("#search-summary").inner_text()

    # following a result goes to the resource's page on this server
    page.goto(f"{live_server.url}/search?q=erdogan")
    href = page.locator("li.search-result a").first.get_attribute("href")
    assert href == "/id/recep-tayyip-erdogan"
    assert page.evaluate("h => new URL(h, location.href).href", href) == \
        f"{live_server.url}/id/recep-tayyip-erdogan"

    assert offsite_requests == []


def test_the_offsite_guard_records_and_blocks(live_server, page, offsite_requests):
    """The page fixture aborts requests that would leave 127.0.0.1 and records them."""
    page.goto(f"{live_server.url}/search?q=nato")
    status = page.evaluate("""() => fetch("http://example.invalid/x").then(r => r.status,
                                                                       e => "blocked")""")
    assert status == "blocked"
    assert offsite_requests == ["http://example.invalid/x"]
    offsite_requests.clear()
