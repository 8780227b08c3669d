"""The W3C SPARQL 1.1 Protocol test suite (all 34 mf:ProtocolTest) against a real server.

The suite's update tests run CLEAR ALL and DROP ALL, so they run against an update-enabled server
on a scratch store (built from the ontology only); the read-only server over the real build is
only used to check that it refuses every update request of the suite.
"""
from __future__ import annotations

import dataclasses
import secrets

import pytest
import rdflib
import requests

import w3c_protocol as w3c
from support import Server, run_tdkg

# The W3C data sits in ../shared beside the project; without it these tests must fail, not skip.
TESTS = w3c.load_protocol_tests()
# Tests with a request that carries an update (bad_update_wrong_media_type sends its update as
# text/plain, so it is not one: it must get 415 whatever the configuration).
UPDATE_TESTS = [t for t in TESTS if any(r.is_update for r in t.requests)]
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")


@pytest.fixture(scope="module")
def update_server(tmp_path_factory: pytest.TempPathFactory):
    """(server, token): a `tdkg serve --update-token` over a scratch store of the ontology alone."""
    root = tmp_path_factory.mktemp("w3c")
    (root / "empty").mkdir()
    result = run_tdkg("build", "--state-dir", str(root / "var"), "--data-dir", str(root / "empty"),
                      "--skip-validation")
    assert result.returncode == 0, result.stderr
    token = secrets.token_urlsafe(16)
    server = Server(root / "var", "--update-token", token)
    yield server, token
    server.stop()


def test_the_manifest_has_all_34_protocol_tests():
    assert len(TESTS) == 34
    assert len({t.id for t in TESTS}) == 34
    assert all(t.requests and all(r.expected.statuses for r in t.requests) for t in TESTS)
    assert len(UPDATE_TESTS) == 13    # 7 update_* and 6 bad_update_*


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_protocol(update_server, test: w3c.ProtocolTest):
    server, token = update_server
    problems = w3c.run(server.url + "/sparql", test, token)
    assert not problems, f"{test.id} ({test.name}):\n" + "\n".join(problems)


def test_the_harness_notices_a_wrong_answer(update_server):
    """Without its graph data, a dataset test's ASK is false and the harness must say so."""
    server, token = update_server
    test = next(t for t in TESTS if t.id == "query_dataset_default_graphs_get")
    problems = w3c.run(server.url + "/sparql", dataclasses.replace(test, graph_data=()), token)
    assert problems and "expected boolean True, got False" in problems[0]


def test_updates_need_the_token(update_server):
    server, token = update_server
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        response = requests.post(server.url + "/sparql", data=b"CLEAR ALL", timeout=30,
                                 headers={"Content-Type": "application/sparql-update", **headers})
        assert response.status_code == 403
        assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_the_update_server_describes_sparql_update(update_server):
    server, _ = update_server
    graph = rdflib.Graph().parse(data=requests.get(server.url + "/sparql", timeout=30).text,
                                 format="turtle")
    assert (None, SD.supportedLanguage, SD.SPARQL11Update) in graph


# --- the default configuration is read-only ------------------------------------------------

def _triple_count(server: Server) -> int:
    rows = server.select("SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION "
                         "{ GRAPH ?g { ?s ?p ?o } } }")
    return int(rows[0]["n"])


@pytest.mark.parametrize("test", UPDATE_TESTS, ids=[t.id for t in UPDATE_TESTS])
def test_the_read_only_server_refuses_every_update(live_server, test: w3c.ProtocolTest):
    """Well-formed updates get 403 with a message, even with a bearer token; malformed ones still
    get their 4xx. Either way the store is unchanged."""
    before = _triple_count(live_server)
    endpoint = live_server.url + "/sparql"
    for request in (r for r in test.requests if r.is_update):
        for extra in ({}, {"Authorization": "Bearer guessed-token"}):
            response = w3c.send(endpoint, request, extra_headers=extra)
            if request.expected.status_ok(200):
                assert response.status_code == 403, response.text
                error = response.json()["error"]
                assert error["type"] == "update-refused"
                assert "read-only" in error["message"]
            else:
                assert 400 <= response.status_code < 500, response.text
    assert _triple_count(live_server) == before > 0

