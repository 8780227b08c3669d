"""Last step of the build: write the graphs into a fresh Oxigraph store and publish it atomically.

Layout of the state folder::

    builds/<id>/store/      the Oxigraph (RocksDB) store of one build
    builds/<id>/build.json  what went in: source digest, triple counts, timings
    current -> builds/<id>  symlink, replaced in one rename when a build succeeds

A build is written into its own new folder and only then published, so a failed build never
touches the store that is being served. The server follows ``current`` and reopens on change.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox

KEEP_BUILDS = 3


def new_build_dir(root: Path) -> Path:
    builds = root / "builds"
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
    """Remove all but the newest ``keep`` builds (never the published one), and failed leftovers."""
    live = current_build(root)
    builds = sorted((p for p in (root / "builds").iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in builds[:-keep]:
        if old != live:
            shutil.rmtree(old, ignore_errors=True)


def discard(build_dir: Path) -> None:
    shutil.rmtree(build_dir, ignore_errors=True)
