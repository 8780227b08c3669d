"""The query workers' fast paths: SPARQL JSON written by pyoxigraph's own serializer
(:func:`server.results.native_json`), and jemalloc preloaded into the workers
(:mod:`server.allocator`).

The native writer must give the same answers as the capped Python writers it stands in front of,
cut at the same cap and marked the same way; an answer too large for its buffer must still come
back whole (evaluated again and written by the Python writer).
"""
from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from server import allocator, execute, results
from support import Server, query_workers

EX = "http://example.org/"


@pytest.fixture(scope="module")
def store() -> ox.Store:
    store = ox.Store()
    p, q = ox.NamedNode(EX + "p"), ox.NamedNode(EX + "q")
    objects = [ox.Literal("plain"), ox.Literal("chaîne ü 😀", language="fr"),
               ox.Literal("12", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
               ox.Literal('tab\t"quote"\\ newline\n'), ox.BlankNode("b1"), ox.NamedNode(EX + "o"),
               ox.Literal("x" * 5000)]
    for i in range(40):
        subject = ox.NamedNode(f"{EX}s{i}") if i % 5 else ox.BlankNode(f"s{i}")
        store.add(ox.Quad(subject, p, objects[i % len(objects)]))
        if i % 3 == 0:
            store.add(ox.Quad(subject, q, ox.Literal(str(i))))
    return store


QUERIES = [
    "SELECT * WHERE { ?s ?p ?o }",
    "SELECT ?s ?v WHERE { ?s <http://example.org/p> ?o OPTIONAL { ?s <http://example.org/q> ?v } }"
    " ORDER BY ?s",
    "SELECT ?t WHERE { ?s ?p ?o BIND(TRIPLE(?s, ?p, ?o) AS ?t) FILTER(isIRI(?s)) }",
    "SELECT (COUNT(*) AS ?n) (SAMPLE(?o) AS ?any) WHERE { ?s ?p ?o }",
    "SELECT ?x WHERE { ?s ?p ?o FILTER(false) }",
    "SELECT * WHERE {}",
]


def _comparable(body: bytes) -> dict:
    """The answer as JSON, blank node labels aside (each writer may label them its own way)."""
    answer = json.loads(body)
    for row in answer["results"]["bindings"]:
        for term in row.values():
            if term["type"] == "bnode":
                term["value"] = "_"
    return answer


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("cap", [0, 1, 7, 10_000])
def test_native_json_is_the_python_writers_answer(store, query, cap):
    python_body, python_rows, python_cut = results.solutions(store.query(query), "json", cap)
    native = results.native_json(store.query(query), cap)
    assert native is not None
    body, rows, cut = native
    assert (rows, cut) == (python_rows, python_cut)
    assert _comparable(body) == _comparable(python_body)


def test_an_answer_larger_than_the_buffer_is_given_up():
    store = ox.Store()
    for i in range(2000):
        store.add(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(str(i))))
    answer = store.query("SELECT * WHERE { ?s ?p ?o }")
    assert results.native_json(answer, 10_000, budget=20_000) is None
    assert results.native_json(store.query("SELECT * WHERE { ?s ?p ?o }"), 10_000,
                               budget=1_000_000)[1:] == (2000, False)


def test_the_worker_evaluates_again_what_outgrew_the_buffer(store, monkeypatch):
    """run_query with a buffer too small for the answer: the whole answer, cut at the cap by
    the Python writer, as with a buffer large enough."""
    job = {"text": QUERIES[1], "fmt": "json", "cap": 25}
    roomy = execute.run_query(store, job)
    monkeypatch.setattr(results, "NATIVE_JSON_BUDGET", 500)
    tried = []
    native_json = results.native_json
    monkeypatch.setattr(results, "native_json",
                        lambda *a, **k: tried.append(native_json(*a, **k)) or tried[-1])
    small = execute.run_query(store, {**job})
    assert tried == [None], "the native writer did not give up"
    assert (small["count"], small["truncated"]) == (25, True)
    assert (roomy["count"], roomy["truncated"]) == (25, True)
    assert _comparable(small["body"]) == _comparable(roomy["body"])


def test_native_json_writes_no_other_format(store):
    """XML, CSV and TSV answers still come from the capped Python writers."""
    answer = execute.run_query(store, {"text": QUERIES[0], "fmt": "csv", "cap": 3})
    assert answer["fmt"] == "csv" and answer["count"] == 3 and answer["truncated"]
    assert sorted(answer["body"].decode().splitlines()[0].split(",")) == ["o", "p", "s"]


# --- the allocator ------------------------------------------------------------------------------

def _maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def test_jemalloc_is_installed_where_the_tests_run():
    """scripts/setup.sh installs Debian's libjemalloc2; without it the workers fall back to
    glibc's malloc, which the next test would not notice."""
    assert allocator.library("jemalloc") is not None
    assert allocator.library("system") is None


@pytest.mark.parametrize("setting, preloaded", [("jemalloc", True), ("system", False)])
def test_query_workers_run_on_the_allocator_set(built_state, setting, preloaded):
    server = Server(built_state, "--allocator", setting)
    try:
        assert server.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        workers = query_workers(server)
        assert workers
        for pid in workers:
            assert ("libjemalloc" in _maps(pid)) is preloaded
            with open(f"/proc/{pid}/environ", "rb") as f:
                environment = f.read().split(b"\0")
            # jemalloc hands freed address space back, which the memory ceiling counts
            assert (b"MALLOC_CONF=" + allocator.MALLOC_CONF.encode() in environment) is preloaded
            assert (b"retain:false" in allocator.MALLOC_CONF.encode())
        # the HTTP worker and gunicorn's master are not given it
        assert "libjemalloc" not in _maps(server.process.pid)
    finally:
        server.stop()


# --- the HTTP worker's malloc arenas ------------------------------------------------------------

ARENAS_PROBE = r"""
import ctypes, sys, threading
sys.path.insert(0, {project!r})
from server import runner
limited = runner.limit_malloc_arenas() if sys.argv[1] == "limited" else None
start = threading.Barrier(8)

def allocate():
    start.wait()
    kept = [bytes(100_000) for _ in range(50)]

threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
out = libc.fdopen(1, b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fflush(ctypes.c_void_p(out))
"""


@pytest.mark.parametrize("mode", ["limited", "glibc's default"])
def test_the_http_workers_threads_share_two_malloc_arenas(mode):
    """glibc gives each new thread its own arena (up to 8 per core); the server's master limits
    them before it forks its HTTP workers, whose threads keep answers."""
    import subprocess
    import sys
    from pathlib import Path
    project = str(Path(__file__).resolve().parents[1])
    probe = subprocess.run([sys.executable, "-c", ARENAS_PROBE.format(project=project), mode],
                           capture_output=True, timeout=60, check=True)
    arenas = probe.stdout.count(b"<heap nr=")
    if mode == "limited":
        assert 1 <= arenas <= 2, probe.stdout[:500]
    else:
        assert arenas > 2, "the probe's threads did not get arenas of their own"
