"""A runner for the W3C SPARQL 1.1 Protocol tests (``sparql11/protocol/manifest.ttl``).

Each ``mf:ProtocolTest`` is a list of ``ht:Request`` (HTTP-in-RDF) with what the ``ht:resp`` must
be: ``mf:expectedStatus`` (status classes such as ``hts:StatusCode2xx``; any one of them will do),
``mf:expectedBoolean`` and ``mf:expectedFormat`` (``"boolean"``, ``"tabular"`` or ``"RDF"``: the
body must parse as such, by its Content-Type). Requests are sent as written: the ``/sparql/`` path
prefix is replaced by the endpoint's, the body is encoded as its ``cnt:characterEncoding`` says,
and no header is added except ``Authorization`` for updates (when a token is given). Before a test
the store is emptied (``CLEAR ALL``) and its ``ut:graphData`` is loaded with ``INSERT DATA`` into
the graph its ``rdfs:label`` names, so a test does not depend on the ones before it.

The update tests run ``CLEAR ALL`` and ``DROP ALL``: run them against a scratch store only.
"""
from __future__ import annotations

import dataclasses
import io
import os
import re
from pathlib import Path

import rdflib
import requests
from rdflib import Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS
from rdflib.query import Result

SUITE = Path(os.environ.get("TDKG_W3C_TESTS", "/work/shared/w3c-sparql11-tests")) / "sparql11"
PROTOCOL_MANIFEST = SUITE / "protocol" / "manifest.ttl"
SD_MANIFEST = SUITE / "service-description" / "manifest.ttl"

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
_STATUS = re.compile(r"StatusCode(\d)xx$|StatusCode(\d{3})$")
PATH_PREFIX = "/sparql/"

RESULT_PARSERS = {"application/sparql-results+json": "json", "application/json": "json",
                  "application/sparql-results+xml": "xml", "application/xml": "xml",
                  "text/xml": "xml", "text/csv": "csv", "text/tab-separated-values": "tsv"}
GRAPH_PARSERS = {"text/turtle": "turtle", "application/x-turtle": "turtle",
                 "application/n-triples": "nt", "text/plain": "nt", "application/rdf+xml": "xml",
                 "application/ld+json": "json-ld"}


@dataclasses.dataclass(frozen=True)
class Expected:
    statuses: tuple[str, ...]          # "2xx"-style classes or exact codes ("404")
    boolean: bool | None = None
    fmt: str | None = None             # "boolean", "tabular" or "RDF"

    def status_ok(self, status: int) -> bool:
        return any(s == str(status) or (s.endswith("xx") and s[0] == str(status)[0])
                   for s in self.statuses)


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str                          # as written in the manifest, starting with /sparql/
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    expected: Expected

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def is_update(self) -> bool:
        """True when the request carries a SPARQL Update (direct, form body or query string)."""
        mimetype = (self.header("content-type") or "").split(";")[0].strip().lower()
        if mimetype == "application/sparql-update":
            return True
        query = self.path.partition("?")[2]
        form = self.body.decode("utf-8", "replace") if self.body and not mimetype.startswith(
            "application/sparql-query") else ""
        return any(part.startswith("update=") for part in f"{query}&{form}".split("&"))


@dataclasses.dataclass(frozen=True)
class ProtocolTest:
    id: str                            # the local name of the test IRI (names are not unique)
    name: str
    graph_data: tuple[tuple[str, Path], ...]     # (graph name, N-Triples file)
    requests: tuple[HttpRequest, ...]


# --- reading the manifest ------------------------------------------------------------------

def _local_name(node: URIRef) -> str:
    return str(node).rpartition("#")[2] or str(node).rstrip("/").rpartition("/")[2]


def _expected(graph: rdflib.Graph, resp) -> Expected:
    statuses = []
    for status in graph.objects(resp, MF.expectedStatus):
        match = _STATUS.search(str(status))
        if match is None:
            raise ValueError(f"unknown status term {status}")
        statuses.append(f"{match.group(1)}xx" if match.group(1) else match.group(2))
    boolean = graph.value(resp, MF.expectedBoolean)
    fmt = graph.value(resp, MF.expectedFormat)
    return Expected(tuple(sorted(statuses)), None if boolean is None else bool(boolean.toPython()),
                    None if fmt is None else str(fmt))


def body_of(graph: rdflib.Graph, node) -> bytes | None:
    """The ``ht:body`` of a request or response node (``cnt:chars`` in its encoding)."""
    body = graph.value(node, HT.body)
    if body is None:
        return None
    encoding = str(graph.value(body, CNT.characterEncoding) or "UTF-8")
    return str(graph.value(body, CNT.chars)).encode(encoding)


def _request(graph: rdflib.Graph, node) -> HttpRequest:
    headers_list = graph.value(node, HT.headers)
    headers = tuple((str(graph.value(h, HT.fieldName)), str(graph.value(h, HT.fieldValue)))
                    for h in (Collection(graph, headers_list) if headers_list else []))
    return HttpRequest(str(graph.value(node, HT.methodName)), str(graph.value(node, HT.absolutePath)),
                       headers, body_of(graph, node), _expected(graph, graph.value(node, HT.resp)))


def load_protocol_tests(path: Path = PROTOCOL_MANIFEST) -> list[ProtocolTest]:
    """The manifest's tests in ``mf:entries`` order."""
    graph = rdflib.Graph().parse(path, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    tests = []
    for test in Collection(graph, graph.value(manifest, MF.entries)):
        data = tuple(sorted((str(graph.value(d, RDFS.label)),
                             Path(str(graph.value(d, UT.graph)).removeprefix("file://")))
                            for d in graph.objects(test, UT.graphData)))
        action = graph.value(test, MF.action)
        nodes = Collection(graph, graph.value(action, HT.requests))
        tests.append(ProtocolTest(_local_name(test), str(graph.value(test, MF.name)), data,
                                  tuple(_request(graph, n) for n in nodes)))
    return tests


def load_sd_tests(path: Path = SD_MANIFEST) -> dict[str, str]:
    """Local name → mf:name of the service-description tests (the manifest gives nothing else)."""
    graph = rdflib.Graph().parse(path, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    return {_local_name(t): str(graph.value(t, MF.name))
            for t in Collection(graph, graph.value(manifest, MF.entries))}


# --- talking to the endpoint ---------------------------------------------------------------

def send(endpoint: str, request: HttpRequest, token: str | None = None,
         extra_headers: dict[str, str] | None = None) -> requests.Response:
    """Send ``request`` to ``endpoint`` (a full URL such as http://127.0.0.1:8000/sparql)."""
    if not request.path.startswith(PATH_PREFIX):
        raise ValueError(f"path {request.path!r} does not start with {PATH_PREFIX}")
    rest = request.path[len(PATH_PREFIX):]
    url = endpoint + ("/" + rest if rest and not rest.startswith("?") else rest)
    # requests adds Accept, Accept-Encoding and User-Agent by default; None drops the first, so
    # that the server's own choice of format is what is tested.
    headers: dict[str, str | None] = {"Accept": None, **dict(request.headers)}
    if token and request.is_update:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra_headers or {})
    return requests.request(request.method, url, headers=headers, data=request.body,
                            timeout=60, allow_redirects=False)


def update(endpoint: str, text: str, token: str) -> None:
    response = requests.post(endpoint, data=text.encode("utf-8"), timeout=60,
                             headers={"Content-Type": "application/sparql-update",
                                      "Authorization": f"Bearer {token}"})
    if response.status_code // 100 != 2:
        raise RuntimeError(f"setting up the store failed: {response.status_code} {response.text}")


def prepare(endpoint: str, test: ProtocolTest, token: str) -> None:
    """Empty the store, then load the test's ``ut:graphData`` into the named graphs."""
    parts = ["CLEAR ALL"]
    base = PROTOCOL_MANIFEST.parent
    for name, file in test.graph_data:
        triples = (file if file.is_absolute() else base / file.name).read_text(encoding="utf-8")
        parts.append(f"INSERT DATA {{ GRAPH <{name}> {{\n{triples}\n}} }}")
    update(endpoint, " ;\n".join(parts), token)


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def check(request: HttpRequest, response: requests.Response) -> list[str]:
    """What is wrong with ``response`` for ``request``; empty when it is as expected."""
    expected = request.expected
    if not expected.status_ok(response.status_code):
        return [f"status {response.status_code}, expected {'/'.join(expected.statuses)}: "
                f"{response.text[:300]}"]
    if expected.fmt is None and expected.boolean is None:
        return []
    media = _media_type(response)
    if expected.fmt == "RDF":
        if media not in GRAPH_PARSERS:
            return [f"Content-Type {media!r} is not an RDF syntax"]
        try:
            rdflib.Graph().parse(data=response.content, format=GRAPH_PARSERS[media])
        except Exception as err:   # any parser failure is a test failure, reported as such
            return [f"the {media} body does not parse: {err}"]
        return []
    if media not in RESULT_PARSERS:
        return [f"Content-Type {media!r} is not a SPARQL results format"]
    if expected.fmt == "boolean" and RESULT_PARSERS[media] in ("csv", "tsv"):
        return [f"a boolean result cannot be {media}"]
    try:
        result = Result.parse(io.BytesIO(response.content), format=RESULT_PARSERS[media])
    except Exception as err:
        return [f"the {media} body does not parse as SPARQL results: {err}"]
    problems = []
    if expected.fmt == "boolean" and result.type != "ASK":
        problems.append(f"expected a boolean result, got {result.type}")
    if expected.fmt == "tabular" and result.type != "SELECT":
        problems.append(f"expected a tabular result, got {result.type}")
    if expected.boolean is not None and result.askAnswer is not expected.boolean:
        problems.append(f"expected boolean {expected.boolean}, got {result.askAnswer}")
    return problems


def run(endpoint: str, test: ProtocolTest, token: str) -> list[str]:
    """Run every request of ``test`` in order; the problems found, prefixed by request number."""
    prepare(endpoint, test, token)
    problems = []
    for number, request in enumerate(test.requests, 1):
        response = send(endpoint, request, token)
        problems += [f"request {number} ({request.method} {request.path[:60]}): {p}"
                     for p in check(request, response)]
    return problems
