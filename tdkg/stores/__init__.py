"""The two kinds of store TDKG serves from, behind one small interface.

``embedded`` (the default): each build is its own Oxigraph store on disk, in the build's folder
(:mod:`tdkg.pipeline.store`); publishing moves the state folder's ``current`` link.

``sparql``: any store that speaks SPARQL 1.1 Query, Update and the Graph Store Protocol, given by
URL (:mod:`.sparql_store`); a build loads its graphs under names that carry its id
(:mod:`.graphnames`), and publishing replaces one triple in the store, which every front end
reads. The build's folder (build.json, the explanations, downloads) is written to the builder's
state folder and loaded into the store too (:mod:`.build_files`), so a front end needs nothing
but the store: it fetches the folder of the build it serves from there.

What the service needs of a store, and nothing more:

- ``published()``: the id of the build being served (None before the first);
- ``publish(build)``: switch to a build in one step every front end sees;
- ``drop(build)``: remove a build that is no longer served;
- ``reachable()``: None, or why the store cannot be reached;
- queries with a deadline: run by the query workers, on the embedded store itself or on a
  :class:`.build_view.BuildView` of the remote one (the same pyoxigraph interface);
- loading a graph: :func:`load_build` for the remote kind; the embedded kind writes its store
  while it builds.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..namespaces import FACT_GRAPHS
from . import build_files
from .errors import StoreError, StoreIncomplete, StoreRefused, StoreUnavailable  # noqa: F401

KINDS = ("embedded", "sparql")


class EmbeddedStore:
    """The state folder's ``current`` link, seen through the same interface."""

    kind = "embedded"

    def __init__(self, root: Path):
        self.root = root
        self.name = str(root)

    def published(self, timeout: float | None = None) -> str | None:
        try:
            return Path(os.readlink(self.root / "current")).name
        except OSError:
            return None

    def publish(self, build: str) -> None:
        from ..pipeline import store
        store.publish(self.root, self.root / "builds" / build)

    def drop(self, build: str) -> None:
        from ..pipeline import store
        store.discard(self.root / "builds" / build)

    def reachable(self, timeout: float = 2.0) -> str | None:
        return None if self.root.is_dir() else f"no state folder at {self.root}"


def open_store(settings):
    """The settings' store: :class:`EmbeddedStore` or a :class:`.sparql_store.SparqlStore`."""
    if settings.store == "sparql":
        from .sparql_store import SparqlStore, endpoint_from
        return SparqlStore(endpoint_from(settings), timeout=settings.timeout)
    return EmbeddedStore(settings.store_root)


def _ntriples(store, graph) -> tuple[list[str], list[str]]:
    """A graph of a built embedded store as N-Triples lines: those without blank nodes, and
    those with (which must travel in one request: a blank node label means one node only
    within one document)."""
    import pyoxigraph as ox
    plain, blank = [], []
    for quad in store.quads_for_pattern(None, None, None, graph):
        line = f"{quad.subject} {quad.predicate} {quad.object} .\n"
        if isinstance(quad.subject, ox.BlankNode) or isinstance(quad.object, ox.BlankNode):
            blank.append(line)
        else:
            plain.append(line)
    return plain, blank


def load_build(remote, build_dir: Path, log=print) -> dict[str, int]:
    """Load the graphs of a built folder (its embedded store) into the remote store under the
    build's names, and then the folder's files; return the triples sent per graph. Nothing is
    published."""
    import pyoxigraph as ox
    local = ox.Store.read_only(str(build_dir / "store"))
    build = build_dir.name
    remote.begin(build)
    sent = {}
    for name in [""] + list(FACT_GRAPHS):
        graph = ox.DefaultGraph() if name == "" else ox.NamedNode(name)
        plain, blank = _ntriples(local, graph)
        sent[name or "default"] = (remote.load_graph(build, name, plain)
                                   + remote.load_graph(build, name, blank, chunk=len(blank)))
    sent[build_files.FILES] = build_files.load(remote, build_dir)
    log(f"loaded {build} into the SPARQL store at {remote.name}: {sent}")
    return sent


def publish_remote(remote, build_dir: Path, keep_previous: bool = True, log=print) -> None:
    """Load ``build_dir`` into the remote store, switch to it, then drop every other build but
    the one it replaced (which requests already under way may still be reading). A load that
    fails leaves the published build as it was, and its graphs are dropped."""
    build = build_dir.name
    before = remote.published()
    if build in remote.loaded():
        remote.drop(build)      # a load cut short, or a rollback to a dropped build's folder
    try:
        load_build(remote, build_dir, log)
    except BaseException:
        try:
            remote.drop(build)
        except StoreError:
            pass                # the store is gone: the next build drops what is left
        raise
    remote.publish(build)
    # the build is published now: a failure from here on must not undo it (or its folder)
    try:
        for old in remote.loaded():
            if old != build and not (keep_previous and old == before):
                remote.drop(old)
    except StoreError as err:
        log(f"published {build}; dropping older builds failed, the next build drops them: {err}")
