"""The federation guard: the SERVICE/LOAD check agrees with the engine, refuses the whole bypass
corpus, and the confined query workers reach nothing even with the check switched off."""
from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest
import requests

import federation_corpus as corpus
from support import PROJECT, LoopbackListener, Server
from tdkg import namespaces as ns
from tdkg.server import guard
from tdkg.server.errors import ServiceRefused

CASES = corpus.cases()
GENERATED = corpus.generated(seed=20261127, count=300)
TOKEN = "test-update-token"


@pytest.fixture(scope="module")
def listener():
    found = LoopbackListener()
    yield found
    found.close()


def _path(iri: str) -> str:
    parts = urlsplit(iri)
    return parts.path or "/"


def _engine_contacts(listener: LoopbackListener, kind: str, text: str) -> list[str]:
    """Paths the engine (in this test process, unconfined) requested from the listener."""
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("a:s"), ox.NamedNode("a:p"), ox.Literal(True)))
    store.add(ox.Quad(ox.NamedNode("a:s"), ox.NamedNode("a:q"), ox.NamedNode("http://e/a.b")))
    before, paths_before = listener.connections, len(listener.paths)
    try:
        if kind == "update":
            store.update(text, base_iri=listener.url + "/base/", prefixes=ns.PREFIXES)
        else:
            answer = store.query(text, base_iri=listener.url + "/base/", prefixes=ns.PREFIXES)
            if not isinstance(answer, ox.QueryBoolean):
                list(answer)
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass
    deadline = time.monotonic() + 2
    while listener.connections - before > len(listener.paths) - paths_before \
            and time.monotonic() < deadline:     # a TLS hello has no path: count it anyway
        time.sleep(0.01)
    paths = listener.paths[paths_before:]
    return paths + ["<no path>"] * (listener.connections - before - len(paths))


def test_the_check_sees_every_endpoint_the_engine_contacts(listener):
    """For every fixed and generated case: whatever the engine contacts, the check either
    predicts it or refuses the operation as unknowable; what it predicts as nothing, the engine
    does not contact."""
    contacted = 0
    for name, kind, template in CASES + GENERATED:
        text = corpus.render(template, name, listener.port)
        try:
            main, shadow = guard.read(text, 128)
            predicted = guard.remote_targets(text, main + shadow, kind == "update", ns.PREFIXES)
        except ServiceRefused:
            predicted = None            # refused before execution: nothing could be contacted
        except Exception as err:        # malformed for the check: the engine must agree
            predicted = set()
            assert _engine_contacts(listener, kind, text) == [], (name, err)
            continue
        paths = _engine_contacts(listener, kind, text)
        contacted += bool(paths)
        if predicted is not None:
            assert all(p in {_path(t) for t in predicted} for p in paths if p != "<no path>"), \
                (name, paths, predicted)
            assert not paths or predicted, (name, paths)
    print(f"{len(CASES + GENERATED)} cases; the engine contacted the listener in {contacted}")
    assert contacted >= 0.8 * len(CASES + GENERATED)      # the corpus really reaches the engine


def _send(server: Server, kind: str, text: str) -> requests.Response:
    if kind == "update":
        return requests.post(server.url + "/sparql", data=text.encode(), timeout=60,
                             headers={"Content-Type": "application/sparql-update",
                                      "Authorization": f"Bearer {TOKEN}"})
    return requests.post(server.url + "/sparql", data=text.encode(), timeout=60,
                         headers={"Content-Type": "application/sparql-query"})


@pytest.fixture()
def update_server(scratch_state):
    """A scratch server with updates enabled, so LOAD reaches the check."""
    server = Server(scratch_state, "--update-token", TOKEN)
    yield server
    server.stop()


def test_the_whole_corpus_is_refused_and_reaches_nothing(update_server, listener):
    """Every fixed case is refused (403, or 400 where it is not SPARQL to the engine either);
    generated cases without a SERVICE clause are answered; nothing reaches the listener."""
    before = listener.connections
    refused = 0
    for name, kind, template in CASES + GENERATED:
        response = _send(update_server, kind, corpus.render(template, name, listener.port))
        if (name, kind, template) in CASES:
            assert response.status_code in (400, 403), (name, response.text)
        assert response.status_code < 500, (name, response.text)
        if response.status_code == 403:
            assert response.json()["error"]["type"] == "service-refused", name
            refused += 1
    assert listener.connections == before
    assert refused >= len(CASES) - 5


@pytest.fixture()
def unchecked_server(scratch_state):
    """The check switched off by its test-only hook: only the confined workers stand between a
    query and the network."""
    server = Server(scratch_state, "--update-token", TOKEN,
                    env={"TDKG_TEST_UNCHECKED_SERVICE": "1"})
    yield server
    server.stop()


def test_confined_workers_reach_nothing_with_the_check_switched_off(unchecked_server, listener):
    before = listener.connections
    answered = 0
    for name, kind, template in CASES + GENERATED:
        response = _send(unchecked_server, kind, corpus.render(template, name, listener.port))
        assert response.status_code < 500, (name, response.text)
        answered += response.status_code in (200, 204)
    assert listener.connections == before
    assert answered > 0       # SERVICE SILENT ran and found nothing: the check was really off


def test_an_allowlisted_endpoint_is_reached_and_no_other(scratch_state, listener):
    allowed = listener.url + "/allowed"
    server = Server(scratch_state, "--service-allowlist", allowed)
    try:
        before = len(listener.paths)
        response = server.sparql(f"SELECT * WHERE {{ SERVICE <{allowed}> {{ }} }}")
        assert response.status_code == 200, response.text
        assert listener.paths[before:] == ["/allowed"]
        other = server.sparql(f"SELECT * WHERE {{ SERVICE <{allowed}> {{ }} "
                              f"SERVICE <{listener.url}/other> {{ }} }}")
        assert other.status_code == 403
        assert other.json()["error"]["target"] == listener.url + "/other"
        assert listener.paths[before:] == ["/allowed"]
    finally:
        server.stop()


CONFINE = """
import socket, sys
sys.path.insert(0, {server!r})
import sandbox
ok = sandbox.{step}()
print(ok, sandbox.network_reachable())
try:
    socket.socket(socket.AF_UNIX).close(); print("unix ok")
except OSError as err:
    print("unix refused", err)
"""


@pytest.mark.parametrize("step", ["enter_network_namespace", "deny_network_sockets"])
def test_each_os_control_alone_takes_a_process_off_the_network(step):
    """Either control holds on its own: the network namespace where it is allowed, the seccomp
    filter where it is not; Unix sockets (the worker's pipe) still work."""
    code = CONFINE.format(server=str(PROJECT / "server"), step=step)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split("\n")[:2] == ["True False", "unix ok"], result.stderr


def test_healthz_reports_how_query_workers_are_confined(live_server):
    workers = requests.get(live_server.url + "/healthz", timeout=10).json()["query_workers"]
    assert workers["sandbox"] == "required" and workers["confined"] is True
    assert workers["network_namespace"] or workers["seccomp"]
    assert workers["memory_mib"] > 0
    assert workers["long_query_slots"] == workers["per_process"] - 1
    assert workers["per_process"] == 3      # the embedded store's default
