"""The query page at ``/`` over plain HTTP (no browser): what it loads, the examples it offers
(``/queries.json``, ``/queries/<name>.rq``) and the configuration it hands to its script.
tests/test_browser_query.py drives it in Chromium."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from support import PROJECT
from tdkg.namespaces import PREFIXES, sparql_prefixes

QUERY_FILES = sorted((PROJECT / "queries").glob("*.rq"))
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}


def get(live_server, path: str, **headers: str) -> requests.Response:
    return requests.get(live_server.url + path, headers=headers, timeout=30)


def header_line(path: Path, field: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"#+ {field}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name} has no {field}")


def page_config(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="tdkg-query-config">(.*?)</script>',
                      text, re.S)
    assert match, "the page embeds its configuration"
    return json.loads(match.group(1))


def test_the_page_loads_yasgui_and_its_own_files_from_this_server(live_server):
    response = get(live_server, "/", Accept="text/html")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    text = response.text
    assert '<script src="/vendor/yasgui/yasgui.min.js"' in text
    assert '<link rel="stylesheet" href="/vendor/yasgui/yasgui.min.css">' in text
    # nothing from another origin: every script and stylesheet is a local path
    tags = re.findall(r"<(?:script|link)\b[^>]*>", text)
    assert not [t for t in tags if re.search(r'(?:src|href)="(?:https?:)?//', t)]
    referenced = sorted(set(re.findall(r'(?:src|href)="(/(?:vendor|static)/[^"?]+)', text)))
    assert "/static/query.js" in referenced and "/static/query.css" in referenced
    for path in referenced:
        answer = get(live_server, path)
        assert answer.status_code == 200, path
        suffix = Path(path).suffix
        if suffix in CONTENT_TYPES:
            assert answer.headers["Content-Type"].split(";")[0] in CONTENT_TYPES[suffix], path
        assert len(answer.content) > 100, path


def test_queries_json_lists_every_query_file_with_its_header(live_server):
    response = get(live_server, "/queries.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    examples = response.json()["examples"]
    assert [ex["file"] for ex in examples] == [p.name for p in QUERY_FILES]
    for path, ex in zip(QUERY_FILES, examples):
        assert ex["name"] == path.stem
        assert ex["summary"] == header_line(path, "summary")
        assert ex["description"] == header_line(path, "description")
        assert ex["tags"] and all(isinstance(t, str) and t for t in ex["tags"])
        text = path.read_text(encoding="utf-8")
        assert not ex["query"].startswith("#+") and "\n#+" not in ex["query"]
        assert text.endswith(ex["query"])
        served = get(live_server, ex["href"])
        assert served.status_code == 200
        assert served.headers["Content-Type"].startswith("application/sparql-query")
        assert served.content == path.read_bytes()


@pytest.mark.parametrize("path", ["/queries/no-such-query.rq", "/queries/..%2Fpyproject.rq",
                                  "/queries/.hidden.rq"])
def test_only_the_query_files_are_served(live_server, path):
    assert get(live_server, path).status_code == 404


def test_the_page_hands_its_script_prefixes_examples_and_a_default_query(live_server):
    config = page_config(get(live_server, "/").text)
    assert config["endpoint"] == "/sparql"
    assert config["base"] == "https://w3id.org/tdkg/"
    assert config["prefixes"] == PREFIXES
    assert config["examples"] == get(live_server, "/queries.json").json()["examples"]
    # the default query opens with its question: no PREFIX lines (the endpoint predeclares them)
    assert not re.search(r"^\s*PREFIX\s", config["defaultQuery"], re.M | re.I)
    assert re.search(r"^SELECT\b", config["defaultQuery"], re.M)
    assert len(live_server.select(config["defaultQuery"])) > 0
    # the chart view's library, loaded from this server when a chart is first drawn
    assert config["chartScript"].startswith("/vendor/")
    script = get(live_server, config["chartScript"])
    assert script.status_code == 200 and len(script.content) > 50_000
    assert script.headers["Content-Type"].split(";")[0] in CONTENT_TYPES[".js"]
    assert b"Chart.js" in script.content[:200]


def test_examples_open_with_their_question_and_answer_as_their_files_do(live_server):
    """``shortQuery`` (what the editor shows) is the file's query without the PREFIX lines that
    the endpoint predeclares: it starts with the question and gives the same answer."""
    examples = get(live_server, "/queries.json").json()["examples"]
    declared = set(sparql_prefixes().splitlines())
    for ex in examples:
        short = ex["shortQuery"]
        first = next(line for line in short.splitlines() if line.strip())
        assert not first.upper().startswith("PREFIX"), ex["name"]
        assert not declared & set(short.splitlines()), ex["name"]
        kept = [line for line in ex["query"].splitlines() if line not in declared]
        assert [line for line in short.splitlines() if line.strip()] == \
            [line for line in kept if line.strip()], ex["name"]
        full = live_server.sparql(ex["query"], accept="application/sparql-results+json")
        answer = live_server.sparql(short, accept="application/sparql-results+json")
        assert full.status_code == answer.status_code == 200, (ex["name"], answer.text[:300])
        assert rows_of(answer.json()) == rows_of(full.json()), ex["name"]


def rows_of(results: dict) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in results["results"]["bindings"])


def test_short_query_leaves_out_only_the_predeclared_prefixes():
    from tdkg.server.workbench import short_query

    text = ("# a comment\nPREFIX tdkg: <https://w3id.org/tdkg/ontology#>\n"
            "PREFIX ex: <http://example.org/>\nprefix rdfs:   <http://www.w3.org/2000/01/rdf-schema#>\n"
            "PREFIX tdi: <http://elsewhere.example/>\n\nSELECT * { ?s rdfs:label ?o }\n")
    assert short_query(text) == ("# a comment\nPREFIX ex: <http://example.org/>\n"
                                 "PREFIX tdi: <http://elsewhere.example/>\n\n"
                                 "SELECT * { ?s rdfs:label ?o }\n")
    # PREFIX-like text after the prolog is the query's, not the prolog's
    body = "SELECT * {\n}\n# PREFIX tdkg: <https://w3id.org/tdkg/ontology#>\n"
    assert short_query("PREFIX tdkg: <https://w3id.org/tdkg/ontology#>\n\n" + body) == body


def test_the_chart_examples_open_on_the_chart(live_server):
    examples = get(live_server, "/queries.json").json()["examples"]
    assert {ex["view"] for ex in examples} <= {"table", "chart"}
    charts = [ex for ex in examples if ex["view"] == "chart"]
    assert {"states-in-the-most-facts", "facts-per-year"} <= {ex["name"] for ex in charts}
    for ex in charts:
        assert "chart" in ex["tags"]
        assert len(live_server.select(ex["query"])) > 1


def test_the_example_names_and_descriptions_are_in_the_page(live_server):
    text = get(live_server, "/").text
    for path in QUERY_FILES:
        summary = header_line(path, "summary")
        assert f'<option value="{path.stem}"' in text
        assert summary.replace("'", "&#39;").replace('"', "&#34;") in text


def test_header_parsing_reads_both_tag_forms():
    from tdkg.server.workbench import parse_header

    fields, body = parse_header("#+ summary: S\n#+ description: D\n#+ tags:\n#+   - a b\n"
                                "#+   - c\nPREFIX x: <y>\nSELECT * {}\n")
    assert fields == {"summary": "S", "description": "D", "tags": ["a b", "c"]}
    assert body == "PREFIX x: <y>\nSELECT * {}\n"
    fields, body = parse_header("#+ summary: S\n#+ tags: reasoning, partnership\nASK {}")
    assert fields["tags"] == ["reasoning", "partnership"] and body == "ASK {}"
    assert parse_header("SELECT * {}") == ({"tags": []}, "SELECT * {}")


def test_vendor_bundles_go_out_compressed_to_clients_that_accept_it(live_server):
    path = "/vendor/yasgui/yasgui.min.js"
    plain = requests.get(live_server.url + path, headers={"Accept-Encoding": "identity"},
                         timeout=30)
    packed = requests.get(live_server.url + path, headers={"Accept-Encoding": "gzip"},
                          timeout=30)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) < len(plain.content) / 2
    assert packed.content == plain.content          # requests decodes the gzip body
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = requests.get(live_server.url + path, timeout=30, headers={
        "Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
