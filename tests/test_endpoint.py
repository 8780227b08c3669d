"""The SPARQL 1.1 Protocol endpoint against a real server over the real bundled build."""
from __future__ import annotations

import io
import socket
import threading

import pytest
import rdflib
import requests
from rdflib.compare import isomorphic
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
    graph = live_server.sparql(LABEL_GRAPH, accept="image/png", format="foo")
    assert graph.status_code == 406
    assert "text/turtle (format=turtle)" in graph.json()["error"]["message"]


# --- forgiving negotiation: what common clients send (issue 12) -----------------------------

def _get(server, query: str, params: list[tuple[str, str]] = (), accept: str | None = None,
         method: str = "GET") -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.request(method, server.url + "/sparql", timeout=30, headers=headers,
                            params=[("query", query), *params])


@pytest.mark.parametrize("query, params, accept, media_type", [
    # SPARQLWrapper's JSON-LD: the name, then its media types as one comma-separated value
    (LABEL_GRAPH, [("format", "json-ld"), ("format", "application/ld+json,application/x-json+ld"),
                   ("output", "json-ld")], "application/ld+json,application/x-json+ld",
     "application/ld+json"),
    (LABEL_GRAPH, [("format", "n3")], "application/turtle,text/turtle,text/rdf+n3", "text/turtle"),
    (LABEL_GRAPH, [("format", "rdf+xml"), ("format", "application/rdf+xml")], None,
     "application/rdf+xml"),
    (LABEL_GRAPH, [("format", "application/n-triples")], None, "application/n-triples"),
    # a name of the other family, or one we do not know, falls back to Accept
    (LABEL_GRAPH, [("format", "csv")], "*/*", "text/turtle"),
    (LABELS, [("format", "turtle")], None, "application/sparql-results+json"),
    (LABELS, [("format", "foo")], "text/csv", "text/csv"),
    (LABELS, [("format", "rdf+xml"), ("format", "")], "", "application/sparql-results+json"),
    (LABELS, [("output", "tsv")], None, "text/tab-separated-values"),
    # values are read in order: the first that fits wins
    (LABELS, [("format", "json-ld"), ("format", "xml"), ("format", "csv")], None,
     "application/sparql-results+xml"),
    # rdflib's SPARQLStore with returnFormat json/csv asks for results even for a graph
    (LABEL_GRAPH, [], "application/sparql-results+json", "text/turtle"),
    (LABEL_GRAPH, [], "text/csv", "text/turtle"),
    (LABELS, [], "text/turtle", "application/sparql-results+json"),
    # CSV and TSV define no boolean: an ASK gets them by name only (rdflib's SPARQLStore asks
    # by Accept and reads the answer by its media type)
    ("ASK { ?s ?p ?o }", [], "text/csv", "application/sparql-results+json"),
    ("ASK { ?s ?p ?o }", [], "text/tab-separated-values", "application/sparql-results+json"),
    ("ASK { ?s ?p ?o }", [("format", "csv")], "text/csv", "text/csv"),
    # media type parameters other than q do not stop a match
    (LABEL_GRAPH, [], "text/turtle; charset=utf-8", "text/turtle"),
    (LABEL_GRAPH, [], "application/rdf+xml;q=0.5, application/n-triples;q=0.9",
     "application/n-triples"),
])
def test_negotiation_forgives_what_clients_send(live_server, query, params, accept, media_type):
    response = _get(live_server, query, params, accept)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media_type


def test_a_syntax_error_wins_over_an_unacceptable_format(live_server):
    """400 before 406: the query is parsed before a 406 is given."""
    broken = "CONSTRUCT WHERE { ?s ?p ?o FILTER(true) }"
    for accept, params in [("image/png", []), ("image/png", [("format", "foo")]),
                           ("application/sparql-results+json", [])]:
        response = _get(live_server, broken, params, accept)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["type"] == "malformed-query"


def test_a_406_costs_no_full_evaluation(live_server):
    """The parse check behind a 406 runs over an empty dataset, so even a query that reads the
    whole store answers 406 about as fast as a trivial one."""
    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?b ?q ?c . ?c ?r ?d } # 406 check"
    response = _get(live_server, heavy, [("format", "foo")], "image/png")
    assert response.status_code == 406
    assert "exec;dur=" in response.headers["Server-Timing"]
    assert float(response.headers["Server-Timing"].split("exec;dur=")[1].split(",")[0]) < 200


@pytest.mark.parametrize("path, params", [
    ("/sparql", {"query": "ASK { ?s ?p ?o }"}),
    ("/sparql", {"query": LABEL_GRAPH, "format": "ntriples"}),
    ("/sparql", {}),
    ("/sparql/", {}),
    ("/page/id/turkiye", {}),
    ("/data/id/turkiye.ttl", {}),
    ("/downloads/", {}),
    ("/.well-known/void", {}),
])
def test_head_answers_as_get_does_without_a_body(live_server, path, params):
    get = requests.get(live_server.url + path, params=params, timeout=30, allow_redirects=False)
    head = requests.head(live_server.url + path, params=params, timeout=30,
                         allow_redirects=False)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    for name in ("Content-Type", "Content-Length", "Vary"):
        assert head.headers.get(name) == get.headers.get(name), name


@pytest.mark.parametrize("method, params, data", [
    ("GET", {"graph": "https://w3id.org/tdkg/graph/asserted"}, None),
    ("GET", {"default": ""}, None),
    ("HEAD", {"default": ""}, None),
    ("POST", {}, {"graph": "https://w3id.org/tdkg/graph/asserted"}),
])
def test_graph_store_parameters_without_a_query_point_at_the_graph_store(live_server, method,
                                                                           params, data):
    """Once answered 200 with the service description: a Graph Store client got the wrong
    data and no error."""
    response = requests.request(method, live_server.url + "/sparql", params=params, data=data,
                                timeout=30)
    assert response.status_code == 400
    if method != "HEAD":
        error = response.json()["error"]
        assert error["type"] == "bad-request" and "/rdf-graph-store" in error["message"]


def test_graph_parameter_with_a_query_is_still_a_query(live_server):
    response = _get(live_server, "ASK { ?s ?p ?o }", [("graph", "urn:x")])
    assert response.status_code == 200 and response.json()["boolean"] is True


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
