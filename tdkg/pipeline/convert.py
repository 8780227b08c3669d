"""Term conversion from pyoxigraph (the parser and the store) to rdflib (pyshacl, the OWL export).

Kept rather than oxrdflib's ``Oxigraph`` store, measured with ``bench/convert.py``: oxrdflib
makes the graphs faster (bulk load, 0.07 s against 0.17 s for the seed data), but every consumer
reads every triple, converting it on each read, so the build's share is slower with it (seed
data: 6.3 s against 5.9 s; 100k synthetic triples, without SHACL: 14.0 s against 11.3 s), and
an Oxigraph store keeps numbers in canonical form, so that the shapes would no longer see the
curated literals (``5.0`` becomes ``5``) and the OWL files would change. Handing pyshacl the
pyoxigraph store itself is slower still (106 s for the seed data).
"""
from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox
import rdflib


def to_rdflib_term(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def to_rdflib_graph(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for t in triples:
        graph.add((to_rdflib_term(t.subject), to_rdflib_term(t.predicate),
                   to_rdflib_term(t.object)))
    return graph


def to_ox_term(term: rdflib.term.Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """The inverse of :func:`to_rdflib_term`."""
    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return ox.BlankNode(str(term))
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype is not None:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))
