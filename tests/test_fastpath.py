"""The layer in front of Flask (server/fastpath.py) answers ``GET /sparql?query=…`` itself: the
same status, body and headers as the endpoint behind it, the same checks, limits and errors.

A request with any other parameter goes through Flask; ``inference=true`` (the default, said out
loud) is used here to get the endpoint's own answer to the very same query."""
from __future__ import annotations

import shutil
import socket
import time

import pytest
import requests

from support import Server, query_workers

TIMED = ("Server-Timing", "Date")
#: about 300,000 solutions, streamed: the cap (10,000 by default) stops it
OVER_THE_CAP = "SELECT ?s ?o WHERE { ?s ?p ?o . ?x a tdkg:State }"
QUERIES = [
    ("SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label LIMIT 25", None),
    ("SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label LIMIT 25",
     "application/sparql-results+xml"),
    ("SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label LIMIT 25", "text/csv"),
    ("SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label LIMIT 25",
     "text/tab-separated-values"),
    ("ASK { ?s a tdkg:State }", "application/sparql-results+json"),
    ("CONSTRUCT { ?s a tdkg:State } WHERE { ?s a tdkg:State }", "text/turtle"),
    ("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "application/sparql-results+json"),
    (OVER_THE_CAP, "application/sparql-results+json"),
]


def _get(server: Server, query: str, accept: str | None, **extra: str) -> requests.Response:
    headers = {"Cache-Control": "no-cache"}
    if accept:
        headers["Accept"] = accept
    return requests.get(server.url + "/sparql", params={"query": query, **extra},
                        headers=headers, timeout=60)


def _timing(response: requests.Response) -> dict[str, str]:
    parts = [p.strip().split(";", 1) for p in response.headers["Server-Timing"].split(",")]
    return {name: rest for name, rest in parts}


@pytest.mark.parametrize("query,accept", QUERIES)
def test_direct_answers_equal_the_endpoints(live_server, query, accept):
    direct = _get(live_server, query, accept)
    endpoint = _get(live_server, query, accept, inference="true")
    assert direct.status_code == endpoint.status_code == 200
    assert direct.content == endpoint.content
    same = {k.lower(): v for k, v in direct.headers.items() if k not in TIMED}
    assert same == {k.lower(): v for k, v in endpoint.headers.items() if k not in TIMED}
    assert {"total", "exec", "cache"} <= set(_timing(direct))


def test_the_cap_holds_on_the_direct_path(live_server):
    direct = _get(live_server, OVER_THE_CAP, "application/sparql-results+json")
    limit = int(direct.headers["TDKG-Result-Limit"])
    assert len(direct.json()["results"]["bindings"]) == limit
    assert direct.json()["truncated"] is True
    assert direct.headers["TDKG-Truncated"] == f"true; returned={limit}"


@pytest.mark.parametrize("query,kind,status", [
    ("SELEC ?s WHERE { ?s ?p ?o }", "malformed-query", 400),           # the worker says so
    ("SELECT * WHERE { ?s undeclared:p ?o }", "malformed-query", 400),
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "service-refused", 403),
    ("SELECT * WHERE { " + "{ " * 200 + "}" * 200 + " }", "query-too-complex", 400),
])
def test_refusals_and_errors_are_the_endpoints(live_server, query, kind, status):
    direct = _get(live_server, query, "application/sparql-results+json")
    endpoint = _get(live_server, query, "application/sparql-results+json", inference="true")
    assert direct.status_code == endpoint.status_code == status
    assert direct.json() == endpoint.json()
    assert direct.json()["error"]["type"] == kind


def test_a_repeated_query_is_replayed_then_runs_again_with_no_cache(live_server):
    query = f"SELECT ?s WHERE {{ ?s a tdkg:State }} LIMIT 3 # {time.monotonic_ns()}"
    first = requests.get(live_server.url + "/sparql", params={"query": query}, timeout=60)
    again = requests.get(live_server.url + "/sparql", params={"query": query}, timeout=60)
    bypass = _get(live_server, query, None)
    assert first.content == again.content == bypass.content
    assert _timing(first)["cache"] == "desc=miss" and "exec" in _timing(first)
    assert _timing(again)["cache"] == "desc=hit" and "exec" not in _timing(again)
    assert _timing(bypass)["cache"] == "desc=bypass" and "exec" in _timing(bypass)


@pytest.fixture(scope="module")
def short_server(scratch_state_module):
    server = Server(scratch_state_module, "--timeout", "4", "--query-workers", "2",
                    "--short-query", "4")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scratch_state_module(built_state, tmp_path_factory):
    copy = tmp_path_factory.mktemp("fastpath") / "var"
    shutil.copytree(built_state, copy, symlinks=True)
    return copy


HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(
    f"?s{i} ?p{i} ?o{i} ." for i in range(8)) + " }"


def test_a_direct_query_past_the_deadline_is_stopped_and_reported(short_server):
    started = time.monotonic()
    response = _get(short_server, HEAVY, "application/sparql-results+json")
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "query-timeout"
    assert "4 s limit" in response.json()["error"]["message"]
    assert time.monotonic() - started < 4 + 5
    assert short_server.ask("ASK { ?s ?p ?o }")       # a fresh worker answers next


def test_a_direct_query_whose_client_left_is_stopped(short_server):
    assert short_server.ask("ASK { ?s ?p ?o }")
    sock = socket.create_connection(("127.0.0.1", short_server.port))
    target = requests.Request("GET", short_server.url + "/sparql",
                              params={"query": HEAVY + " # left"}).prepare().path_url
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.5)
    running = set(query_workers(short_server))
    sock.close()
    deadline = time.monotonic() + 2.5          # before the 4 s limit would stop it
    while time.monotonic() < deadline and running <= set(query_workers(short_server)):
        time.sleep(0.05)
    assert running - set(query_workers(short_server)), "the worker was not stopped in time"

