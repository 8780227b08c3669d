"""The dataset the endpoint queries: a default graph that unions the store's graphs, the named
graphs reachable by name, and the inference switch."""
from __future__ import annotations

from tdkg import namespaces as ns

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
