"""Timeouts that really stop the work, and result caps that say when they cut."""
from __future__ import annotations

import threading
import time

import pytest

from support import Server

HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(
    f"?s{i} ?p{i} ?o{i} ." for i in range(8)) + " }"


@pytest.fixture()
def strict_server(scratch_state):
    server = Server(scratch_state, "--timeout", "2", "--max-results", "5", "--workers", "1",
                    "--threads", "4")
    yield server
    server.stop()


def test_query_over_the_timeout_is_stopped_while_another_is_answered(strict_server):
    outcome: dict = {}

    def heavy():
        started = time.monotonic()
        outcome["response"] = strict_server.sparql(HEAVY)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=heavy)
    thread.start()
    time.sleep(0.5)
    assert strict_server.ask("ASK { ?s ?p ?o }")      # answered while the heavy one runs
    thread.join(30)
    response = outcome["response"]
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "query-timeout"
    assert "2 s" in response.json()["error"]["message"]
    assert outcome["seconds"] < 10
    assert strict_server.ask("ASK { ?s ?p ?o }")      # and the server keeps serving after it


def test_timed_out_worker_process_is_killed_and_replaced(built_state):
    from tdkg.server.pool import Pool, Timeout, WorkerSpec
    pool = Pool(WorkerSpec(str(built_state / "current" / "store")), size=1)
    try:
        from tdkg.server.dataset import default_graphs
        job = {"op": "query", "text": HEAVY, "fmt": "json", "cap": 10,
               "default_graph": default_graphs(inference=True)}
        pool.warm()
        worker = pool._idle[0]
        with pytest.raises(Timeout):
            pool.call(job, time.monotonic() + 1)
        assert not worker.process.is_alive()
        answer = pool.call({"op": "query", "text": "ASK {}", "fmt": "json", "cap": 10},
                           time.monotonic() + 30)
        assert answer[0] == "ok"
    finally:
        pool.close()


def test_cap_truncates_and_says_so(strict_server):
    response = strict_server.sparql("SELECT ?s WHERE { ?s ?p ?o }")
    assert response.status_code == 200
    assert len(response.json()["results"]["bindings"]) == 5
    assert response.json()["truncated"] is True
    assert response.headers["TDKG-Truncated"].startswith("true")
    small = strict_server.sparql("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3")
    assert "TDKG-Truncated" not in small.headers and "truncated" not in small.json()


def test_cap_applies_to_graphs(strict_server):
    response = strict_server.sparql("CONSTRUCT WHERE { ?s ?p ?o }", accept="application/n-triples")
    assert len([l for l in response.text.splitlines() if l.strip()]) == 5
    assert "TDKG-Truncated" in response.headers
