"""The SPARQL 1.1 Graph Store HTTP Protocol at /rdf-graph-store (server/graph_store.py).

Read side on the read-only live server: every RDF format holds the whole graph (as many triples
as SPARQL counts), HEAD, 404, 400, 406, ``inference=false``, and writes refused (403). Write side
and the W3C tests (manifest-indirect.ttl and manifest-direct.ttl, run in order) on an
update-enabled server over a scratch copy of the build.
"""
from __future__ import annotations

import dataclasses
import secrets
import shutil
from pathlib import Path

import pytest
import rdflib
import requests
import w3c_graph_store as w3c
from rdflib.compare import isomorphic
from support import Server

from tdkg import namespaces as ns

PATH = "/rdf-graph-store"
# (media type, format= keyword, rdflib parser)
FORMATS = [("text/turtle", "turtle", "turtle"), ("application/n-triples", "nt", "nt"),
           ("application/ld+json", "jsonld", "json-ld"), ("application/rdf+xml", "rdfxml", "xml")]
DISTINCT_DEFAULT = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }"
# The W3C data sits in ../shared beside the project; without it these tests must fail, not skip.
W3C_TESTS = [t for manifest in w3c.MANIFESTS for t in w3c.load_tests(manifest)]
#: W3C tests this server does not pass, with the cause: none
EXPECTED_FAILURES: dict[str, str] = {}


def _count(server: Server, query: str, **params: str) -> int:
    return int(server.select(query, **params)[0]["n"])


def _in_graph(server: Server, graph: str) -> int:
    return _count(server, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")


def _get(server: Server, accept: str | None = None, method: str = "GET", path: str = PATH,
         **params: str) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.request(method, server.url + path, params=params, headers=headers,
                            timeout=60)


def _graph(response: requests.Response, parser: str = "turtle") -> rdflib.Graph:
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.content, format=parser)


# --- read side, on the read-only server ---------------------------------------------------------

@pytest.mark.parametrize("media,keyword,parser", FORMATS, ids=[f[1] for f in FORMATS])
def test_the_default_graph_in_every_format(live_server, media, keyword, parser):
    """The default graph (ontology + asserted + inferred) comes whole, in each RDF syntax, by
    Accept and by format=; as many triples as SPARQL counts over the default dataset."""
    expected = _count(live_server, DISTINCT_DEFAULT)
    by_accept = _get(live_server, media, default="")
    assert by_accept.headers["Content-Type"].split(";")[0] == media
    assert len(_graph(by_accept, parser)) == expected > 1000
    by_keyword = _get(live_server, "text/html", default="", format=keyword)
    assert by_keyword.headers["Content-Type"] == by_accept.headers["Content-Type"]
    assert by_keyword.content == by_accept.content


@pytest.mark.parametrize("graph", ns.FACT_GRAPHS)
def test_each_named_graph(live_server, graph):
    response = _get(live_server, "text/turtle; charset=utf-8", graph=graph)
    assert response.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert len(_graph(response)) == _in_graph(live_server, graph) > 0


def test_inference_false_leaves_out_exactly_the_inferred_graph(live_server):
    inferred = _in_graph(live_server, ns.GRAPH_INFERRED)
    with_inference = len(_graph(_get(live_server, "application/n-triples", default=""), "nt"))
    without = len(_graph(_get(live_server, "application/n-triples", default="",
                              inference="false"), "nt"))
    assert with_inference - without == inferred > 0
    assert without == _count(live_server, DISTINCT_DEFAULT, inference="false")
    assert _get(live_server, default="", inference="perhaps").status_code == 400


@pytest.mark.parametrize("params", [{"default": ""}, {"graph": ns.GRAPH_ASSERTED}])
def test_head_has_the_headers_of_get_and_no_body(live_server, params):
    got = _get(live_server, "application/rdf+xml", **params)
    head = _get(live_server, "application/rdf+xml", method="HEAD", **params)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    for name in ("Content-Type", "Content-Length", "Vary"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["Content-Length"]) == len(got.content)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_an_unknown_graph_is_404(live_server, method):
    response = _get(live_server, method=method, graph="https://w3id.org/tdkg/graph/nothing")
    assert response.status_code == 404
    if method == "GET":
        assert response.json()["error"]["type"] == "not-found"
    direct = _get(live_server, method=method, path=PATH + "/nothing/here")
    assert direct.status_code == 404


@pytest.mark.parametrize("query,needle", [
    ("", "?graph=<IRI> or ?default"),
    (f"graph={ns.GRAPH_ASSERTED}&default", "not both"),
    (f"graph={ns.GRAPH_ASSERTED}&graph={ns.GRAPH_INFERRED}", "exactly one"),
    ("graph=asserted", "absolute IRI"),
    ("graph=http://a%20b/", "absolute IRI"),
    ("graph=%FF", "UTF-8"),
], ids=["neither", "both", "two-graphs", "relative", "bad-iri", "not-utf8"])
def test_bad_requests_are_400(live_server, query, needle):
    response = requests.get(f"{live_server.url}{PATH}?{query}", timeout=30)
    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]


def test_a_direct_name_takes_no_graph_parameter(live_server):
    response = _get(live_server, path=PATH + "/x", default="")
    assert response.status_code == 400


def test_nothing_acceptable_is_406(live_server):
    response = _get(live_server, "application/sparql-results+json", default="")
    assert response.status_code == 406
    assert "text/turtle" in response.json()["error"]["message"]


def test_cors_lets_any_origin_read(live_server):
    response = requests.get(live_server.url + PATH, params={"graph": ns.GRAPH_ONTOLOGY},
                            headers={"Origin": "https://example.org"}, timeout=30)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method,params", [
    ("PUT", {"graph": ns.GRAPH_ASSERTED}), ("POST", {"graph": "https://example.org/new"}),
    ("POST", {}), ("PUT", {"default": ""}), ("DELETE", {"graph": ns.GRAPH_ASSERTED}),
    ("DELETE", {"default": ""})])
def test_the_read_only_server_refuses_writes(live_server, method, params):
    before = _count(live_server, DISTINCT_DEFAULT)
    for headers in ({}, {"Authorization": "Bearer guessed"}):
        response = requests.request(method, live_server.url + PATH, params=params, timeout=30,
                                    data=b"<http://a/> <http://b/> <http://c/> .",
                                    headers={"Content-Type": "text/turtle", **headers})
        assert response.status_code == 403, response.text
        assert "read-only" in response.json()["error"]["message"]
    assert _get(live_server, graph=ns.GRAPH_ASSERTED).status_code == 200
    assert _count(live_server, DISTINCT_DEFAULT) == before


# --- write side, on a scratch store ---------------------------------------------------------------

@pytest.fixture(scope="module")
def writable(built_state: Path, tmp_path_factory: pytest.TempPathFactory):
    """(server, token): an update-enabled `tdkg serve` over a copy of the build."""
    copy = tmp_path_factory.mktemp("gsp") / "var"
    shutil.copytree(built_state, copy, symlinks=True)
    token = secrets.token_urlsafe(16)
    server = Server(copy, env={"TDKG_UPDATE_TOKEN": token})
    yield server, token
    server.stop()


def _send(writable, method: str, body: bytes | None = None, media: str | None = "text/turtle",
          **params: str) -> requests.Response:
    server, token = writable
    headers = {"Authorization": f"Bearer {token}"}
    if media:
        headers["Content-Type"] = media
    return requests.request(method, server.url + PATH, params=params, data=body,
                            headers=headers, timeout=60)


GRAPH = "https://example.org/graph/people"
ALICE = b"""@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<https://example.org/alice> a foaf:Person ; foaf:name "Alice" ; foaf:knows [ foaf:name "Bob" ] .
"""
N_ALICE = len(rdflib.Graph().parse(data=ALICE, format="turtle"))


def _fetch(writable, **params: str) -> rdflib.Graph:
    server, _ = writable
    return _graph(_get(server, "application/n-triples", **params), "nt")


def test_writes_need_the_token(writable):
    server, token = writable
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        response = requests.put(server.url + PATH, params={"graph": GRAPH}, data=ALICE,
                                headers={"Content-Type": "text/turtle", **headers}, timeout=30)
        assert response.status_code == 403
        assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_put_post_delete_and_their_statuses(writable):
    server, _ = writable
    _send(writable, "DELETE", graph=GRAPH)
    assert _send(writable, "PUT", ALICE, graph=GRAPH).status_code == 201
    assert isomorphic(_fetch(writable, graph=GRAPH), rdflib.Graph().parse(data=ALICE))
    assert _send(writable, "PUT", ALICE, graph=GRAPH).status_code == 204
    assert len(_fetch(writable, graph=GRAPH)) == N_ALICE            # replaced, not added
    more = b'<https://example.org/alice> <http://xmlns.com/foaf/0.1/nick> "Al" .'
    assert _send(writable, "POST", more, "application/n-triples", graph=GRAPH).status_code == 204
    assert len(_fetch(writable, graph=GRAPH)) == N_ALICE + 1        # merged
    assert _in_graph(server, GRAPH) == N_ALICE + 1
    deleted = _send(writable, "DELETE", graph=GRAPH)
    assert deleted.status_code == 204 and "Content-Type" not in deleted.headers
    assert _send(writable, "DELETE", graph=GRAPH).status_code == 404
    assert _get(server, graph=GRAPH).status_code == 404


def test_post_to_the_store_makes_a_new_graph(writable):
    server, _ = writable
    response = _send(writable, "POST", ALICE)
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.startswith(server.url + PATH + "/")
    by_name = _fetch(writable, graph=location)
    by_url = rdflib.Graph().parse(data=requests.get(location, timeout=30).content)
    assert len(by_name) == len(by_url) == N_ALICE
    assert _send(writable, "DELETE", graph=location).status_code == 204


@pytest.mark.parametrize("media,parser", [
    ("application/n-triples", "nt"), ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld"), ("text/turtle; charset=utf-8", "turtle")])
def test_each_body_syntax(writable, media, parser):
    source = rdflib.Graph().parse(data=ALICE, format="turtle")
    body = source.serialize(format=parser).encode()
    graph = GRAPH + "/" + parser
    assert _send(writable, "PUT", body, media, graph=graph).status_code in (201, 204)
    assert isomorphic(_fetch(writable, graph=graph), source)


def test_a_multipart_post_merges_every_part(writable):
    graph = GRAPH + "/multipart"
    _send(writable, "DELETE", graph=graph)
    body = (b"--xyz\r\nContent-Type: text/turtle\r\n\r\n" + ALICE + b"\r\n"
            b"--xyz\r\nContent-Type: application/n-triples\r\n\r\n"
            b'<https://example.org/carol> <http://xmlns.com/foaf/0.1/name> "Carol" .\r\n'
            b"--xyz--\r\n")
    response = _send(writable, "POST", body, "multipart/form-data; boundary=xyz", graph=graph)
    assert response.status_code == 201, response.text
    assert len(_fetch(writable, graph=graph)) == N_ALICE + 1


@pytest.mark.parametrize("syntax,media,body,line", [
    ("Turtle", "text/turtle", b"@prefix : <http://x/> .\n:a :b :c .\n:d :e :f :g .\n", 3),
    ("N-Triples", "application/n-triples", b"<http://a/> <http://b/> <c> .", 1),
    ("RDF/XML", "application/rdf+xml", b"<rdf:RDF xmlns:rdf='x'><unclosed>", None),
    ("JSON-LD", "application/ld+json", b'{"@id": 3}', None)])
def test_a_malformed_body_is_400_and_changes_nothing(writable, syntax, media, body, line):
    graph = GRAPH + "/kept"
    _send(writable, "PUT", ALICE, graph=graph)
    before = _fetch(writable, graph=graph)
    for method in ("PUT", "POST"):
        response = _send(writable, method, body, media, graph=graph)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert f"not valid {syntax}" in error["message"]
        if line is not None:
            assert error["line"] == line and error["column"] >= 1
    assert isomorphic(_fetch(writable, graph=graph), before)
    parts = (b"--b\r\nContent-Type: text/turtle\r\n\r\n<http://a/> <http://b/> <http://c/> .\r\n"
             b"--b\r\nContent-Type: " + media.encode() + b"\r\n\r\n" + body + b"\r\n--b--\r\n")
    response = _send(writable, "POST", parts, "multipart/form-data; boundary=b", graph=graph)
    assert response.status_code == 400 and "(part 2)" in response.json()["error"]["message"]
    assert isomorphic(_fetch(writable, graph=graph), before)


@pytest.mark.parametrize("method,media", [
    ("PUT", "text/n3"), ("PUT", None), ("POST", "application/sparql-update"),
    ("PUT", "text/turtle; charset=latin-1"), ("PUT", "multipart/form-data; boundary=x"),
    ("POST", "multipart/form-data; boundary=b")])
def test_an_unknown_media_type_is_415(writable, method, media):
    body = (b"--b\r\n\r\n<http://a/> <http://b/> <http://c/> .\r\n--b--\r\n"
            if media and "boundary=b" in media else ALICE)
    response = _send(writable, method, body, media, graph=GRAPH + "/415")
    assert response.status_code == 415, response.text
    assert _get(writable[0], graph=GRAPH + "/415").status_code == 404


def test_a_body_over_max_body_is_413(writable):
    big = b"# " + b"x" * (1_048_576 + 10) + b"\n"
    assert _send(writable, "PUT", big, graph=GRAPH + "/big").status_code == 413


def test_a_write_is_seen_by_the_next_read(writable):
    """Reads are cached; a write bumps the store's generation, so no stale graph is served,
    neither here nor by /sparql."""
    server, _ = writable
    graph = GRAPH + "/fresh"
    _send(writable, "PUT", ALICE, graph=graph)
    assert len(_fetch(writable, graph=graph)) == N_ALICE
    assert _in_graph(server, graph) == N_ALICE
    _send(writable, "PUT", b"<http://a/> <http://b/> <http://c/> .", graph=graph)
    assert len(_fetch(writable, graph=graph)) == 1
    assert _in_graph(server, graph) == 1


def test_writes_to_the_default_graph_change_the_store_default_graph(writable):
    """The store's default graph is a graph of its own (the build writes the union of the fact
    graphs into it): PUT ?default replaces exactly it, DELETE empties it, and the named fact
    graphs, which ?default&inference=false reads, are left as they are."""
    server, _ = writable
    facts = {graph: _in_graph(server, graph) for graph in ns.FACT_GRAPHS}
    asserted_view = len(_fetch(writable, default="", inference="false"))
    assert len(_fetch(writable, default="")) > asserted_view
    assert _send(writable, "PUT", ALICE, default="").status_code == 204
    assert len(_fetch(writable, default="")) == N_ALICE
    assert len(_fetch(writable, default="", inference="false")) == asserted_view
    assert _send(writable, "DELETE", default="").status_code == 204
    assert len(_fetch(writable, default="")) == 0
    assert {graph: _in_graph(server, graph) for graph in ns.FACT_GRAPHS} == facts


# --- the W3C tests ----------------------------------------------------------------------------

def test_the_manifests_hold_the_graph_store_tests():
    assert [len(w3c.load_tests(m)) for m in w3c.MANIFESTS] == [9, 5]
    assert len({t.id for t in W3C_TESTS}) == len(W3C_TESTS)
    assert W3C_TESTS[-1].id == "head_non_existing_direct"          # defined, not listed
    assert all(t.requests and all(r.expected.statuses for r in t.requests) for t in W3C_TESTS)
    assert sum(r.method == "HEAD" for t in W3C_TESTS for r in t.requests) == 4


def test_the_harness_notices_a_wrong_answer(writable):
    server, token = writable
    test = next(t for t in W3C_TESTS if t.id == "put_get_repeat_indirect")
    get = test.requests[1]
    wrong = dataclasses.replace(get, expected=dataclasses.replace(
        get.expected, body=b"<http://a/> <http://b/> <http://c/> ."))
    problems = w3c.run(server.url, PATH, dataclasses.replace(
        test, requests=(test.requests[0], wrong)), token)
    assert problems and "not the expected one" in problems[0]


def test_the_w3c_graph_store_tests(writable, capsys):
    """Every test of both manifests, in order, each from an empty store (this empties the
    scratch store, so it runs last)."""
    server, token = writable
    failures = {}
    for test in W3C_TESTS:
        problems = w3c.run(server.url, PATH, test, token)
        if problems:
            failures[test.id] = "\n".join(problems)
    passed = len(W3C_TESTS) - len(failures)
    with capsys.disabled():
        print(f"\nW3C Graph Store Protocol tests: {passed}/{len(W3C_TESTS)} passed")
    assert set(failures) == set(EXPECTED_FAILURES), failures
