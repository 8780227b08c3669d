"""Step 1 of the build: read the ontology and the Turtle facts, failing on the first syntax error.

Parsing uses Oxigraph's Turtle/N-Triples parsers (fast, and their errors carry line and column);
an error becomes a :class:`LoadError` naming the file.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pyoxigraph as ox

from .errors import LoadError

SOURCE_SUFFIXES = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES}


@dataclasses.dataclass
class Sources:
    """The triples of one build, kept apart by the graph they will go to."""

    ontology: list[ox.Triple]
    data: list[ox.Triple]
    files: list[Path]
    #: each file's own triples (the same objects, not copies), for checks that name the file
    by_file: dict[Path, list[ox.Triple]] = dataclasses.field(default_factory=dict)


def source_files(folder: Path) -> list[Path]:
    """Every RDF source file directly in ``folder``, in a stable order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in SOURCE_SUFFIXES and p.is_file())


def parse_file(path: Path) -> list[ox.Triple]:
    """All triples of one file; a syntax error raises :class:`LoadError` with its position."""
    try:
        with path.open("rb") as handle:
            # fresh blank node ids per file, so `_:x` in two files are two nodes
            return [q.triple for q in ox.parse(handle, format=SOURCE_SUFFIXES[path.suffix],
                                                rename_blank_nodes=True)]
    except SyntaxError as err:
        line, column = _position(err)
        raise LoadError(path, line, column, str(err.msg if hasattr(err, "msg") else err)) from None


def _position(err: SyntaxError) -> tuple[int | None, int | None]:
    if err.lineno is not None:
        return err.lineno, err.offset
    return None, None


def load_sources(ontology_files: list[Path], data_files: list[Path]) -> Sources:
    by_file = {f: parse_file(f) for f in ontology_files + data_files}
    ontology = [t for f in ontology_files for t in by_file[f]]
    data = [t for f in data_files for t in by_file[f]]
    return Sources(ontology, data, ontology_files + data_files, by_file)


def digest(files: list[Path]) -> str:
    """A content hash of the sources: a build is stale when this changes."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(str(f.name).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()
