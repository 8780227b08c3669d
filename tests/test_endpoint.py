"""The SPARQL 1.1 Protocol endpoint against a real server over the real bundled build."""
from __future__ import annotations

import io
import socket
import threading

import pytest
import rdflib
from rdflib.compare import isomorphic
import requests
from rdflib.query import Result

LABELS = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label LIMIT 20"""
LABEL_GRAPH = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
CONSTRUCT { ?s rdfs:label ?label } WHERE { ?s rdfs:label ?label } ORDER BY ?s LIMIT 20"""
RESULT_TYPES = {"application/sparql-results+json": "json", "application/sparql-results+xml": "xml",
                "text/csv": "csv", "text/tab-separated-values": "tsv"}
GRAPH_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt",
               "application/ld+json": "json-ld", "application/rdf+xml": "xml"}


def _rows(result: Result) -> set[tuple[str, str]]:
    return {(str(row[0]), str(row[1])) for row in result}


@pytest.mark.parametrize("media_type", RESULT_TYPES)
def test_select_formats_parse_back_to_the_same_rows(live_server, media_type):
    reference = Result.parse(io.BytesIO(live_server.sparql(LABELS).content), format="json")
    response = live_server.sparql(LABELS, accept=media_type)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(media_type)
    parsed = Result.parse(io.BytesIO(response.content), format=RESULT_TYPES[media_type])
    assert len(_rows(reference)) == 20
    assert _rows(parsed) == _rows(reference)


@pytest.mark.parametrize("media_type", GRAPH_TYPES)
def test_construct_formats_parse_back_to_the_same_graph(live_server, media_type):
    reference = rdflib.Graph().parse(data=live_server.sparql(LABEL_GRAPH).text, format="turtle")
    response = live_server.sparql(LABEL_GRAPH, accept=media_type)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(media_type)
    graph = rdflib.Graph().parse(data=response.content, format=GRAPH_TYPES[media_type])
    assert len(reference) == 20
    assert isomorphic(graph, reference)


def test_ask_defaults_to_json_and_honours_xml(live_server):
    assert live_server.sparql("ASK { ?s ?p ?o }").json() == {"head": {}, "boolean": True}
    xml = live_server.sparql("ASK { ?s ?p ?o }", accept="application/sparql-results+xml")
    assert Result.parse(io.BytesIO(xml.content), format="xml").askAnswer is True


def test_q_values_pick_the_preferred_format(live_server):
    accept = "application/sparql-results+json;q=0.2, text/csv;q=0.9, */*;q=0.1"
    assert live_server.sparql(LABELS, accept=accept).headers["Content-Type"].startswith("text/csv")


def test_format_parameter_overrides_accept(live_server):
    response = live_server.sparql(LABELS, accept="text/csv", format="tsv")
    assert response.headers["Content-Type"].startswith("text/tab-separated-values")
    assert response.text.startswith("?s\t?label")


def test_nothing_acceptable_is_406_naming_the_alternatives(live_server):
    response = live_server.sparql(LABELS, accept="image/png")
    assert response.status_code == 406
    assert "application/sparql-results+json" in response.json()["error"]["message"]
    assert live_server.sparql(LABEL_GRAPH, accept="text/csv").status_code == 406


def test_malformed_query_is_400_with_message_and_position(live_server):
    response = live_server.sparql("SELECT ?s WHERE {\n  ?s ?p \n}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "malformed-query"
    assert error["line"] == 3 and error["column"] >= 1
    assert f"3:{error['column']}" in error["message"]


def test_post_form_and_direct_post_give_the_same_answer(live_server):
    url = live_server.url + "/sparql"
    form = requests.post(url, data={"query": LABELS}, timeout=30)
    direct = requests.post(url, data=LABELS.encode(),
                           headers={"Content-Type": "application/sparql-query"}, timeout=30)
    assert form.status_code == direct.status_code == 200
    assert form.json() == direct.json()


def test_post_with_another_media_type_is_415(live_server):
    response = requests.post(live_server.url + "/sparql", data=LABELS,
                             headers={"Content-Type": "text/plain"}, timeout=30)
    assert response.status_code == 415


@pytest.mark.parametrize("body", ["update=INSERT DATA { <urn:a> <urn:b> <urn:c> }"])
def test_update_is_refused_with_403_and_a_message(live_server, body):
    response = requests.post(live_server.url + "/sparql", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"},
                             timeout=30)
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]
    direct = requests.post(live_server.url + "/sparql", data="CLEAR ALL",
                           headers={"Content-Type": "application/sparql-update"}, timeout=30)
    assert direct.status_code == 403
    assert live_server.ask("ASK { ?s ?p ?o }")


class _Listener:
    """A loopback socket that records whether anything connected to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.mark.parametrize("template, status", [
    ("SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}", 403),
    ("PREFIX x: <{url}>\nSELECT * WHERE {{ SERVICE SILENT x:sparql {{ ?s ?p ?o }} }}", 403),
    # Oxigraph 0.5 reads \u escapes only inside IRIs and strings: this is not SPARQL to it
    ("SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}", 400),
])
def test_service_to_loopback_is_refused_and_never_contacted(live_server, template, status):
    listener = _Listener()
    try:
        url = f"http://127.0.0.1:{listener.sock.getsockname()[1]}/"
        response = live_server.sparql(template.format(url=url))
        assert response.status_code == status
        assert response.json()["error"]["type"] == {403: "service-refused",
                                                    400: "malformed-query"}[status]
    finally:
        listener.close()
    assert listener.connections == 0


def test_service_with_a_variable_target_is_refused(live_server):
    response = live_server.sparql("SELECT * WHERE { BIND(<http://127.0.0.1:1/> AS ?e) SERVICE ?e { ?s ?p ?o } }")
    assert response.status_code == 403


def test_service_keyword_inside_a_string_is_not_refused(live_server):
    rows = live_server.select('SELECT ?x WHERE { BIND("SERVICE <http://127.0.0.1:1/>" AS ?x) }')
    assert rows == [{"x": "SERVICE <http://127.0.0.1:1/>"}]


def test_cors_allows_reads_from_any_origin(live_server):
    response = requests.get(live_server.url + "/sparql", params={"query": "ASK {}"},
                            headers={"Origin": "https://example.org"}, timeout=30)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = requests.options(live_server.url + "/sparql", timeout=30, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization"})
    assert "authorization" not in preflight.headers.get("Access-Control-Allow-Headers", "").lower()


def test_server_timing_and_cache(live_server):
    query = LABELS + " OFFSET 1"
    first = live_server.sparql(query)
    second = live_server.sparql(query)
    assert "total;dur=" in first.headers["Server-Timing"]
    assert second.json() == first.json()
    bypass = requests.get(live_server.url + "/sparql", params={"query": query},
                          headers={"Cache-Control": "no-cache"}, timeout=30)
    assert "cache;desc=bypass" in bypass.headers["Server-Timing"]
    assert "exec;dur=" in bypass.headers["Server-Timing"]


def test_repeated_get_is_replayed_from_memory_with_the_same_answer(live_server):
    query = LABELS + " OFFSET 2"
    responses = [live_server.sparql(query) for _ in range(6)]
    assert {r.content for r in responses} == {responses[0].content}
    timings = [r.headers["Server-Timing"] for r in responses]
    assert any("cache;desc=hit" in t for t in timings), timings
    assert all(r.headers["Content-Type"] == responses[0].headers["Content-Type"] for r in responses)


def test_request_body_limit_is_413(live_server):
    big = "ASK {} #" + "x" * (2 * 1024 * 1024)
    response = requests.post(live_server.url + "/sparql", data=big.encode(),
                             headers={"Content-Type": "application/sparql-query"}, timeout=30)
    assert response.status_code == 413


def test_healthz_names_the_build(live_server):
    body = requests.get(live_server.url + "/healthz", timeout=10).json()
    assert body["status"] == "ok" and body["triples"] > 0 and body["build"]


def test_a_log_line_per_request_with_duration(live_server):
    live_server.sparql("ASK { ?s a ?c }")
    assert any("ASK" in line and "ms" in line and " 200 " in line
               for line in live_server.output().splitlines())


def test_the_projects_prefixes_are_predeclared(live_server):
    rows = live_server.select("SELECT ?label WHERE { tdi:turkiye rdfs:label ?label }")
    assert rows and all(r["label"] for r in rows)
    assert live_server.ask("ASK { tdi:baykar a tdkg:Company }")


def test_a_querys_own_prefix_declaration_wins(live_server):
    rows = live_server.select("PREFIX tdi: <http://example.org/> SELECT (tdi:x AS ?x) {}")
    assert rows == [{"x": "http://example.org/x"}]


def test_an_unknown_prefix_is_named_with_the_known_ones(live_server):
    response = live_server.sparql("SELECT * WHERE {\n  ?s foo:bar ?o }")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "malformed-query" and error["line"] == 2
    assert "unknown prefix 'foo:'" in error["message"]
    assert "tdkg:" in error["message"] and "rdfs:" in error["message"]
    assert "\\u{" not in error["message"]          # not the parser's character classes
