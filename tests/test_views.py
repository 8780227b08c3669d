"""The visual views over plain HTTP: /network and /timeline are HTML pages that load their drawing
libraries from this server's /vendor and carry the analysts' query files they run (the drawing
itself is tested in Chromium by test_browser_views.py)."""
from __future__ import annotations

import html
import json
import re

import pytest
import requests

from support import PROJECT

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
VIEWS = {
    "/network": {"scripts": ["/vendor/vis-network/vis-network.min.js", "/static/views.js",
                             "/static/network.js"],
                 "styles": ["/static/explore.css"],
                 "queries": ["network-nodes", "network-edges"]},
    "/timeline": {"scripts": ["/vendor/vis-timeline/vis-timeline-graph2d.min.js", "/static/views.js",
                              "/static/timeline.js"],
                  "styles": ["/vendor/vis-timeline/vis-timeline-graph2d.min.css", "/static/explore.css"],
                  "queries": ["timeline"]},
}


def get(server, path: str, accept: str = BROWSER) -> requests.Response:
    return requests.get(server.url + path, headers={"Accept": accept}, timeout=30)


@pytest.mark.parametrize("path", sorted(VIEWS))
def test_a_view_is_an_html_page_loading_local_files_only(live_server, path):
    response = get(live_server, path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    text = response.text
    scripts = re.findall(r'<script src="([^"]+)"', text)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text)
    assert scripts == VIEWS[path]["scripts"]
    assert set(VIEWS[path]["styles"]) <= set(styles)
    for url in scripts + styles:
        assert url.startswith("/"), f"{url} is not served by this server"
        answer = get(live_server, url, "*/*")
        assert answer.status_code == 200, url
        expected = "css" if url.endswith(".css") else "javascript"
        assert expected in answer.headers["Content-Type"], (url, answer.headers["Content-Type"])
        assert len(answer.content) > 500
    assert "http://" not in " ".join(scripts + styles) and "https://" not in " ".join(scripts + styles)
    assert '<noscript>' in text and 'href="/sparql"' in text


@pytest.mark.parametrize("path", sorted(VIEWS))
def test_a_view_runs_the_analysts_query_files(live_server, path):
    """The page embeds the text of queries/*.rq that its script sends to /sparql, and shows it."""
    text = get(live_server, path).text
    embedded = json.loads(re.search(
        r'<script type="application/json" id="tdkg-queries">(.*?)</script>', text, re.S).group(1))
    assert sorted(embedded) == sorted(VIEWS[path]["queries"])
    for name, query in embedded.items():
        assert query == (PROJECT / "queries" / f"{name}.rq").read_text(encoding="utf-8")
        shown = re.search(rf'<pre class="query" data-query="{name}">(.*?)</pre>', text, re.S)
        assert shown and html.unescape(shown.group(1)) == query
    statuses = json.loads(re.search(
        r'<script type="application/json" id="tdkg-statuses">(.*?)</script>', text, re.S).group(1))
    assert [s["key"] for s in statuses] == ["reported", "claimed", "implied", "curatorKnowledge",
                                            "speculative", "officiallyDenied"]


def test_the_views_are_in_the_navigation(live_server):
    text = get(live_server, "/id/turkiye").text
    assert 'href="/network"' in text and 'href="/timeline"' in text


def test_vendor_files_that_are_not_listed_are_not_served(live_server):
    assert get(live_server, "/vendor/vis-network/package.json", "*/*").status_code == 404
    assert get(live_server, "/vendor/vis-network/../../package.json", "*/*").status_code == 404
