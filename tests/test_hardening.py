"""Bounded and self-healing under attack: worker deaths, a vanished store, memory runaways,
pathological query text, broken and slow requests, departed clients, slow queries."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time

import pytest
import requests

from support import (Server, cmdline, descendants, parent_of, process_rss, query_workers, run_tdkg,
                     tree_rss)

HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(
    f"?s{i} ?p{i} ?o{i} ." for i in range(8)) + " }"
HUNGRY = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i"
ASK = "ASK { ?s ?p ?o }"


def post(server: Server, text: str, timeout: float = 60) -> requests.Response:
    return requests.post(server.url + "/sparql", data=text.encode(), timeout=timeout,
                         headers={"Content-Type": "application/sparql-query"})


def error_type(response: requests.Response) -> str:
    return response.json()["error"]["type"]


def wait_for(predicate, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def in_background(fn, *args) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        outcome["response"] = fn(*args)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


SETTINGS = ("--timeout", "10", "--workers", "1", "--threads", "8", "--query-workers", "3",
            "--short-query", "1", "--worker-memory", "512")


@pytest.fixture()
def server(scratch_state):
    found = Server(scratch_state, *SETTINGS)
    yield found
    found.stop()


@pytest.fixture(scope="module")
def hostile_text_server(built_state, tmp_path_factory):
    """One server for every piece of hostile text below: each test also checks that it still
    answers, so sharing it shows that no such request harms the next."""
    copy = tmp_path_factory.mktemp("hostile-text") / "var"
    shutil.copytree(built_state, copy, symlinks=True)
    found = Server(copy, *SETTINGS)
    yield found
    found.stop()


# --- the pool heals -----------------------------------------------------------------------------
def test_idle_workers_that_die_are_replaced_unnoticed(server):
    killed = wait_for(lambda: query_workers(server))
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    for _ in range(6):
        assert server.ask(ASK)
    assert wait_for(lambda: set(query_workers(server)) - set(killed))


def test_a_worker_that_dies_while_answering_costs_only_that_answer(server):
    assert wait_for(lambda: query_workers(server))
    thread, outcome = in_background(server.sparql, HEAVY)
    time.sleep(0.8)
    for pid in query_workers(server):
        os.kill(pid, signal.SIGKILL)
    thread.join(30)
    response = outcome["response"]
    assert response.status_code == 503
    assert error_type(response) == "worker-unavailable"
    assert "killed" in response.json()["error"]["message"]
    assert server.ask(ASK)


def test_a_vanished_store_gives_503_until_a_new_build_is_published(server, scratch_state):
    build = (scratch_state / os.readlink(scratch_state / "current")).resolve()
    shutil.rmtree(build / "store")
    for pid in query_workers(server):
        os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    for _ in range(3):      # every request fails fast, none hangs, and /healthz still answers
        response = server.sparql(ASK)
        assert response.status_code == 503
        assert error_type(response) == "worker-unavailable"
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert time.monotonic() - started < 3 * 10
    result = run_tdkg("build", "--state-dir", str(scratch_state))
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: server.sparql(ASK).status_code == 200)
    assert server.ask(ASK)


def test_the_server_runs_only_its_http_and_query_workers(server, scratch_state):
    """No helper process beside them (multiprocessing's spawn used to add a resource tracker),
    and a worker's settings, such as its store's path, are not on its command line."""
    assert wait_for(lambda: query_workers(server))
    server.ask(ASK)
    master = cmdline(server.process.pid)
    others = [pid for pid in descendants(server.process.pid)
              if pid not in query_workers(server) and cmdline(pid) != master]
    assert others == [], [b" ".join(cmdline(pid))[:200] for pid in others]
    build = str((scratch_state / os.readlink(scratch_state / "current")).resolve()).encode()
    for pid in query_workers(server):
        assert not any(build in arg for arg in cmdline(pid))


def test_query_workers_end_with_the_http_worker_that_started_them(server):
    workers = wait_for(lambda: query_workers(server))
    http = {parent_of(pid) for pid in workers}
    assert len(http) == 1 and server.process.pid not in http
    os.kill(http.pop(), signal.SIGKILL)
    assert wait_for(lambda: not any(cmdline(pid) for pid in workers))     # gone, or a zombie
    assert wait_for(lambda: server.sparql(ASK).status_code == 200)    # gunicorn starts another


# --- memory -------------------------------------------------------------------------------------
def test_memory_runaways_stay_under_the_ceiling_beside_normal_traffic(scratch_state):
    limit_mib, workers, processes = 384, 3, 2
    server = Server(scratch_state, "--timeout", "20", "--workers", str(processes),
                    "--query-workers", str(workers), "--short-query", "15",
                    "--worker-memory", str(limit_mib))
    try:
        web = tree_rss(server) - sum(process_rss(pid) for pid in query_workers(server))
        bound = web + processes * workers * (limit_mib + 96) * 1024 * 1024
        samples, stop = [], threading.Event()
        sampler = threading.Thread(target=lambda: [samples.append(tree_rss(server))
                                                   for _ in iter(lambda: stop.wait(0.1), True)])
        sampler.start()
        runaways = [in_background(post, server, HUNGRY) for _ in range(4)]
        normal = []
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and len(normal) < 200:
            normal.append(server.sparql("SELECT ?s WHERE { ?s a ?c } LIMIT 5").status_code)
        for thread, _ in runaways:
            thread.join(60)
        stop.set()
        sampler.join(5)
        outcomes = [o["response"] for _, o in runaways]
        print(f"runaways: {[error_type(r) for r in outcomes]}; normal: {len(normal)} answered; "
              f"peak {max(samples) / 2**20:.0f} MiB of a {bound / 2**20:.0f} MiB bound")
        assert all(r.status_code == 503 for r in outcomes)
        assert {error_type(r) for r in outcomes} <= {"memory-limit", "busy", "query-timeout"}
        assert "memory-limit" in {error_type(r) for r in outcomes}
        assert f"{limit_mib:,} MiB" in next(r.json()["error"]["message"] for r in outcomes
                                            if error_type(r) == "memory-limit")
        assert normal and set(normal) == {200}
        assert max(samples) < bound, (max(samples), bound)
    finally:
        server.stop()


# --- pathological query text ---------------------------------------------------------------------
@pytest.mark.parametrize("text, status, kind", [
    ("a." * 32_000, 400, "malformed-query"),                 # was quadratic in the old lexer
    ("<a" * 32_000, 400, "malformed-query"),
    ("SELECT * { " + "SERVICE " * 5_000 + "}", 400, "query-too-complex"),
    ("SELECT * WHERE " + "{" * 5_000 + "}" * 5_000, 400, "query-too-complex"),
    ("SELECT * WHERE { FILTER(" + "(" * 5_000 + "1" + ")" * 5_000 + ") }", 400,
     "query-too-complex"),
    ("SELECT * WHERE { VALUES ?x { " + "1 " * 100_000 + "} }", 413, "query-too-large"),
])
def test_pathological_text_is_refused_before_the_engine(hostile_text_server, text, status, kind):
    server = hostile_text_server
    response = post(server, text, timeout=10 + 5)     # within the server's own timeout
    assert response.status_code == status, response.text[:300]
    assert error_type(response) == kind
    if kind == "query-too-large":
        assert "65,536" in response.json()["error"]["message"]
    assert server.ask(ASK)


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { " + " UNION ".join(["{}"] * 7_000) + " }",
    "SELECT * WHERE { " + "MINUS{}" * 9_000 + " }",
    "SELECT * WHERE { FILTER(" + "!" * 60_000 + "1) }",
    "SELECT * WHERE { FILTER(" + "+".join(["1"] * 30_000) + ") }",
    "SELECT * WHERE { VALUES ?x { " + "1 " * 30_000 + "} }",
])
def test_long_chains_never_crash_a_worker(hostile_text_server, text):
    """Chains the nesting limit does not count still fit the evaluating thread's stack: the
    answer is a result, a syntax error or the timeout, and the worker survives."""
    server = hostile_text_server
    workers = set(wait_for(lambda: query_workers(server)))
    response = post(server, text, timeout=30)
    assert response.status_code in (200, 400, 503), response.text[:300]
    if response.status_code == 503:
        assert error_type(response) in ("query-timeout", "busy")
    else:
        assert workers <= set(query_workers(server))        # nobody died
    assert server.ask(ASK)


# --- broken and slow requests ---------------------------------------------------------------------
def raw(server: Server, data: bytes, wait: float = 15) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        return _rest(sock, wait)


def _rest(sock: socket.socket, wait: float) -> bytes:
    """Everything the server sends on ``sock`` until it closes it (or ``wait`` s pass)."""
    sock.settimeout(wait)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (socket.timeout, ConnectionResetError):
        pass
    return b"".join(chunks)


def test_a_malformed_chunked_body_is_a_400(server):
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         b"Content-Type: application/sparql-query\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nASK {}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_a_body_that_never_arrives_is_a_408_within_the_timeout(scratch_state):
    server = Server(scratch_state, "--timeout", "3")
    try:
        started = time.monotonic()
        answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"Content-Type: application/sparql-query\r\n"
                             b"Content-Length: 100\r\n\r\nASK", wait=15)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive" in answer
        assert time.monotonic() - started < 3 + 5
    finally:
        server.stop()


def test_headers_sent_a_byte_at_a_time_do_not_hold_a_thread(scratch_state):
    server = Server(scratch_state, "--timeout", "3", "--threads", "2", "--workers", "1")
    try:
        slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
        for sock in slow:
            sock.sendall(b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\n")
        time.sleep(1)
        for sock in slow:
            sock.sendall(b"X-Slow: 1\r\n")
        assert not any(_closed(s) for s in slow)     # still arriving...
        assert server.ask(ASK)                        # ...while the two threads serve others
        closed = wait_for(lambda: all(_closed(s) for s in slow), 15)
        assert closed                                 # and cut after the timeout
        for sock in slow:
            sock.close()
    finally:
        server.stop()


HALF_HEAD = b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\n"
HALF_BODY = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
             b"Content-Length: 50\r\n\r\nASK")


def test_half_sent_requests_wait_in_the_event_loop_not_in_threads(scratch_state):
    """Ten clients each send half a request to a worker with two threads. Before, they held both
    threads until the timeout and every other request waited that long; now they wait in the
    worker's event loop, other requests are answered meanwhile, and the ten are cut at the
    timeout: a 408 (with the endpoint's error shape and a log line) where the head came and the
    body did not, the connection closed where the head never ended."""
    server = Server(scratch_state, "--timeout", "6", "--threads", "2", "--workers", "1")
    try:
        heads = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        bodies = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        # a whole request with half of the next one behind it, on one connection (pipelined)
        behind = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        for sock in heads:
            sock.sendall(HALF_HEAD)
        for sock in bodies:
            sock.sendall(HALF_BODY)
        for sock in behind:
            sock.sendall(b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n" + HALF_BODY)
        # and a large body (under the 1 MiB limit) that stops a fifth of the way
        large = socket.create_connection(("127.0.0.1", server.port))
        large.sendall(b"PUT /rdf-graph-store?default HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/n-triples\r\nContent-Length: 500000\r\n\r\n"
                      + b"#" * 100_000)
        behind.append(large)
        time.sleep(0.5)
        started = time.monotonic()
        for _ in range(3):
            assert server.ask(ASK)
        answered = time.monotonic() - started
        assert answered < 3, answered       # the threads were free: nobody waited for the 6 s
        for sock in bodies:
            answer = _rest(sock, 15)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
            assert error["type"] == "request-timeout" and "did not arrive" in error["message"]
        for sock in heads:
            assert _rest(sock, 15) == b""
        for sock in behind[:3]:
            answers = _rest(sock, 15)
            assert answers.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in answers
        assert _rest(large, 15).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 6 + 3
        assert server.output().count("POST /sparql 408") == 5 + 3
        assert server.output().count("PUT /rdf-graph-store?default 408") == 1
        assert server.ask(ASK)
    finally:
        server.stop()
        for sock in heads + bodies + behind:
            sock.close()


def test_connections_that_send_nothing_hold_no_thread_and_close_after_the_keepalive(
        scratch_state):
    """Connections opened and left silent (as browsers open spare ones) wait in the event loop
    and are closed after the keep-alive time (5 s), not the request timeout; a stopping server
    does not wait for them."""
    server = Server(scratch_state, "--timeout", "30", "--threads", "2", "--workers", "1")
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(6)]
    try:
        time.sleep(0.3)
        assert server.ask(ASK)
        started = time.monotonic()
        assert wait_for(lambda: all(_closed(s) for s in silent), 20)
        assert time.monotonic() - started < 15      # the keep-alive time, not the 30 s timeout
        late = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        silent += late
        time.sleep(0.3)
        stopping = time.monotonic()
        server.stop()
        assert time.monotonic() - stopping < 5      # gunicorn's grace is 5 s
    finally:
        server.stop()
        for sock in silent:
            sock.close()


def test_clients_that_stop_reading_hold_no_thread(scratch_state):
    """Two clients ask a two-thread worker for a large answer (CSV, about 20 MB) and read
    nothing. Before, each held a thread until the write timed out, and a query sent meanwhile got
    503 at its deadline; now the answers wait in the event loop, the query is answered at once,
    and an answer not taken within the timeout is cut (with a log line)."""
    server = Server(scratch_state, "--timeout", "8", "--threads", "2", "--workers", "1",
                    "--max-results", "100000")
    big = ("SELECT * WHERE { ?s ?p ?o . ?s2 ?p2 ?o2 } LIMIT 100000")
    request = (f"GET /sparql?query={requests.utils.quote(big)} HTTP/1.1\r\nHost: x\r\n"
               "Accept: text/csv\r\n\r\n").encode()
    readers = []
    try:
        for _ in range(2):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(request)
            readers.append(sock)
        # both answers made and handed to the outboxes (their log lines are written then)
        assert wait_for(lambda: server.output().count("GET /sparql?query=SELECT") >= 2, 30)
        started = time.monotonic()
        assert server.ask(ASK)
        assert time.monotonic() - started < 3        # no thread was held by the two readers
        assert wait_for(lambda: server.output().count("answer not taken within 8 s") == 2, 15)
        received = [len(_rest(sock, 20)) for sock in readers]
        assert all(0 < size < 15_000_000 for size in received), received     # cut, not sent
        response = requests.get(server.url + "/sparql", params={"query": big},
                                headers={"Accept": "text/csv"}, timeout=60)
        assert response.status_code == 200
        assert len(response.content) > 15_000_000 and response.text.count("\n") == 100_001
    finally:
        server.stop()
        for sock in readers:
            sock.close()


def test_requests_that_arrive_in_pieces_or_together_are_answered(server):
    """What the event loop reads before a thread takes a request reaches gunicorn's parser
    whole: a request sent a few bytes at a time, two pipelined on one connection, a body sent
    after `Expect: 100-continue`, a chunked body, a large body, and one declared over the
    limit."""
    query = b"ASK { ?s ?p ?o }"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        request = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"Content-Type: application/sparql-query\r\nContent-Length: "
                   + str(len(query)).encode() + b"\r\n\r\n" + query)
        for i in range(0, len(request), 7):
            sock.sendall(request[i:i + 7])
            time.sleep(0.01)
        assert _rest(sock, 15).startswith(b"HTTP/1.1 200")
    one = b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert raw(server, one + last).count(b"HTTP/1.1 200") == 2
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: application/sparql-query\r\nExpect: 100-continue\r\n"
                     b"Content-Length: " + str(len(query)).encode() + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100")     # asked for, not waited out
        sock.sendall(query)
        assert b"HTTP/1.1 200" in _rest(sock, 15)
    chunked = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Type: application/sparql-query\r\nTransfer-Encoding: chunked\r\n\r\n"
               + f"{len(query):x}".encode() + b"\r\n" + query + b"\r\n0\r\n\r\n")
    assert raw(server, chunked).startswith(b"HTTP/1.1 200")
    # a large body arrives whole too, and the endpoint answers (here: over the query limit)
    response = post(server, "# " + "x" * (200 * 1024) + "\nASK { ?s ?p ?o }")
    assert response.status_code == 413 and error_type(response) == "query-too-large"
    # a body declared over the request limit (1 MiB) goes to a thread at once and is refused
    # unread, without waiting for the timeout
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: application/sparql-query\r\nContent-Length: 5000000\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 413")


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        sock.recv(1024)         # the end of the stream, or an error answer: either way, dealt with
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


def test_a_query_whose_client_left_is_stopped(server):
    before = set(wait_for(lambda: query_workers(server)))
    sock = socket.create_connection(("127.0.0.1", server.port))
    body = HEAVY.encode()
    sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query"
                 b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    time.sleep(0.6)
    running = set(query_workers(server))
    sock.close()
    gone = wait_for(lambda: running - set(query_workers(server)), 5)
    assert gone, "no query worker was stopped after the client left"
    assert before and server.ask(ASK)


def test_slow_queries_do_not_starve_the_rest(scratch_state):
    server = Server(scratch_state, "--timeout", "6", "--workers", "1", "--threads", "8",
                    "--query-workers", "3", "--short-query", "1")
    try:
        slow = [in_background(server.sparql, HEAVY) for _ in range(4)]
        time.sleep(0.3)
        quick = [server.sparql("SELECT ?s WHERE { ?s a ?c } LIMIT 3") for _ in range(10)]
        for thread, _ in slow:
            thread.join(30)
        assert [r.status_code for r in quick] == [200] * 10, [r.text[:200] for r in quick]
        kinds = sorted(error_type(o["response"]) for _, o in slow)
        assert "busy" in kinds and set(kinds) <= {"busy", "query-timeout"}
    finally:
        server.stop()
