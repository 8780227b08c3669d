"""A bounded fuzz run against the default (read-only) server: mutated analysts' queries and bypass
cases, a few thousand requests in at most a minute. No 5xx but the documented ones (timeout,
busy, memory), and no connection to a loopback listener."""
from __future__ import annotations

import collections
import random
import threading
import time

import pytest
import requests

import federation_corpus as corpus
from support import PROJECT, LoopbackListener, Server

MAX_REQUESTS, MAX_SECONDS, MIN_REQUESTS = 3000, 60.0, 400
SEED = 20261127
ALPHABET = list("<>{}()[]'\"#\\:.?$_@^|!&;,*~+-=/%0123456789 \n\tabcSERVICEx") + [
    "SERVICE ", "SILENT ", "LOAD ", "PREFIX ", "BASE <http://127.0.0.1:{P}/> ", "\\u0027",
    "'''", '"""', "<http://127.0.0.1:{P}/fuzz>", "ex:a\\#", "ex:a\\'", "é", "\u2028"]
DOCUMENTED_5XX = {"query-timeout", "busy", "memory-limit"}


def seeds(port: int) -> list[str]:
    texts = [corpus.render(t, n, port) for n, kind, t in corpus.cases() if kind == "query"]
    texts += [p.read_text() for p in sorted((PROJECT / "queries").glob("*.rq"))]
    return texts


def mutate(rng: random.Random, text: str, others: list[str], port: int) -> str:
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(text) + 1)
        action = rng.random()
        if action < 0.35:
            text = text[:i] + rng.choice(ALPHABET).replace("{P}", str(port)) + text[i:]
        elif action < 0.55:
            text = text[:i] + text[i + rng.randint(1, 8):]
        elif action < 0.7:
            j = rng.randrange(len(text) + 1)
            text = text[:i] + text[min(i, j):max(i, j)] * rng.randint(1, 3) + text[i:]
        elif action < 0.8:
            other = rng.choice(others)
            text = text[:i] + other[rng.randrange(len(other) + 1):]
        elif action < 0.9:
            text = text[:i]
        else:
            text = "".join(c.swapcase() if rng.random() < 0.3 else c for c in text)
    return text


@pytest.fixture()
def fuzz_server(scratch_state):
    server = Server(scratch_state, "--timeout", "5", "--workers", "2", "--threads", "8",
                    "--query-workers", "3", "--short-query", "2", "--worker-memory", "512")
    yield server
    server.stop()


def test_bounded_fuzz_run(fuzz_server):
    listener = LoopbackListener()
    rng = random.Random(SEED)
    texts = seeds(listener.port)
    cases = [mutate(rng, rng.choice(texts), texts, listener.port) for _ in range(MAX_REQUESTS)]
    statuses: collections.Counter = collections.Counter()
    failures: list[tuple[str, int, str]] = []
    lock, deadline = threading.Lock(), time.monotonic() + MAX_SECONDS
    todo = iter(cases)

    def work():
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                text = next(todo, None)
            if text is None:
                return
            response = session.post(fuzz_server.url + "/sparql", data=text.encode("utf-8"),
                                    timeout=30, headers={"Content-Type": "application/sparql-query"})
            kind = _kind(response)
            with lock:
                statuses[(response.status_code, kind)] += 1
                if response.status_code >= 500 and kind not in DOCUMENTED_5XX:
                    failures.append((text, response.status_code, response.text[:300]))

    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(MAX_SECONDS + 60)
    finally:
        listener.close()
    print("fuzz outcomes:", dict(statuses))
    assert not failures, failures[:3]
    assert listener.connections == 0
    assert sum(statuses.values()) >= MIN_REQUESTS
    assert fuzz_server.ask("ASK { ?s ?p ?o }")


def _kind(response: requests.Response) -> str:
    try:
        return response.json()["error"]["type"]
    except (ValueError, KeyError, TypeError):
        return "-"
