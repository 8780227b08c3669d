"""Python access to the published store: ``tdkg.open()`` gives an rdflib graph over it.

Beside the flow rather than in it: this module reads what ``tdkg build`` published (the
``current`` build of a state folder, see :mod:`tdkg.pipeline.store`) exactly as ``tdkg serve``
does, but in the caller's own process, so that an analyst can use rdflib, SPARQL and pandas
without a server. The graph is oxrdflib's ``Oxigraph`` store over a pyoxigraph store opened
read-only, so it runs beside a live server, and ``graph.query`` runs on Oxigraph (SPARQL 1.1),
not on rdflib's own engine.

Its default graph is the one the SPARQL endpoint answers from: the store's own default graph plus
the ontology, asserted and (unless ``inference=False``) inferred graphs; the named graphs stay
reachable with ``GRAPH``. Every write is refused with :class:`ReadOnlyError`.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import rdflib
from oxrdflib import OxigraphStore
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

from . import namespaces as ns
from .pipeline.store import current_build, default_graphs, layout_of, read_info
from .settings import load_settings


class ReadOnlyError(PermissionError):
    """A write was attempted on the published store, which only ``tdkg build`` changes."""

    def __init__(self, operation: str):
        super().__init__(f"{operation} refused: the graph from tdkg.open() is the published "
                         "store, read-only; change the sources and run `tdkg build`, or copy "
                         "what you need into a graph of your own (rdflib.Graph() + graph)")


def open(state_dir: str | Path | None = None, *, inference: bool = True,
         graph: str | None = None) -> rdflib.Graph:
    """A read-only rdflib graph over the published store of ``state_dir``.

    ``state_dir`` defaults to the folder ``tdkg serve`` uses (``TDKG_STATE_DIR``, else
    ``PROJECT_DIR/var``). The graph is TDKG's default graph (without the inferred triples when
    ``inference`` is false), or the named graph ``graph``. ``close()`` releases the store
    (``contextlib.closing`` for a ``with``); a build published later is seen by a new ``open()``.
    """
    root = Path(state_dir) if state_dir is not None else load_settings().store_root
    build = current_build(root)
    if build is None:
        raise FileNotFoundError(f"no published TDKG store in {root}: run `tdkg build` "
                                "(or give the state folder tdkg serve uses)")
    store = ox.Store.read_only(str(build / "store"))
    if graph is not None and ox.NamedNode(graph) not in set(store.named_graphs()):
        raise ValueError(f"the store has no graph <{graph}>; its graphs are "
                         + ", ".join(sorted(f"<{g.value}>" for g in store.named_graphs())))
    identifier = rdflib.URIRef(graph) if graph is not None else DATASET_DEFAULT_GRAPH_ID
    layout = layout_of(read_info(build))
    result = rdflib.Graph(PublishedStore(store, default_graphs(inference, layout)), identifier,
                          bind_namespaces="core")
    for prefix, iri in ns.PREFIXES.items():
        result.bind(prefix, iri, override=True, replace=True)
    return result


class DefaultGraphUnion:
    """A read-only pyoxigraph store seen through a default graph that is the union of
    ``graphs`` (RDF merge: a triple held by two of them is given once by
    :meth:`quads_for_pattern`, as in an rdflib graph; SPARQL gets the list, as the endpoint
    passes it). All else is the wrapped store's."""

    def __init__(self, store: ox.Store, graphs: list[str]):
        self._store = store
        self._graphs = [ox.NamedNode(g) if g else ox.DefaultGraph() for g in graphs]

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def query(self, query: str, *, default_graph=None, **options):
        if isinstance(default_graph, ox.DefaultGraph):
            default_graph = self._graphs
        return self._store.query(query, default_graph=default_graph, **options)

    def quads_for_pattern(self, s, p, o, graph_name=None) -> Iterator[ox.Quad]:
        if not isinstance(graph_name, ox.DefaultGraph):
            return self._store.quads_for_pattern(s, p, o, graph_name)
        return self._union(s, p, o)

    def _union(self, s, p, o) -> Iterator[ox.Quad]:
        """Each graph's matches, less the triples an earlier graph gave (a set of them: a
        lookup in the store per triple and graph costs more than the whole scan)."""
        seen: set[ox.Triple] = set()
        last = len(self._graphs) - 1
        for i, graph in enumerate(self._graphs):
            for quad in self._store.quads_for_pattern(s, p, o, graph):
                triple = quad.triple
                if triple not in seen:
                    if i < last:
                        seen.add(triple)
                    yield quad


class PublishedStore(OxigraphStore):
    """oxrdflib's store over :class:`DefaultGraphUnion`, refusing every write."""

    def __init__(self, store: ox.Store, graphs: list[str]):
        super().__init__(store=DefaultGraphUnion(store, graphs))   # type: ignore[arg-type]

    @property
    def _inner(self) -> ox.Store:
        if self._store is None:     # oxrdflib would quietly start an empty in-memory store
            raise ValueError("this TDKG graph is closed: call tdkg.open() again")
        return self._store

    def close(self, commit_pending_transaction: bool = False) -> None:
        self._store = None

    def open(self, configuration: str, create: bool = False) -> None:
        raise ReadOnlyError("opening another store")

    def add(self, triple, context, quoted=False) -> None:
        raise ReadOnlyError("adding a triple")

    def addN(self, quads) -> None:
        raise ReadOnlyError("adding triples")

    def remove(self, triple, context=None) -> None:
        raise ReadOnlyError("removing triples")

    def update(self, update, initNs, initBindings, queryGraph, **kwargs) -> None:
        raise ReadOnlyError("SPARQL Update")

    def add_graph(self, graph) -> None:
        raise ReadOnlyError("adding a graph")

    def remove_graph(self, graph) -> None:
        raise ReadOnlyError("removing a graph")

    def destroy(self, configuration: str) -> None:
        raise ReadOnlyError("destroying the store")
