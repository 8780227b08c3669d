"""What keeping a build's folder in the remote store costs: the time to load the folder's files
into a store (``tdkg build`` does it before it publishes) and the time a new front end takes to
fetch them back, checked, into an empty state folder. Prints figures; asserts nothing.

    .venv/bin/python bench/build_files.py [BUILD_FOLDER] [--store oxigraph|virtuoso|both]

BUILD_FOLDER defaults to the served build of ``var/`` (the seed data). The stores are started
on loopback in a scratch folder, as the tests start them, and stopped at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR / "tests"))    # external_stores: the stores the tests start

import external_stores  # noqa: E402

from tdkg.pipeline import store as pipeline_store  # noqa: E402
from tdkg.stores import build_files  # noqa: E402
from tdkg.stores.sparql_store import Endpoint, SparqlStore  # noqa: E402

STARTERS = {"oxigraph": external_stores.oxigraph_server, "virtuoso": external_stores.virtuoso}


def measure(kind: str, build_dir: Path, scratch: Path) -> dict:
    with STARTERS[kind](scratch / kind) as started:
        os.environ["TDKG_STORE_USER"] = started.user or ""
        os.environ["TDKG_STORE_PASSWORD"] = started.password or ""
        remote = SparqlStore(Endpoint(started.query_url, started.update_url, started.gsp_url,
                                      started.gsp_graph_param, started.auth_scheme or "basic"),
                             timeout=600)
        began = time.perf_counter()
        sent = build_files.load(remote, build_dir)
        loaded = time.perf_counter() - began
        root = scratch / f"{kind}-front"
        began = time.perf_counter()
        build_files.fetch(remote, build_dir.name, root, timeout=600)
        fetched = time.perf_counter() - began
        shutil.rmtree(root)
    return {"store": kind, "triples": sent, "load_s": loaded, "fetch_s": fetched}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", type=Path)
    parser.add_argument("--store", choices=["oxigraph", "virtuoso", "both"], default="both")
    args = parser.parse_args()
    build_dir = args.build or pipeline_store.current_build(PROJECT_DIR / "var")
    if build_dir is None:
        parser.error("no build given and none served in var/: run `tdkg build` first")
    files = build_files.files_of(build_dir)
    size = sum((build_dir / f).stat().st_size for f in files)
    print(f"build {build_dir.name}: {len(files)} files, {size:,} bytes "
          f"(largest: {max(files, key=lambda f: (build_dir / f).stat().st_size)})")
    kinds = ["oxigraph", "virtuoso"] if args.store == "both" else [args.store]
    with tempfile.TemporaryDirectory(prefix="tdkg-bench-files-") as scratch:
        for kind in kinds:
            m = measure(kind, build_dir, Path(scratch))
            print(f"{m['store']:9} load {m['load_s']:7.2f} s  fetch {m['fetch_s']:7.2f} s  "
                  f"({m['triples']:,} triples, {size / 1e6 / m['load_s']:.1f} MB/s in, "
                  f"{size / 1e6 / m['fetch_s']:.1f} MB/s out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
