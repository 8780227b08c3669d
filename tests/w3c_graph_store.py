"""A runner for the W3C SPARQL 1.1 Graph Store HTTP Protocol tests
(``sparql11/graph-store-protocol/manifest-indirect.ttl`` and ``manifest-direct.ttl``).

Each ``mf:GraphStoreProtocolTest`` is one connection: a list of ``ht:Request`` (HTTP-in-RDF)
run in order, each with its ``ht:resp``: ``mf:expectedStatus`` (any one will do; ``hts:Created``
style names or ``hts:StatusCode2xx`` classes), ``mf:expectedLocation`` (the response's
``Location`` becomes a template variable, such as ``$LOCATION$``, in the later requests of the
test), and response ``ht:headers`` and ``ht:body``: each header must be there with that value
(media type parameters compared without spaces or case), and the body, parsed by its
Content-Type, must be isomorphic to the expected one. A HEAD answer must have no body.

Paths start with ``/gsp``, replaced by the server's graph store path. Requests are sent as
written, with no Accept unless the test gives one, and ``Authorization`` added to the writes.
Several tests expect ``201 Created`` for a graph an earlier test created (``person/1.ttl``), so
every test starts from an empty store (``DROP ALL`` through SPARQL Update): run this against a
scratch store only.
"""
from __future__ import annotations

import dataclasses
import http
import os
import re
from pathlib import Path

import rdflib
import requests
from rdflib import Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import RDF
from w3c_protocol import body_of

SUITE = Path(os.environ.get("TDKG_W3C_TESTS", "/work/shared/w3c-sparql11-tests")) / "sparql11"
FOLDER = SUITE / "graph-store-protocol"
MANIFESTS = (FOLDER / "manifest-indirect.ttl", FOLDER / "manifest-direct.ttl")

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
PATH_PREFIX = "/gsp"
WRITES = ("PUT", "POST", "DELETE")
PARSERS = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
           "application/ld+json": "json-ld"}


@dataclasses.dataclass(frozen=True)
class Expected:
    statuses: tuple[str, ...]                     # "201", or classes such as "2xx"
    location: str | None                          # template variable for the Location header
    headers: tuple[tuple[str, str], ...]
    body: bytes | None

    def status_ok(self, status: int) -> bool:
        return any(s == str(status) or (s.endswith("xx") and s[0] == str(status)[0])
                   for s in self.statuses)


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str                                     # as written, starting with /gsp
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    expected: Expected


@dataclasses.dataclass(frozen=True)
class GraphStoreTest:
    id: str
    name: str
    requires: tuple[str, ...]                     # local names of mf:requires
    requests: tuple[HttpRequest, ...]


# --- reading the manifests -------------------------------------------------------------------

def _local_name(node: URIRef) -> str:
    return str(node).rpartition("#")[2]


def status_code(term: URIRef) -> str:
    """``hts:NotFound`` → "404"; ``hts:StatusCode2xx`` → "2xx"."""
    name = _local_name(term)
    match = re.fullmatch(r"StatusCode(\d)xx|StatusCode(\d{3})", name)
    if match:
        return f"{match.group(1)}xx" if match.group(1) else match.group(2)
    return str(http.HTTPStatus[re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper()].value)


def _headers(graph: rdflib.Graph, node) -> tuple[tuple[str, str], ...]:
    listed = graph.value(node, HT.headers)
    return tuple((str(graph.value(h, HT.fieldName)), str(graph.value(h, HT.fieldValue)))
                 for h in (Collection(graph, listed) if listed is not None else []))


def _expected(graph: rdflib.Graph, resp) -> Expected:
    location = graph.value(resp, MF.expectedLocation)
    return Expected(tuple(sorted(status_code(s) for s in graph.objects(resp, MF.expectedStatus))),
                    None if location is None else str(location), _headers(graph, resp),
                    body_of(graph, resp))


def _request(graph: rdflib.Graph, node) -> HttpRequest:
    return HttpRequest(str(graph.value(node, HT.methodName)),
                       str(graph.value(node, HT.absolutePath)), _headers(graph, node),
                       body_of(graph, node), _expected(graph, graph.value(node, HT.resp)))


def load_tests(path: Path) -> list[GraphStoreTest]:
    """The manifest's tests in ``mf:entries`` order, then those it defines but does not list
    (manifest-direct.ttl leaves ``head_non_existing_direct`` out of its entries)."""
    graph = rdflib.Graph().parse(path, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    listed = list(Collection(graph, graph.value(manifest, MF.entries)))
    unlisted = sorted(set(graph.subjects(RDF.type, MF.GraphStoreProtocolTest)) - set(listed))
    tests = []
    for test in listed + unlisted:
        action = graph.value(test, MF.action)
        requires = tuple(sorted(_local_name(r) for r in graph.objects(test, MF.requires)))
        tests.append(GraphStoreTest(
            _local_name(test), str(graph.value(test, MF.name)), requires,
            tuple(_request(graph, n) for n in Collection(graph, graph.value(action, HT.requests)))))
    return tests


# --- talking to the server ---------------------------------------------------------------------

def _fill(text: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace(name, value)
    return text


def send(base: str, path: str, request: HttpRequest, variables: dict[str, str],
         token: str | None) -> requests.Response:
    """Send ``request`` with ``/gsp`` replaced by ``path`` under ``base`` (the server's URL)."""
    if not request.path.startswith(PATH_PREFIX):
        raise ValueError(f"path {request.path!r} does not start with {PATH_PREFIX}")
    url = base + path + _fill(request.path[len(PATH_PREFIX):], variables)
    headers: dict[str, str | None] = {"Accept": None, **dict(request.headers)}
    if token and request.method in WRITES:
        headers["Authorization"] = f"Bearer {token}"
    body = request.body
    if body is not None and variables:
        body = _fill(body.decode("utf-8"), variables).encode("utf-8")
    return requests.request(request.method, url, headers=headers, data=body, timeout=60,
                            allow_redirects=False)


def _normal(value: str) -> str:
    return ";".join(part.strip() for part in value.lower().split(";"))


def check(request: HttpRequest, response: requests.Response) -> list[str]:
    """What is wrong with ``response``; empty when it is as expected."""
    expected = request.expected
    if not expected.status_ok(response.status_code):
        return [(f"status {response.status_code}, expected {'/'.join(expected.statuses)}: "
                 f"{response.text[:300]}")]
    problems = []
    for name, value in expected.headers:
        got = response.headers.get(name)
        if got is None or _normal(got) != _normal(value):
            problems.append(f"header {name}: {got!r}, expected {value!r}")
    if expected.location is not None and not response.headers.get("Location"):
        problems.append("no Location header")
    if request.method == "HEAD" and response.content:
        problems.append(f"a HEAD answer with a {len(response.content)}-byte body")
    if expected.body is not None and not problems:
        problems += _compare_graphs(expected, response)
    return problems


def _compare_graphs(expected: Expected, response: requests.Response) -> list[str]:
    wanted = {k.lower(): v for k, v in expected.headers}.get("content-type", "text/turtle")
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media not in PARSERS:
        return [f"Content-Type {media!r} is not an RDF syntax"]
    try:
        got = rdflib.Graph().parse(data=response.content, format=PARSERS[media],
                                   publicID=response.url)
    except Exception as err:  # noqa: BLE001 -- any parser failure is a test failure
        return [f"the {media} body does not parse: {err}"]
    want = rdflib.Graph().parse(data=expected.body,
                                format=PARSERS[wanted.split(";")[0].strip().lower()])
    if not isomorphic(got, want):
        return [(f"the graph is not the expected one: got {len(got)} triples, expected "
                 f"{len(want)}:\n{got.serialize(format='nt')}")]
    return []


def reset(base: str, token: str) -> None:
    """Empty the store: every test is its own connection, starting from nothing."""
    response = requests.post(base + "/sparql", data=b"DROP ALL", timeout=60,
                             headers={"Content-Type": "application/sparql-update",
                                      "Authorization": f"Bearer {token}"})
    if response.status_code // 100 != 2:
        raise RuntimeError(f"emptying the store failed: {response.status_code} {response.text}")


def run(base: str, path: str, test: GraphStoreTest, token: str) -> list[str]:
    """Run every request of ``test`` in order on an empty store; the problems found, prefixed
    by request number."""
    reset(base, token)
    variables: dict[str, str] = {}
    problems = []
    for number, request in enumerate(test.requests, 1):
        response = send(base, path, request, variables, token)
        problems += [f"request {number} ({request.method} {request.path[:70]}): {p}"
                     for p in check(request, response)]
        if request.expected.location and response.headers.get("Location"):
            variables[request.expected.location] = response.headers["Location"]
    return problems
