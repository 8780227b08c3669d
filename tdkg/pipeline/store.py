"""Last step of the build: write the graphs into a fresh Oxigraph store and publish it atomically.

Layout of the state folder::

    builds/<id>/store/      the Oxigraph (RocksDB) store of one build
    builds/<id>/build.json  what went in: source digest, triple counts, timings
    builds/<id>/published   when the build was first published
    current -> builds/<id>  symlink, replaced in one rename when a build succeeds
    history.jsonl           one line per publication or rollback: time, build, the one before
    drafts/<id>/            a build that is never published (``tdkg diff``, ``build --dry-run``)

A build is written into its own new folder and only then published, so a failed build never
touches the store that is being served. The server follows ``current`` and reopens on change.
Builds of one state folder are serialised by a lock (``.build.lock``): a second build fails at
once with a message naming the one that runs. A folder left by a killed build (it has no
``build.json``) is removed by the next build and never counts among the kept builds. Drafts live
apart from ``builds/``, so they are never listed, kept, pruned or published; a draft whose
process has gone is removed by the next build.

History: publishing keeps the newest ``keep_builds`` published builds and the one served, and
removes older ones; :mod:`.history` lists them and rolls back (``tdkg builds``, ``tdkg rollback``)
with the same switch of ``current``.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import itertools
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from .errors import BuildError
from .ntriples import split_blank_lines

KEEP_BUILDS = 5      # the default of the keep_builds setting
#: how a build lays out its graphs (``stats.layout`` in build.json). 2: the ontology, asserted
#: and inferred graphs are named graphs, and the store's own default graph holds their union,
#: written once at build time, so that a query of TDKG's default graph reads one real graph
#: instead of merging three on every match. Builds without the mark (made before) keep the
#: union only as named graphs; the server still serves them (see server/dataset.py).
LAYOUT = 2


def default_graphs(inference: bool, layout: int = LAYOUT) -> list[str]:
    """The graphs whose union is TDKG's default graph in a build of ``layout`` ("" is the store's
    own default graph): since layout 2 that graph alone (ontology + asserted + inferred), or the
    ontology and asserted graphs without inference. Before, the named graphs only."""
    from ..namespaces import GRAPH_ASSERTED, GRAPH_INFERRED, GRAPH_ONTOLOGY
    if layout >= LAYOUT:
        return [""] if inference else [GRAPH_ONTOLOGY, GRAPH_ASSERTED]
    graphs = ["", GRAPH_ONTOLOGY, GRAPH_ASSERTED]
    return graphs + [GRAPH_INFERRED] if inference else graphs


def layout_of(info: dict) -> int:
    """The graph layout of a build, from its build.json (no mark: layout 1)."""
    return int(info.get("stats", {}).get("layout", 1))


#: triples handed to the bulk loader at a time (as two quads each)
BULK_BATCH = 100_000
PUBLISHED = "published"     # in a build folder: when it was first published
HISTORY = "history.jsonl"   # in the state folder: one line per publication or rollback
DRAFTS = "drafts"


@contextlib.contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """Hold the state folder's build lock, or raise :class:`BuildError` naming its holder. The
    lock is the OS's (``flock``): it goes with the process, so a killed build never leaves it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BuildError(f"another build is running in {root} ({holder}); wait for it to "
                             "finish and build again") from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clean_unfinished(root: Path) -> None:
    """Remove build folders without ``build.json``: left by a build that was killed. Call it
    only while holding :func:`exclusive`, so that no running build's folder is taken."""
    builds = root / "builds"
    if not builds.is_dir():
        return
    recorded = (root / HISTORY).exists()
    for path in builds.iterdir():
        if path.is_dir() and not (path / "build.json").is_file():
            shutil.rmtree(path, ignore_errors=True)
        elif (recorded and path.is_dir() and published_at(path) is None
              and not _owner_alive(path) and not _is_current(root, path)):
            # complete but never published, by a process that has gone: a build killed while
            # it published to a sparql store
            shutil.rmtree(path, ignore_errors=True)
    drafts = root / DRAFTS
    for path in drafts.iterdir() if drafts.is_dir() else ():
        if path.is_dir() and not _owner_alive(path):
            shutil.rmtree(path, ignore_errors=True)


def _is_current(root: Path, build_dir: Path) -> bool:
    live = current_build(root)
    return live is not None and live.name == build_dir.name


def _owner_alive(build_dir: Path) -> bool:
    """Whether the process that made a build folder (its id is ``<time>-<pid>-<n>``) still runs."""
    try:
        pid = int(build_dir.name.split("-")[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_build_dir(root: Path, draft: bool = False) -> Path:
    """A new empty build folder: in ``builds/``, or in ``drafts/`` for a build that will not be
    published."""
    builds = root / (DRAFTS if draft else "builds")
    builds.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = builds / f"{stamp}-{os.getpid()}-{time.monotonic_ns() % 1_000_000:06d}"
    path.mkdir()
    return path


#: in a build folder while it is built: each graph as N-Triples, which the downloads are made
#: from; removed at the end of the build
SCANS = ".scans"
SCAN_INDEX = "graphs.json"


class NTriplesBatches:
    """A graph handed to :meth:`StoreWriter.add` already as N-Triples text, in batches of whole
    lines with no triple twice: what it would make of the triples itself."""

    def __init__(self, batches: Iterable[bytes]):
        self.batches = batches


class StoreWriter:
    """The store of a build being written, graph by graph, then finished once: each graph in
    its named graph, and every triple of them, once, in the store's default graph (see
    :data:`LAYOUT`).

    Each graph is written as N-Triples (Oxigraph's serializer: under a second per million
    triples; or given so, see :class:`NTriplesBatches`, as the build gives the inferred graph)
    in batches of :data:`BULK_BATCH`, and each batch goes into the store through
    Oxigraph's bulk loader, twice (its graph, the default graph): parsing the text in Rust
    costs half the time of making two Python quads of every triple. The loader gives every blank
    node of its text a new name, on each call, so one blank node would become several and no
    longer match the explanations' record of it: the lines with blank nodes go in as quads made
    in Python instead, which keep their names. The files (``build_dir/.scans``) are what
    :mod:`.downloads` makes the dumps from; it would otherwise scan the store for them.

    The loader lets go of Python's lock while it works, so a graph can be added on a thread
    while the caller goes on (the build loads the ontology and the asserted facts while it
    reasons); calls must not overlap, and :meth:`finish` comes after the last."""

    def __init__(self, build_dir: Path):
        self.scans = build_dir / SCANS
        self.scans.mkdir(exist_ok=True)
        self.store = ox.Store(str(build_dir / "store"))
        self.index: dict[str, str] = {}

    def add_all(self, graphs: dict[str, Iterable[ox.Triple] | NTriplesBatches]) -> None:
        for name, triples in graphs.items():
            self.add(name, triples)

    def add(self, name: str, triples: Iterable[ox.Triple] | NTriplesBatches) -> None:
        store, default = self.store, ox.DefaultGraph()
        path = self.scans / f"{len(self.index)}.nt"
        self.index[name] = path.name
        graph = ox.NamedNode(name)
        texts = triples.batches if isinstance(triples, NTriplesBatches) else _serialized(triples)
        with path.open("wb") as scan:
            for text in texts:
                scan.write(text)
                blank, plain = split_blank_lines(text)
                if plain:
                    for target in (graph, default):
                        store.bulk_load(plain, ox.RdfFormat.N_TRIPLES, to_graph=target,
                                        lenient=True)   # Oxigraph's own text of terms
                if blank:
                    store.bulk_extend([quad for q in ox.parse(blank, ox.RdfFormat.N_TRIPLES)
                                       for quad in (ox.Quad(q.subject, q.predicate, q.object,
                                                            graph),
                                                    ox.Quad(q.subject, q.predicate, q.object,
                                                            default))])

    def finish(self) -> dict:
        """Record the scans, flush and compact the store, close it; per-graph and dataset
        statistics."""
        (self.scans / SCAN_INDEX).write_text(json.dumps(self.index) + "\n")
        store = self.store
        store.flush()
        stats = {"layout": LAYOUT, "graphs": {name: count_triples(store, name)
                                              for name in self.index},
                 **dataset_stats(store)}
        store.optimize()
        del store
        self.close()
        return stats

    def close(self) -> None:
        """Shut the store (again: nothing happens). A build that fails must, before its folder
        is removed: an open store writes its own files into the folder while it is removed,
        and the folder stays."""
        self.__dict__.pop("store", None)


def _serialized(triples: Iterable[ox.Triple]) -> Iterator[bytes]:
    """``triples`` as N-Triples text, :data:`BULK_BATCH` lines a time: a loader call holds all
    it is given until it has written it (at 1M triples, 6.9M quads in one call took the
    build's peak from 1.8 to 3.6 GiB)."""
    if isinstance(triples, list):
        # the sources may state a triple twice (in two files): the store keeps it once, and
        # so must the files the dumps and their counts are made from
        triples = list(dict.fromkeys(triples))
    triples = iter(triples)
    while batch := list(itertools.islice(triples, BULK_BATCH)):
        yield ox.serialize(batch, format=ox.RdfFormat.N_TRIPLES)


def scan_files(build_dir: Path) -> dict[str, Path] | None:
    """Graph IRI → its N-Triples file, while the build that wrote them runs (else None)."""
    try:
        index = json.loads((build_dir / SCANS / SCAN_INDEX).read_text())
    except (OSError, ValueError):
        return None
    return {name: build_dir / SCANS / file for name, file in index.items()}


def drop_scans(build_dir: Path) -> None:
    shutil.rmtree(build_dir / SCANS, ignore_errors=True)


STATS_QUERY = """SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?s) AS ?subjects)
  (COUNT(DISTINCT ?p) AS ?properties) (COUNT(DISTINCT ?o) AS ?objects) WHERE { %s }"""


def dataset_stats(store: ox.Store) -> dict[str, int]:
    """VoID figures for the default graph (the union of the build's graphs), computed once per
    build."""
    row = next(iter(store.query(STATS_QUERY % "?s ?p ?o")))
    classes = next(iter(store.query("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?x a ?c }")))["n"]
    figures = {k: int(row[k].value) for k in ("triples", "subjects", "properties", "objects")}
    return {**figures, "classes": int(classes.value)}


def count_triples(store: ox.Store, graph: str) -> int:
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return int(next(iter(rows))["n"].value)


def write_info(build_dir: Path, info: dict) -> None:
    (build_dir / "build.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def read_info(build_dir: Path) -> dict:
    return json.loads((build_dir / "build.json").read_text())


def publish(root: Path, build_dir: Path, keep: int = KEEP_BUILDS, action: str = "publish",
            **note: object) -> None:
    """Point ``current`` at ``build_dir`` with one atomic rename, record the publication (the
    build's ``published`` mark, a line of ``history.jsonl``), then drop old builds. A rollback
    is the same switch with ``action="rollback"``. Call it holding :func:`exclusive`."""
    adopt_unrecorded(root, besides=build_dir)
    previous = current_build(root)
    point_current(root, build_dir)
    when = now()
    mark_published(build_dir, when)
    record(root, {"time": when, "action": action, "build": build_dir.name,
                  "previous": previous.name if previous is not None else None,
                  "digest": read_info(build_dir).get("digest"), **note})
    prune(root, keep)


def point_current(root: Path, build_dir: Path) -> None:
    """Point ``current`` at ``build_dir`` with one atomic rename."""
    tmp = root / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(build_dir, root), tmp)
    os.replace(tmp, root / "current")


def current_build(root: Path) -> Path | None:
    link = root / "current"
    if not link.is_symlink():
        return None
    target = (root / os.readlink(link)).resolve()
    return target if (target / "build.json").is_file() else None


# --- build history: which builds were published, and when ---------------------------------------

def now() -> str:
    """UTC with microseconds, so that publications of one second keep their order as text."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mark_published(build_dir: Path, when: str) -> None:
    """Note in the build's folder when it was first published (a rollback keeps the first)."""
    mark = build_dir / PUBLISHED
    if not mark.is_file():
        mark.write_text(when + "\n")


def published_at(build_dir: Path) -> str | None:
    """When the build was first published, or None (never, as far as the folder says)."""
    try:
        return (build_dir / PUBLISHED).read_text().strip() or None
    except OSError:
        return None


def record(root: Path, event: dict) -> None:
    with open(root / HISTORY, "a", encoding="utf-8") as log:
        log.write(json.dumps(event, sort_keys=True) + "\n")


def read_history(root: Path) -> list[dict]:
    """The publications and rollbacks of the state folder, oldest first (unreadable lines, as a
    line cut short by a full disk, are passed over)."""
    try:
        lines = (root / HISTORY).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("build"), str):
            events.append(event)
    return events


def complete_builds(root: Path) -> list[Path]:
    builds = root / "builds"
    if not builds.is_dir():
        return []
    return [p for p in builds.iterdir() if (p / "build.json").is_file()]


def unrecorded(root: Path) -> list[Path]:
    """Builds published before publications were recorded: in a state folder without
    ``history.jsonl``, every complete build not newer than the one served (before this record
    existed, each complete build had been published)."""
    if (root / HISTORY).exists():
        return []
    live = current_build(root)
    limit = created_at(live) if live is not None else None
    return sorted((p for p in complete_builds(root)
                   if published_at(p) is None and (limit is None or created_at(p) <= limit)),
                  key=created_at)


def adopt_unrecorded(root: Path, besides: Path | None = None) -> None:
    """Mark and record the builds of :func:`unrecorded` (but ``besides``, the build being
    published) as published when they were made."""
    for build_dir in unrecorded(root):
        if besides is not None and build_dir.name == besides.name:
            continue
        when = created_at(build_dir)
        mark_published(build_dir, when)
        record(root, {"time": when, "action": "adopt", "build": build_dir.name, "previous": None,
                      "digest": read_info(build_dir).get("digest")})


def created_at(build_dir: Path) -> str:
    """When a build was made: ``build.json``'s ``created``, else the time its id starts with."""
    try:
        created = read_info(build_dir).get("created")
    except (OSError, ValueError):
        created = None
    if isinstance(created, str) and created:
        return created
    stamp = build_dir.name.split("-", 1)[0]
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"


def published_builds(root: Path) -> list[Path]:
    """Complete builds that were published at some point, in the order of their first
    publication (oldest first). A build being made has no mark yet, so it is never among them."""
    legacy = {p.name: created_at(p) for p in unrecorded(root)}
    found = []
    for build_dir in complete_builds(root):
        when = published_at(build_dir) or legacy.get(build_dir.name)
        if when is not None:
            found.append((when, build_dir.name, build_dir))
    return [build_dir for _, _, build_dir in sorted(found)]


def prune(root: Path, keep: int = KEEP_BUILDS) -> None:
    """Keep the newest ``keep`` published builds and the one served; remove the other published
    builds. A build that was never published (one being made) is left alone."""
    adopt_unrecorded(root)
    live = current_build(root)
    published = published_builds(root)
    for old in published[:-keep] if keep > 0 else published:
        if live is None or old.name != live.name:
            shutil.rmtree(old, ignore_errors=True)


def discard(build_dir: Path) -> None:
    shutil.rmtree(build_dir, ignore_errors=True)
