"""Last step of the build: write the graphs into a fresh Oxigraph store and publish it atomically.

Layout of the state folder::

    builds/<id>/store/      the Oxigraph (RocksDB) store of one build
    builds/<id>/build.json  what went in: source digest, triple counts, timings
    current -> builds/<id>  symlink, replaced in one rename when a build succeeds
    drafts/<id>/            a build that is never published (``tdkg diff``, ``build --dry-run``)

A build is written into its own new folder and only then published, so a failed build never
touches the store that is being served. The server follows ``current`` and reopens on change.
Builds of one state folder are serialised by a lock (``.build.lock``): a second build fails at
once with a message naming the one that runs. A folder left by a killed build (it has no
``build.json``) is removed by the next build and never counts among the kept builds. Drafts live
apart from ``builds/``, so they are never listed, kept, pruned or published; a draft whose
process has gone is removed by the next build.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from .errors import BuildError

KEEP_BUILDS = 3
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
    for path in builds.iterdir():
        if path.is_dir() and not (path / "build.json").is_file():
            shutil.rmtree(path, ignore_errors=True)
    drafts = root / DRAFTS
    for path in drafts.iterdir() if drafts.is_dir() else ():
        if path.is_dir() and not _owner_alive(path):
            shutil.rmtree(path, ignore_errors=True)


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


def write_store(build_dir: Path, graphs: dict[str, Iterable[ox.Triple]]) -> dict:
    """Bulk-load each graph into its named graph; return per-graph and dataset statistics."""
    store = ox.Store(str(build_dir / "store"))
    for name, triples in graphs.items():
        graph = ox.NamedNode(name)
        store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    store.flush()
    stats = {"graphs": {name: count_triples(store, name) for name in graphs},
             **dataset_stats(store, list(graphs))}
    store.optimize()
    del store
    return stats


STATS_QUERY = """SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?s) AS ?subjects)
  (COUNT(DISTINCT ?p) AS ?properties) (COUNT(DISTINCT ?o) AS ?objects) WHERE { %s }"""


def dataset_stats(store: ox.Store, graphs: list[str]) -> dict[str, int]:
    """VoID figures for the default graph (the union of ``graphs``), computed once per build."""
    union = " UNION ".join(f"{{ GRAPH <{g}> {{ ?s ?p ?o }} }}" for g in graphs)
    row = next(iter(store.query(STATS_QUERY % union)))
    classes = next(iter(store.query(
        "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { GRAPH ?g { ?x a ?c } }")))["n"]
    figures = {k: int(row[k].value) for k in ("triples", "subjects", "properties", "objects")}
    return {**figures, "classes": int(classes.value)}


def count_triples(store: ox.Store, graph: str) -> int:
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return int(next(iter(rows))["n"].value)


def write_info(build_dir: Path, info: dict) -> None:
    (build_dir / "build.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def read_info(build_dir: Path) -> dict:
    return json.loads((build_dir / "build.json").read_text())


def publish(root: Path, build_dir: Path) -> None:
    """Point ``current`` at ``build_dir`` with one atomic rename, then drop old builds."""
    tmp = root / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(build_dir, root), tmp)
    os.replace(tmp, root / "current")
    prune(root)


def current_build(root: Path) -> Path | None:
    link = root / "current"
    if not link.is_symlink():
        return None
    target = (root / os.readlink(link)).resolve()
    return target if (target / "build.json").is_file() else None


def prune(root: Path, keep: int = KEEP_BUILDS) -> None:
    """Remove all but the newest ``keep`` complete builds (never the published one)."""
    live = current_build(root)
    builds = sorted((p for p in (root / "builds").iterdir() if (p / "build.json").is_file()),
                    key=lambda p: p.name)
    for old in builds[:-keep]:
        if old != live:
            shutil.rmtree(old, ignore_errors=True)


def discard(build_dir: Path) -> None:
    shutil.rmtree(build_dir, ignore_errors=True)
