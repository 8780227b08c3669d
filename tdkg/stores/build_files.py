"""A build's folder kept in the remote store beside its graphs, so that a front end needs
nothing but the store.

Over the ``sparql`` kind a front end answers queries from the store, but it also serves files a
build writes: the explanations behind ``/why`` (``derivations.sqlite``), the parsed rules, the
build's statistics (``build.json``), its changes, the downloads and the OWL files. A build
therefore loads every file of its folder (all but its embedded ``store/`` and the ``published``
mark) into one more graph of its own, ``urn:tdkg:build:<id>:files``:

- a file: ``<…:file:<n>>`` with its path in the folder and its content;
- a content, named by its sha256 (a file present twice, as ``tdkg-full.owl`` is, is kept once):
  its size, its sha256 and how many chunks it has;
- a chunk: ``<…:content:<sha256>:<i>>``, the content it is of, its index and ``CHUNK`` bytes
  of it as ``xsd:base64Binary``. Chunks are fetched by their IRIs, a window at a time
  (``VALUES``), which every store answers by direct lookups.

The graph is loaded before the build is published and dropped with the build's other graphs,
so it is there exactly as long as the build is. It is never in a query's dataset, so analysts
never see it.

A front end whose state folder lacks the published build's folder fetches it from there
(:func:`fetch`): it checks each file's size and sha256, writes the files into a hidden folder and
renames it into place only when all of it arrived, so a fetch cut short leaves nothing a front end
would take for a build. That state folder is then a cache: it can be lost, and is filled again
from the store.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from . import graphnames as names
from .errors import StoreError, StoreUnavailable

FILES = "files"                 # the build's graph of files: urn:tdkg:build:<id>:files
#: bytes of a file per chunk: 21.8 kB of base64 (Virtuoso 7's Graph Store takes a request whose
#: first line is over about 32 kB for plain text, and refuses it; see ``_batches``)
CHUNK = 16 * 1024
BATCH_BYTES = 4 * 1024 * 1024   # N-Triples per Graph Store request while loading
WINDOW = 64                     # chunks fetched per query (1 MiB of the file)
#: the folder's entries that are not files of the build: the embedded store (the remote store
#: holds the graphs), the mark of when this state folder published it, and the fetched mark
#: written into a folder fetched from the store (what it was fetched from, and when)
FETCHED = "fetched"
NOT_SHIPPED = ("store", "published", FETCHED)

_T = "urn:tdkg:file:"
PATH, CONTENT, BYTES, SHA256, CHUNKS, OF, INDEX, DATA = (
    _T + "path", _T + "content", _T + "bytes", _T + "sha256", _T + "chunks", _T + "of",
    _T + "index", _T + "data")
INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
BASE64 = "http://www.w3.org/2001/XMLSchema#base64Binary"


def graph(build: str) -> str:
    return names.stored(build, FILES)


def _content(build: str, sha: str) -> str:
    return f"{names.prefix(build)}content:{sha}"


def files_of(build_dir: Path) -> list[str]:
    """The paths (relative, with ``/``) of the files a build ships, in a stable order."""
    found = []
    for path in sorted(build_dir.rglob("*")):
        relative = path.relative_to(build_dir)
        if relative.parts[0] in NOT_SHIPPED or relative.parts[0].startswith(".") \
                or not path.is_file() or path.is_symlink():
            continue
        found.append(relative.as_posix())
    return found


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\r", "\\r")
    return f'"{escaped}"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def triples(build: str, build_dir: Path) -> Iterator[str]:
    """The N-Triples lines of the build's graph of files (read a chunk at a time)."""
    sent: set[str] = set()
    for n, relative in enumerate(files_of(build_dir)):
        path = build_dir / relative
        sha = _sha256(path)
        content = _content(build, sha)
        node = f"{names.prefix(build)}file:{n}"
        yield f"<{node}> <{PATH}> {_literal(relative)} .\n"
        yield f"<{node}> <{CONTENT}> <{content}> .\n"
        if sha in sent:
            continue
        sent.add(sha)
        size = path.stat().st_size
        chunks = max(1, -(-size // CHUNK))
        yield f'<{content}> <{BYTES}> "{size}"^^<{INTEGER}> .\n'
        yield f'<{content}> <{SHA256}> "{sha}" .\n'
        yield f'<{content}> <{CHUNKS}> "{chunks}"^^<{INTEGER}> .\n'
        with open(path, "rb") as handle:
            for i in range(chunks):
                data = base64.b64encode(handle.read(CHUNK)).decode("ascii")
                yield f'<{content}:{i}> <{OF}> <{content}> .\n'
                yield f'<{content}:{i}> <{INDEX}> "{i}"^^<{INTEGER}> .\n'
                yield f'<{content}:{i}> <{DATA}> "{data}"^^<{BASE64}> .\n'


def _batches(lines: Iterator[str]) -> Iterator[list[str]]:
    """Requests of about ``BATCH_BYTES``, each cut after a chunk's data, so that each begins
    with short lines: Virtuoso 7 guesses a request's format from its first bytes, whatever its
    Content-Type says, and takes a request of nothing but 22 kB lines for plain text."""
    batch: list[str] = []
    size = 0
    data = f"<{DATA}>"
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= BATCH_BYTES and data in line:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def load(remote, build_dir: Path) -> int:
    """Load the build's files into its graph of files; return how many triples were sent."""
    build = build_dir.name
    return sum(remote.load_graph(build, FILES, batch, chunk=len(batch))
               for batch in _batches(triples(build, build_dir)))


def _safe(relative: str) -> PurePosixPath:
    """A path from the store, refused unless it stays inside the build folder."""
    path = PurePosixPath(relative)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts) \
            or path.parts[0] in NOT_SHIPPED or path.parts[0].startswith(".") or "\\" in relative:
        raise StoreUnavailable(f"the store's files of the build name a path outside its "
                               f"folder: {relative!r}")
    return path


_lock = threading.Lock()


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def fetch(remote, build: str, root: Path, timeout: float = 60.0) -> Path:
    """Fetch the folder of ``build`` from the store into ``root/builds/<build>``; return it.
    A damaged or missing file raises :class:`StoreError` and leaves nothing in ``builds/``."""
    target = root / "builds" / build
    if (target / "build.json").is_file():
        return target
    where = graph(build)
    rows = remote.select(
        f"SELECT ?path ?content ?bytes ?sha ?chunks WHERE {{ GRAPH <{where}> {{ "
        f"?file <{PATH}> ?path ; <{CONTENT}> ?content . ?content <{BYTES}> ?bytes ; "
        f"<{SHA256}> ?sha ; <{CHUNKS}> ?chunks }} }}", timeout)
    if not any(row.get("path") == "build.json" for row in rows):
        raise StoreError(f"the SPARQL store at {remote.name} holds no files of build {build} "
                         "(a build loaded by an older TDKG): ship its folder to this front "
                         "end's state folder, or build again")
    (root / "builds").mkdir(parents=True, exist_ok=True)
    partial = root / "builds" / f".fetch-{build}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for row in sorted(rows, key=lambda r: r["path"]):
            if not _is_sha256(row["sha"]) or row["content"] != _content(build, row["sha"]):
                raise StoreUnavailable(f"the store's files of build {build} are damaged: "
                                       f"{row['path']!r} names the content {row['content']!r}")
            path = partial / _safe(row["path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            _fetch_file(remote, where, row, path, timeout)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (partial / FETCHED).write_text(f"{remote.name} {when}\n")
        with _lock:
            if (target / "build.json").is_file():
                shutil.rmtree(partial, ignore_errors=True)  # another fetch was first
            else:
                shutil.rmtree(target, ignore_errors=True)   # an incomplete leftover
                os.rename(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def _fetch_file(remote, where: str, row: dict, path: Path, timeout: float) -> None:
    digest = hashlib.sha256()
    size = 0
    chunks, expected = int(row["chunks"]), int(row["bytes"])
    with open(path, "wb") as out:
        for start in range(0, chunks, WINDOW):
            window = [f"{row['content']}:{i}" for i in range(start, min(chunks, start + WINDOW))]
            listed = " ".join(f"<{iri}>" for iri in window)
            found = {r["chunk"]: r["data"] for r in remote.select(
                f"SELECT ?chunk ?data WHERE {{ VALUES ?chunk {{ {listed} }} "
                f"GRAPH <{where}> {{ ?chunk <{DATA}> ?data }} }}", timeout)}
            if set(found) != set(window):
                raise StoreUnavailable(f"chunks of {row['path']} are missing from the store "
                                       f"(asked for {start}-{start + len(window) - 1})")
            for iri in window:
                try:
                    data = base64.b64decode(found[iri], validate=True)
                except ValueError:
                    raise StoreUnavailable(f"{iri} ({row['path']}) in the store is not "
                                           "base64") from None
                digest.update(data)
                size += len(data)
                out.write(data)
    if size != expected or digest.hexdigest() != row["sha"]:
        raise StoreUnavailable(f"{row['path']} fetched from the store is damaged: {size} bytes "
                               f"with sha256 {digest.hexdigest()}, where the build wrote "
                               f"{expected} bytes with sha256 {row['sha']}")

