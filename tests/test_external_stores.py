"""The external servers of issue #14 themselves: Virtuoso, the Oxigraph server and HAProxy, as
tests/external_stores.py starts them on loopback. These pin the facts the `sparql` store kind
relies on (how each store is written to, what it refuses, how it marks a partial answer), so a
new store version that changes them fails here first. See /work/notes/stores.md.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid

import pytest
import rdflib
import rdflib.compare
import requests
from external_stores import haproxy, recording_server, tiny_backend, virtuoso

# virtuoso_store, oxigraph_store (session) and restart_after
pytest_plugins = ["external_fixtures"]


@pytest.fixture(params=["virtuoso_store", "oxigraph_store"])
def store(request):
    return request.getfixturevalue(request.param)


def unique_graph() -> str:
    return f"http://example.org/test/{uuid.uuid4()}"


def sample_ntriples(count: int) -> str:
    """``count`` triples: IRIs, blank nodes, language-tagged literals with escapes."""
    lines = []
    for i in range(count):
        obj = f"_:b{i}" if i % 3 == 0 else f'"değer {i}\\n"@tr'
        lines.append(f"<http://example.org/s{i % 7}> <http://example.org/p{i % 3}> {obj} .")
    return "\n".join(lines) + "\n"


def test_graph_store_protocol_round_trip(store):
    """A graph posted by the writer's GSP comes back whole, anonymously, by GSP GET and SPARQL."""
    graph, data = unique_graph(), sample_ntriples(60)
    assert store.post_graph(graph, data.encode()).status_code in (200, 201, 204)
    sent = rdflib.Graph().parse(data=data, format="nt")
    assert store.count(graph) == len(sent)
    got = requests.get(store.gsp_read_url, params={store.gsp_graph_param: graph},
                       headers={"Accept": "application/n-triples"}, timeout=30)
    assert got.status_code == 200
    assert rdflib.compare.isomorphic(rdflib.Graph().parse(data=got.text, format="nt"), sent)


def test_virtuoso_gsp_also_takes_the_standard_graph_parameter(virtuoso_store):
    graph = unique_graph()
    answer = requests.post(virtuoso_store.gsp_url, params={"graph": graph},
                           data=sample_ntriples(5).encode(), auth=virtuoso_store.auth,
                           headers={"Content-Type": "application/n-triples"}, timeout=30)
    assert answer.status_code == 201
    assert virtuoso_store.count(graph) == 5


def test_update_is_refused_without_the_writer(virtuoso_store):
    """Anonymous /sparql is read-only; the writer's digest credentials are what allow writes."""
    graph = unique_graph()
    triple = "<http://example.org/a> <http://example.org/b> 1"
    update = f"INSERT DATA {{ GRAPH <{graph}> {{ {triple} }} }}"
    refused = requests.post(virtuoso_store.query_url, data={"query": update}, timeout=30)
    assert refused.status_code >= 400 and "SECURITY" in refused.text
    wrong = requests.post(virtuoso_store.update_url, data={"update": update}, timeout=30,
                          auth=requests.auth.HTTPDigestAuth("dba", "dba"))
    assert wrong.status_code == 401         # the default dba password no longer works
    assert virtuoso_store.count(graph) == 0
    assert virtuoso_store.update(update).status_code == 200
    assert virtuoso_store.count(graph) == 1


def test_stop_and_start_keep_ports_and_data(store, restart_after):
    graph = unique_graph()
    store.post_graph(graph, sample_ntriples(30).encode())
    before, url = store.count(graph), store.query_url
    restart_after(store)
    store.stop()
    with pytest.raises(requests.ConnectionError):
        store.query("ASK {}", timeout=5)
    store.start()
    assert store.query_url == url and store.count(graph) == before


def test_virtuoso_does_not_federate_for_the_reader(virtuoso_store):
    """SERVICE, sponging (define get:soft) and LOAD sent straight to Virtuoso's /sparql never
    reach a server on loopback; the same LOAD as dba does, so the listener would have seen it."""
    with recording_server() as remote:
        for query in (f"SELECT * WHERE {{ SERVICE <{remote.url}/sparql> {{ ?s ?p ?o }} }}",
                      f'DEFINE get:soft "replace" SELECT * FROM <{remote.url}/a.ttl> '
                      "WHERE { ?s ?p ?o }",
                      f"SELECT * FROM <{remote.url}/b.ttl> WHERE {{ ?s ?p ?o }}",
                      f"LOAD <{remote.url}/c.ttl>"):
            answer = virtuoso_store.query(query, timeout=30)
            assert answer.status_code >= 400 or not answer.json()["results"]["bindings"], query
        assert remote.requests == []
        graph = unique_graph()
        assert virtuoso_store.update(f"LOAD <{remote.url}/control.ttl> INTO GRAPH <{graph}>"
                                     ).status_code == 200
        assert remote.requests == ["GET /control.ttl"]
        virtuoso_store.update(f"DROP SILENT GRAPH <{graph}>")


def test_virtuoso_bif_functions_reach_the_network(virtuoso_store):
    """Why the front end must refuse bif:/sql: functions itself: Virtuoso lets the anonymous
    reader call the built-in http_get (no GRANT reaches a built-in), and returns the body."""
    with recording_server() as remote:
        answer = virtuoso_store.query(f'SELECT (<bif:http_get>("{remote.url}/leak") AS ?x) {{}}')
        assert answer.status_code == 200
        assert "remote" in answer.json()["results"]["bindings"][0]["x"]["value"]
        assert remote.requests == ["GET /leak"]


def test_oxigraph_server_federates(oxigraph_store):
    """The Oxigraph server runs SERVICE and LOAD itself and has no switch to stop it: the front
    end's guard is the only defence, and its port must stay private."""
    with recording_server() as remote:
        oxigraph_store.query(f"SELECT * WHERE {{ SERVICE <{remote.url}/sparql> {{ ?s ?p ?o }} }}")
        oxigraph_store.update(f"LOAD <{remote.url}/d.ttl> INTO GRAPH <{unique_graph()}>")
        assert [r.split()[1] for r in remote.requests] == ["/sparql", "/d.ttl"]


def test_virtuoso_marks_a_partial_answer(virtuoso_store):
    """With the protocol's `timeout` (ms), Virtuoso returns what it has as a 200 and says so
    only in X-SQL-State (S1TAT) and X-SQL-Message: a client must not take it as complete."""
    graph = unique_graph()
    virtuoso_store.post_graph(graph, sample_ntriples(3000).encode())
    heavy = (f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> "
             "{ ?a ?p ?b . ?c ?q ?d . ?e ?r ?f } }")
    # on a busy machine Virtuoso may have nothing to return by the first limit (then a 500
    # "timed out", or "HY008 ... SR203: Async statement killed"): a longer limit gives it time
    # to find some rows
    for limit in ("500", "1500", "4000"):
        began = time.monotonic()
        answer = virtuoso_store.query(heavy, timeout=60, params={"timeout": limit})
        assert time.monotonic() - began < 30
        if answer.status_code == 200:
            break
        assert answer.status_code == 500
        assert "timed out" in answer.text.lower() or "SR203" in answer.text, answer.text
    assert answer.status_code == 200
    assert answer.headers["X-SQL-State"] == "S1TAT"
    assert "incomplete results" in answer.headers["X-SQL-Message"]
    virtuoso_store.update(f"DROP SILENT GRAPH <{graph}>")


def test_virtuoso_execution_limit_is_an_error(tmp_path):
    """With [SPARQL] MaxQueryExecutionTime set and no `timeout` parameter, a query that runs out
    of time is a 500 naming SR171, not a partial answer."""
    with virtuoso(tmp_path, max_execution_s=1) as limited:
        graph = unique_graph()
        limited.post_graph(graph, sample_ntriples(3000).encode())
        answer = limited.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> "
                               "{ ?a ?p ?b . ?c ?q ?d . ?e ?r ?f } }", timeout=60)
        assert answer.status_code == 500
        assert "SR171: Transaction timed out" in answer.text
        assert "X-SQL-State" not in answer.headers


def test_default_graph_differs_between_stores(store):
    """Virtuoso's default graph is the union of all graphs (its own system graphs included);
    the Oxigraph server's is the real default graph. Both honour default-graph-uri."""
    graph = unique_graph()
    store.post_graph(graph, sample_ntriples(12).encode())
    everything = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").json()
    total = int(everything["results"]["bindings"][0]["n"]["value"])
    if store.kind == "virtuoso":
        assert total > store.count(graph)
    else:
        assert total == 0
    scoped = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                         params={"default-graph-uri": graph}).json()
    assert int(scoped["results"]["bindings"][0]["n"]["value"]) == store.count(graph)


def test_haproxy_hides_a_killed_backend(tmp_path):
    """Three backends behind HAProxy, one killed (SIGKILL) under a bounded load of GETs: no
    client sees a failure, and the dead one is marked DOWN and gets nothing afterwards."""
    with contextlib.ExitStack() as stack:
        backs = [stack.enter_context(tiny_backend(f"front{i}", tmp_path)) for i in (1, 2, 3)]
        balancer = stack.enter_context(haproxy([b.address for b in backs], tmp_path))
        wait_for(lambda: list(balancer.backend_states().values()) == ["UP"] * 3)
        results, stop = [], time.monotonic() + 3

        def client():
            with requests.Session() as session:
                while time.monotonic() < stop and len(results) < 3000:
                    began = time.monotonic()
                    try:
                        reply = session.get(balancer.url + "/sparql?query=ASK%7B%7D", timeout=10)
                        results.append((began, reply.status_code, reply.text))
                    except requests.RequestException as error:
                        results.append((began, 0, repr(error)))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(1)
        killed_at = time.monotonic()
        backs[1].kill()
        wait_for(lambda: balancer.backend_states()["front2"].startswith("DOWN"))
        down_at = time.monotonic()
        for thread in clients:
            thread.join(30)
        assert [r for r in results if r[1] != 200] == []
        assert {r[2] for r in results if r[0] < killed_at} == {"front1", "front2", "front3"}
        assert {r[2] for r in results if r[0] > down_at} == {"front1", "front3"}


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05) + 1):
        with contextlib.suppress(requests.RequestException, KeyError):
            if condition():
                return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s: {condition}")


def test_a_stores_json_dialect_is_put_right_outside_strings_only():
    """Virtuoso's "typed-literal" and "nodeID://" blank nodes are rewritten where they are
    JSON structure; the same text inside a literal's value is left alone."""
    from tdkg.stores.build_view import _standard_json
    value = r'he wrote \"type\": \"typed-literal\" and nodeID://x'
    body = ('{"head": {"vars": ["b", "n", "t"]}, "results": {"bindings": [{'
            '"b": {"type": "bnode", "value": "nodeID://b1"}, '
            '"n": { "type" : "typed-literal", "datatype": "http://www.w3.org/2001/XMLSchema#int",'
            ' "value": "3"}, '
            f'"t": {{"type": "literal", "value": "{value}"}}}}]}}}}').encode()
    fixed = json.loads(_standard_json(body))
    row = fixed["results"]["bindings"][0]
    assert row["b"] == {"type": "bnode", "value": "b1"}
    assert row["n"]["type"] == "literal" and row["n"]["value"] == "3"
    assert row["t"]["value"] == json.loads(f'"{value}"')


def test_a_passed_through_answer_is_checked_and_still_capped():
    """What a query worker does with a store's JSON answer: passes it through when it is SPARQL
    results JSON of at most ``cap`` rows; hands a larger one back to be cut at the cap; and
    never passes on something that is not results JSON (a 503 naming the store)."""
    import pyoxigraph as ox

    from tdkg.stores.build_view import BuildView, JsonAnswer
    from tdkg.stores.errors import StoreUnavailable
    from tdkg.stores.sparql_store import QueryConnection
    view = BuildView(QueryConnection("http://127.0.0.1:9/sparql"), "b1")
    media = "application/sparql-results+json; charset=utf-8"
    rows = ",".join('{"x": {"type": "typed-literal", "datatype": '
                    f'"http://www.w3.org/2001/XMLSchema#integer", "value": "{i}"}}}}'
                    for i in range(3))
    body = f'{{"head": {{"vars": ["x"]}}, "results": {{"bindings": [{rows}]}}}}'.encode()
    passed = view.passed_through(media, body, 3)
    assert isinstance(passed, JsonAnswer) and (passed.kind, passed.count) == ("bindings", 3)
    assert [b["x"]["type"] for b in json.loads(passed.body)["results"]["bindings"]] == \
        ["literal"] * 3
    cut = view.passed_through(media, body, 2)
    assert isinstance(cut, ox.QuerySolutions) and len(list(cut)) == 3
    assert view.passed_through(media, b'{"head": {}, "boolean": false}', 2) == \
        JsonAnswer("boolean", b'{"head": {}, "boolean": false}', 1)
    for bad in (b'{"head": {"vars": []}, "results": {"bindings": [{"x": tru}]}}',
                b'{"head": {"vars": []}}', b'{"head": {}, "boolean": "yes"}', b"<html/>"):
        with pytest.raises(StoreUnavailable, match="127.0.0.1:9"):
            view.passed_through(media, bad, 10)
