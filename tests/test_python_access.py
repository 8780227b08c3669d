"""Python access (``tdkg.open()``): a read-only rdflib graph over the published store, through
oxrdflib, answering as the live server's /sparql does, beside that running server."""
from __future__ import annotations

import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import rdflib
from support import PROJECT
from tdkg.server import dataset

import tdkg
from tdkg import access
from tdkg import namespaces as ns

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { %s }"
DISTINCT = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { %s } }"
ALL = "?s ?p ?o"


def in_graph(name: str) -> str:
    return f"GRAPH <{name}> {{ ?s ?p ?o }}"


def served(live_server, query: str, **params: str) -> int:
    return int(live_server.select(ns.sparql_prefixes() + query, **params)[0]["n"])


def local(graph: rdflib.Graph, query: str) -> int:
    return int(next(iter(graph.query(query)))[0])


@pytest.fixture(scope="module")
def graph(built_state: Path, live_server):
    """Opened while the session's server runs over the same state folder."""
    with closing(tdkg.open(built_state)) as opened:
        yield opened


@pytest.fixture(scope="module")
def asserted_only(built_state: Path, live_server):
    with closing(tdkg.open(built_state, inference=False)) as opened:
        yield opened


def test_default_graph_is_the_endpoints(graph, live_server):
    """len() is the endpoint's default graph as a set of triples; COUNT(*) through
    graph.query is the endpoint's COUNT(*), and both are the sum of the three graphs."""
    assert len(graph) == served(live_server, DISTINCT % ALL)
    assert local(graph, COUNT % ALL) == served(live_server, COUNT % ALL)
    parts = sum(served(live_server, COUNT % in_graph(g)) for g in ns.FACT_GRAPHS)
    assert len(graph) == parts > 0


@pytest.mark.parametrize("name", ns.FACT_GRAPHS)
def test_named_graph(built_state: Path, live_server, name: str):
    with closing(tdkg.open(built_state, graph=name)) as one:
        assert len(one) == len(list(one)) == served(live_server, COUNT % in_graph(name))


QUERIES = [
    # classes by number of instances (inferred types included)
    "SELECT ?c (COUNT(?x) AS ?n) WHERE { ?x a ?c } GROUP BY ?c",
    # partners of Türkiye with their labels, the project's prefixes undeclared
    ("SELECT ?p ?l WHERE { ?f tdkg:firstPartner|tdkg:secondPartner tdi:turkiye ; "
     "tdkg:firstPartner|tdkg:secondPartner ?p . ?p rdfs:label ?l FILTER(?p != tdi:turkiye) }"),
    # a named graph through GRAPH
    f"SELECT ?s WHERE {{ GRAPH <{ns.GRAPH_ONTOLOGY}> {{ ?s a owl:Ontology }} }}",
]


@pytest.mark.parametrize("query", QUERIES)
def test_query_answers_match_the_endpoint(graph, live_server, query: str):
    rows = [{str(k): str(v) for k, v in row.asdict().items()} for row in graph.query(query)]
    want = live_server.select(ns.sparql_prefixes() + query)
    assert rows and sorted(map(sorted_items, rows)) == sorted(map(sorted_items, want))


def sorted_items(row: dict) -> list:
    return sorted(row.items())


def test_ask_and_construct(graph, live_server):
    ask = "ASK { tdi:turkiye a ?class }"
    assert graph.query(ask).askAnswer is live_server.ask(ns.sparql_prefixes() + ask) is True
    built = graph.query("CONSTRUCT { tdi:turkiye ?p ?o } WHERE { tdi:turkiye ?p ?o }").graph
    assert len(built) == served(live_server, COUNT % "tdi:turkiye ?p ?o")


def test_inference_false_leaves_out_the_inferred_graph(graph, asserted_only, live_server):
    inferred = served(live_server, COUNT % in_graph(ns.GRAPH_INFERRED))
    assert inferred > 0
    assert len(graph) - len(asserted_only) == inferred
    assert local(asserted_only, COUNT % ALL) == served(live_server, COUNT % ALL,
                                                       inference="false")
    sample = graph.query(f"SELECT ?s ?p ?o WHERE {{ {in_graph(ns.GRAPH_INFERRED)} }} LIMIT 20")
    for triple in sample:
        assert tuple(triple) in graph and tuple(triple) not in asserted_only
    # the inferred graph stays reachable by name, as on the endpoint
    assert local(asserted_only, COUNT % in_graph(ns.GRAPH_INFERRED)) == inferred


def test_default_graphs_are_the_servers():
    """tdkg.access and the server keep the default graph's list each; they must agree."""
    for inference in (True, False):
        assert access.default_graphs(inference) == dataset.default_graphs(inference)


def test_queries_run_on_oxigraph(graph):
    """TRIPLE() is Oxigraph's (RDF 1.2) and unknown to rdflib's own engine: the query only
    succeeds because graph.query hands it to Oxigraph."""
    query = "SELECT (COUNT(DISTINCT TRIPLE(?s, ?p, ?o)) AS ?n) WHERE { ?s ?p ?o }"
    assert local(graph, query) == len(graph)
    with pytest.raises(Exception, match="Expected"):
        graph.query(query, use_store_provided=False)


def test_project_prefixes_are_bound(graph):
    company = rdflib.URIRef(ns.TDKG + "Company")
    assert graph.qname(company) == "tdkg:Company"
    assert dict(graph.namespaces())["tdi"] == rdflib.URIRef(ns.ID)
    assert local(graph, "SELECT (COUNT(*) AS ?n) WHERE { ?x a tdkg:Company }") > 0


WRITES = {
    "add": lambda g, t: g.add(t),
    "addN": lambda g, t: g.addN([(*t, g)]),
    "remove": lambda g, t: g.remove((None, None, None)),
    "update": lambda g, t: g.update("INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }"),
    # rdflib runs this one itself (oxrdflib declines initBindings), then tries to add
    "update with bindings": lambda g, t: g.update(
        "INSERT { ?s <urn:x:b> <urn:x:c> } WHERE {}", initBindings={"s": t[0]}),
    "parse": lambda g, t: g.parse(data="<urn:x:a> <urn:x:b> <urn:x:c> .", format="nt"),
    "delete": lambda g, t: g.update("DELETE WHERE { ?s ?p ?o }"),
}


@pytest.mark.parametrize("write", WRITES)
def test_writes_are_refused(graph, live_server, write: str):
    before = len(graph)
    triple = (rdflib.URIRef("urn:x:a"), rdflib.URIRef("urn:x:b"), rdflib.URIRef("urn:x:c"))
    with pytest.raises(access.ReadOnlyError, match="read-only"):
        WRITES[write](graph, triple)
    assert len(graph) == before == served(live_server, DISTINCT % ALL)


def test_a_copy_can_be_changed(graph):
    """What the refusal suggests: copy into a graph of one's own."""
    mine = rdflib.Graph() + graph
    mine.add((rdflib.URIRef("urn:x:a"), rdflib.URIRef("urn:x:b"), rdflib.URIRef("urn:x:c")))
    assert len(mine) == len(graph) + 1


def test_beside_the_running_server(built_state: Path, live_server):
    """Opening, querying and closing the store leaves the server answering the same."""
    before = served(live_server, COUNT % ALL)
    for _ in range(3):
        with closing(tdkg.open(built_state)) as opened:
            assert local(opened, COUNT % ALL) == before
    assert served(live_server, COUNT % ALL) == before


def test_default_state_folder_is_the_servers(built_state: Path, monkeypatch, graph):
    monkeypatch.setenv("TDKG_STATE_DIR", str(built_state))
    with closing(tdkg.open()) as opened:
        assert len(opened) == len(graph)


def test_clear_errors(built_state: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="tdkg build"):
        tdkg.open(tmp_path)
    with pytest.raises(ValueError, match="no graph <urn:x:none>.*graph/asserted"):
        tdkg.open(built_state, graph="urn:x:none")
    opened = tdkg.open(built_state)
    opened.close()
    with pytest.raises(ValueError, match="closed"):
        len(opened)


def test_import_stays_light():
    """`import tdkg` (the command line, the server) does not pull in rdflib or oxrdflib."""
    code = ("import sys, tdkg; "
            "print(sorted({'rdflib', 'oxrdflib', 'pyoxigraph'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


AGREEMENTS_BY_YEAR = """SELECT ?year (COUNT(DISTINCT ?agreement) AS ?agreements)
WHERE { ?agreement a tdkg:Agreement ; tdkg:year ?year }
GROUP BY ?year ORDER BY ?year"""


def test_select_to_dicts(graph, asserted_only, live_server):
    """The README's notebook example: a SELECT as a list of dicts (what pandas.DataFrame takes),
    with Python values; without inference, as on the endpoint, no node is typed Agreement."""
    rows = [{k: v.toPython() for k, v in row.asdict().items()}
            for row in graph.query(AGREEMENTS_BY_YEAR)]
    want = live_server.select(ns.sparql_prefixes() + AGREEMENTS_BY_YEAR)
    assert rows and [{k: str(v) for k, v in row.items()} for row in rows] == want
    assert all(isinstance(row["year"], int) for row in rows)
    without = [dict(row.asdict()) for row in asserted_only.query(AGREEMENTS_BY_YEAR)]
    assert len(without) == len(live_server.select(ns.sparql_prefixes() + AGREEMENTS_BY_YEAR,
                                                  inference="false")) < len(rows)
