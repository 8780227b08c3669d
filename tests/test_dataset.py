"""The dataset the endpoint queries: a default graph that unions the store's graphs, the named
graphs reachable by name, and the inference switch."""
from __future__ import annotations

import json

import pyoxigraph as ox
import requests

from support import Server
from tdkg import namespaces as ns
from tdkg.pipeline.store import LAYOUT

COUNT_IN = "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"


def _count(server, query: str, **params) -> int:
    return int(server.select(query, **params)[0]["n"])


def test_named_graphs_are_queryable_by_name(live_server):
    rows = live_server.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    graphs = {r["g"] for r in rows}
    assert {ns.GRAPH_ONTOLOGY, ns.GRAPH_ASSERTED} <= graphs
    assert _count(live_server, COUNT_IN.format(g=ns.GRAPH_ASSERTED)) > 0


def test_default_graph_is_the_union_of_the_fact_graphs(live_server):
    total = _count(live_server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    parts = sum(_count(live_server, COUNT_IN.format(g=g)) for g in ns.FACT_GRAPHS)
    assert total == parts   # the graphs share no triple, so the union's size is their sum


def test_ontology_and_data_are_kept_apart(live_server):
    ontology_in_data = live_server.ask(
        f"ASK {{ GRAPH <{ns.GRAPH_ASSERTED}> {{ ?o a <http://www.w3.org/2002/07/owl#Ontology> }} }}")
    ontology_here = live_server.ask(
        f"ASK {{ GRAPH <{ns.GRAPH_ONTOLOGY}> {{ ?o a <http://www.w3.org/2002/07/owl#Ontology> }} }}")
    assert ontology_here and not ontology_in_data


def test_protocol_default_graph_uri_replaces_the_default_graph(live_server):
    only_ontology = _count(live_server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                           **{"default-graph-uri": ns.GRAPH_ONTOLOGY})
    assert only_ontology == _count(live_server, COUNT_IN.format(g=ns.GRAPH_ONTOLOGY))


def test_from_clause_in_the_query_is_honoured(live_server):
    query = f"SELECT (COUNT(*) AS ?n) FROM <{ns.GRAPH_ONTOLOGY}> WHERE {{ ?s ?p ?o }}"
    assert _count(live_server, query) == _count(live_server, COUNT_IN.format(g=ns.GRAPH_ONTOLOGY))


def test_inference_switch_leaves_the_inferred_graph_out(live_server):
    everything = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    inferred = _count(live_server, COUNT_IN.format(g=ns.GRAPH_INFERRED))
    with_inference = _count(live_server, everything)
    without = _count(live_server, everything, inference="false")
    assert with_inference - without == inferred


def test_inference_switch_rejects_nonsense(live_server):
    response = live_server.sparql("ASK {}", inference="maybe")
    assert response.status_code == 400


# --- the layout: the union is written once, into the store's own default graph ---------------

EVERYTHING = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def test_the_build_writes_the_union_into_the_store_default_graph(built_state):
    store = ox.Store.read_only(str(built_state / "current" / "store"))
    union = " UNION ".join(f"{{ GRAPH <{g}> {{ ?s ?p ?o }} }}" for g in ns.FACT_GRAPHS)
    merged = int(next(iter(store.query(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ {union} }} }}")))
        ["n"].value)
    own = int(next(iter(store.query(EVERYTHING, default_graph=[ox.DefaultGraph()])))["n"].value)
    assert own == merged > 0
    missing = store.query(f"ASK {{ {{ {union} }} FILTER NOT EXISTS {{ ?s ?p ?o }} }}",
                          default_graph=[ox.DefaultGraph()], named_graphs=[
                              ox.NamedNode(g) for g in ns.FACT_GRAPHS])
    assert not bool(missing)
    assert json.loads((built_state / "current" / "build.json").read_text())["stats"][
        "layout"] == LAYOUT


def test_a_build_of_the_earlier_layout_is_still_served(live_server, scratch_state):
    """A build made before the union was written (no layout mark, an empty store default graph)
    can still be served, e.g. after a rollback: the same answers as the current layout."""
    build = (scratch_state / "current").resolve()
    store = ox.Store(str(build / "store"))
    store.clear_graph(ox.DefaultGraph())
    store.flush()
    del store
    info = json.loads((build / "build.json").read_text())
    del info["stats"]["layout"]
    (build / "build.json").write_text(json.dumps(info))
    old = Server(scratch_state)
    try:
        for params in ({}, {"inference": "false"}):
            assert _count(old, EVERYTHING, **params) == _count(live_server, EVERYTHING, **params)
        for graph in ({"default": ""}, {"default": "", "inference": "false"}):
            sizes = []
            for server in (old, live_server):
                response = requests.get(server.url + "/rdf-graph-store", params=graph,
                                        headers={"Accept": "application/n-triples"}, timeout=30)
                assert response.status_code == 200
                sizes.append(len(response.text.strip().splitlines()))
            assert sizes[0] == sizes[1] > 0
        assert _count(old, EVERYTHING) > _count(old, EVERYTHING, inference="false")
    finally:
        old.stop()
