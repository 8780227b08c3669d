"""owlready2, the client's OWL library (it reads RDF/XML, not Turtle), on the live server: it
loads the full ontology + data from its download URL over HTTP, finds every individual the
graph holds, and runs HermiT on it.

An *individual* here is an IRI that a class assertion types: the subject of an ``rdf:type``
whose class is not one of OWL's, RDF's or RDFS's own (``owl:Class``, ``rdf:Property``, …), in
the ontology or the asserted graph — the two that ``tdkg-full.owl`` holds. Blank nodes (the
value nodes of amounts) are anonymous individuals and are not counted. The export declares
each individual ``owl:NamedIndividual``, which is what owlready2 lists them by.
"""
from __future__ import annotations

import time

import owlready2
import pytest
import requests

from tdkg import namespaces as ns
from tdkg.pipeline.owl_export import BUILT_IN, java_executable

FULL_OWL = "/downloads/tdkg-full.owl"
#: HermiT on the bundled data takes about 10 s; a much slower run means something changed
HERMIT_BUDGET_S = 60
BUILT_IN_FILTER = " && ".join(f'!STRSTARTS(STR(?c), "{space}")' for space in BUILT_IN)
TYPED = f"""SELECT DISTINCT ?x ?c WHERE {{
  VALUES ?g {{ <{ns.GRAPH_ONTOLOGY}> <{ns.GRAPH_ASSERTED}> }}
  GRAPH ?g {{ ?x a ?c }}
  FILTER(isIRI(?x) && isIRI(?c) && {BUILT_IN_FILTER})
}}"""


@pytest.fixture(scope="module")
def world(live_server):
    """A fresh owlready2 world with the full file loaded from the server's URL, as a client
    would: ``get_ontology(url).load()``, owlready2 fetching it itself."""
    world = owlready2.World()
    ontology = world.get_ontology(live_server.url + FULL_OWL).load()
    assert ontology.base_iri == ns.TDKG         # the file's own ontology IRI, not its URL
    yield world
    world.close()


def test_the_full_owl_file_is_a_listed_download(live_server):
    listing = requests.get(live_server.url + "/downloads/", timeout=30).json()
    entry = next(f for f in listing["files"] if f["name"] == "tdkg-full.owl")
    assert entry["media_type"] == "application/rdf+xml"
    assert entry["iri"] == ns.BASE + "downloads/tdkg-full.owl"
    assert set(entry["graphs"]) == {ns.GRAPH_ONTOLOGY, ns.GRAPH_ASSERTED}
    response = requests.get(live_server.url + FULL_OWL, timeout=30)
    assert response.headers["Content-Type"].split(";")[0] == "application/rdf+xml"


def test_owlready2_finds_every_individual_sparql_finds(world, live_server):
    rows = live_server.select(TYPED)
    expected = {row["x"] for row in rows}
    found = {individual.iri for individual in world.individuals()}
    print(f"\nindividuals: owlready2 {len(found)}, SPARQL {len(expected)}")
    assert len(expected) > 500
    assert found == expected


def test_owlready2_sees_each_individual_in_its_classes(world, live_server):
    """Every class assertion of the graph, as owlready2 reads it (``is_a`` of each individual)."""
    expected = {(row["x"], row["c"]) for row in live_server.select(TYPED)}
    found = {(individual.iri, kind.iri) for individual in world.individuals()
             for kind in individual.is_a if isinstance(kind, owlready2.ThingClass)}
    assert found == expected


@pytest.mark.slow
def test_hermit_finds_the_served_ontology_and_data_consistent(world):
    """owlready2's ``sync_reasoner`` (HermiT, on Debian's java) raises on an inconsistent
    ontology; no class may come out unsatisfiable either."""
    owlready2.JAVA_EXE = java_executable()
    started = time.monotonic()
    with world.get_ontology("http://example.org/tdkg-hermit-inferences#"):
        owlready2.sync_reasoner(world, infer_property_values=True, debug=0)
    elapsed = time.monotonic() - started
    print(f"\nHermiT: {elapsed:.1f} s")
    assert [c for c in world.inconsistent_classes() if c is not owlready2.Nothing] == []
    assert elapsed < HERMIT_BUDGET_S
