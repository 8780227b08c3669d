"""The build's downloadable files: RDF dumps, the SIPRI-style register and the JSON-LD context.

Written by the build into ``builds/<id>/downloads/`` after the store and before publishing, so a
published build always carries them (``tdkg export`` can also write them from an older build's
store). Everything is read back from the store the build just wrote, and the RDF dumps are
serialised by Oxigraph itself, which keeps the step fast on large stores.

==========================  ===========================================================
``ontology.*``              the ontology (graph ``…/graph/ontology``)
``asserted.*``              the curated facts (graph ``…/graph/asserted``)
``inferred.*``              what the build inferred (graph ``…/graph/inferred``)
``complete.*``              ontology + asserted + inferred as one set of triples
``*.nt.gz``                 N-Triples, gzipped
``*.ttl``                   Turtle with the project's prefixes
``*.jsonld``                JSON-LD compacted with ``context.jsonld`` (linked by its URL)
``complete.nt``             the complete graph as plain N-Triples
``complete.expanded.jsonld``  the complete graph as expanded JSON-LD (needs no context)
``tdkg-full.owl``           ontology + asserted facts as one OWL ontology in RDF/XML
``register.csv``            deals and transfers in the columns of the SIPRI trade register
``context.jsonld``          a JSON-LD context for the ontology's terms, made from the ontology
``manifest.json``           every file above with its size, sha256 and triple (or row) count
==========================  ===========================================================

Each file is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from .. import jsonld
from .. import namespaces as ns
from .errors import BuildError
from .terms import Memo

FOLDER = "downloads"
MANIFEST = "manifest.json"
REGISTER = "register.csv"
CONTEXT = "context.jsonld"
COMPLETE_NT = "complete.nt"
EXPANDED = "complete.expanded.jsonld"
FULL_OWL = "tdkg-full.owl"      # owl_export.FULL_FILE (imported only when a build needs it)
QUERY_FILE = "register.rq"
#: queries/ of the source tree, used when the project folder has no register query of its own
DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "queries"

#: dump name → the named graphs it holds
DUMPS: dict[str, tuple[str, ...]] = {
    "ontology": (ns.GRAPH_ONTOLOGY,),
    "asserted": (ns.GRAPH_ASSERTED,),
    "inferred": (ns.GRAPH_INFERRED,),
    "complete": ns.FACT_GRAPHS,
}
#: file suffix → (Oxigraph format, media type served, human name of the format)
FORMATS: dict[str, tuple[ox.RdfFormat, str, str]] = {
    ".nt.gz": (ox.RdfFormat.N_TRIPLES, "application/gzip", "N-Triples, gzipped"),
    ".ttl": (ox.RdfFormat.TURTLE, "text/turtle", "Turtle"),
    ".jsonld": (ox.RdfFormat.JSON_LD, "application/ld+json", "JSON-LD, compacted"),
}
GZIP_LEVEL = 6      # gzip's own default: level 9 takes 2.5 times as long for 9 % less
#: file suffix → media type served; the first suffix that a name ends with decides
MEDIA_TYPES = {**{suffix: media for suffix, (_, media, _) in FORMATS.items()},
               ".csv": "text/csv", ".json": "application/json",
               ".nt": "application/n-triples", ".owl": "application/rdf+xml"}

#: register column → variable of queries/register.rq; the first nine are the SIPRI trade
#: register's columns in its order, the rest are TDKG's own
REGISTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Supplier", "supplier"),
    ("Recipient", "recipient"),
    ("Designation", "designation"),
    ("Description", "description"),
    ("Number ordered", "numberOrdered"),
    ("Year(s) of order", "yearsOfOrder"),
    ("Year(s) of delivery", "yearsOfDelivery"),
    ("Number delivered", "numberDelivered"),
    ("Comments", "comments"),
    ("Value", "value"),
    ("Currency", "currency"),
    ("Status", "status"),
    ("Source", "source"),
    ("IRI", "deal"),
)
REGISTER_HEADER = [column for column, _ in REGISTER_COLUMNS]

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#: namespaces of things rather than of vocabularies: never listed as void:vocabulary
INSTANCE_NAMESPACES = {ns.ID, ns.SOURCE, ns.PREFIXES["wd"]}


def media_type(name: str) -> str:
    for suffix, media in MEDIA_TYPES.items():
        if name.endswith(suffix):
            return media
    return "application/octet-stream"


def file_names() -> list[str]:
    """Every file a complete downloads folder holds, in the manifest's order, the manifest
    excepted."""
    names = []
    for name in DUMPS:
        names += [name + suffix for suffix in FORMATS]
        if name == "complete":
            names += [COMPLETE_NT, EXPANDED]
    return names + [FULL_OWL, REGISTER, CONTEXT]


def folder(build_dir: Path) -> Path:
    return build_dir / FOLDER


def read_manifest(build_dir: Path) -> dict | None:
    """The manifest of a build's downloads, or None when the build was made without them."""
    try:
        return json.loads((folder(build_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def write_downloads(build_dir: Path, out: Path | None = None,
                    queries_dir: Path | None = None, owl_triples: int | None = None,
                    beside: DumpsBeside | None = None) -> dict:
    """Write every download of the build whose store is ``build_dir/store`` into ``out``
    (default ``build_dir/downloads``); return the manifest, which is written last.
    ``queries_dir`` holds ``register.rq`` (default: the project's queries/); ``owl_triples``
    is the number of triples of the build's ``owl/tdkg-full.owl`` when the caller knows it;
    ``beside`` is the child writing the dumps' :data:`BESIDE` part into ``out``, when one
    was started."""
    out = folder(build_dir) if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    store = _open_store(build_dir)
    context = json_ld_context(store)
    written = _write_dumps(store, build_dir, out, context["@context"],
                           PARTS if beside is None else [p for p in PARTS if p != BESIDE])
    # the rest before waiting for the child
    others = [_write_owl(build_dir, store, out, owl_triples)]
    with _atomic(out / REGISTER, "w", newline="") as stream:
        rows = write_register(store, stream, queries_dir)
    others.append(_describe(out / REGISTER, rows=rows))
    with _atomic(out / CONTEXT, "w") as stream:
        json.dump(context, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    others.append(_describe(out / CONTEXT, terms=len(context["@context"]) - len(ns.PREFIXES)))
    vocabularies = vocabularies_used(store)
    if beside is not None:
        written.update(beside.result())
    files = [written[name] for name in file_names() if name in written] + others
    manifest = {"build": build_dir.name, "files": files, "vocabularies": vocabularies}
    with _atomic(out / MANIFEST, "w") as stream:
        json.dump(manifest, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    return manifest


# --- RDF dumps ---------------------------------------------------------------------------------

#: the two parts of the dumps' work, which can be done by two processes: the files Oxigraph's
#: serializers write from the graphs' N-Triples (gzipped and plain N-Triples, Turtle), and the
#: JSON-LD (each dump compacted, the complete one also expanded)
PARTS = ("rdf", "json-ld")


def _write_dumps(store: ox.Store, build_dir: Path, out: Path, context: dict,
                 parts: Iterable[str] = PARTS) -> dict[str, dict]:
    """Make the files of ``parts`` of every dump from each graph's plain N-Triples
    (:func:`_scans`): re-parsing N-Triples is several times faster than reading the store
    again. The parsed triples are streamed to the serializers, never kept in a list (that held
    gigabytes at a million triples). File name → its description."""
    with tempfile.TemporaryDirectory(prefix=".scan-", dir=out) as tmp:
        plain = _scans(store, build_dir, sorted(ns.FACT_GRAPHS), Path(tmp))
        # the complete dump's sources share no triple, so that their concatenation is their
        # union: the ontology without the triples the data repeats
        unique = {**plain, ns.GRAPH_ONTOLOGY: _without_repeats(
            store, plain[ns.GRAPH_ONTOLOGY], Path(tmp) / "ontology-unique.nt")}
        sources = {name: [(unique if len(graphs) > 1 else plain)[g] for g in graphs]
                   for name, graphs in DUMPS.items()}
        written = {}
        if "rdf" in parts:
            for name in DUMPS:
                written.update(_write_rdf_files(sources[name], out, name))
        if "json-ld" in parts:
            written.update(_write_json_ld(sources, out, context))
    return written


def _write_rdf_files(sources: list[Path], out: Path, name: str) -> dict[str, dict]:
    """``name``.nt.gz and .ttl of the N-Triples files ``sources``, and for the complete dump
    plain N-Triples too. The triple count is the number of N-Triples lines (one triple per
    line)."""
    graphs = list(DUMPS[name])
    triples = _concatenate(sources, out / f"{name}.nt.gz",
                           out / COMPLETE_NT if name == "complete" else None)
    written = [_describe(out / f"{name}.nt.gz", triples=triples, graphs=graphs)]
    path = out / f"{name}.ttl"
    with _atomic(path, "wb") as stream:
        ox.serialize(_parsed(sources), stream, ox.RdfFormat.TURTLE, prefixes=ns.PREFIXES)
    written.append(_describe(path, triples=triples, graphs=graphs))
    if name == "complete":
        written.append(_describe(out / COMPLETE_NT, triples=triples, graphs=graphs))
    return {f["name"]: f for f in written}


def _write_json_ld(sources: dict[str, list[Path]], out: Path, context: dict
                   ) -> dict[str, dict]:
    """Every dump compacted with ``context``, and the complete one expanded. Each graph is
    compacted once: the complete dump's nodes are the graphs' nodes merged
    (:meth:`tdkg.jsonld.Compactor.merged`), which gives the same bytes as compacting all its
    triples again and saves that work (13 s at a million triples)."""
    compactor = jsonld.Compactor(context)
    # each N-Triples file's nodes, compacted when first needed
    keyed = Memo(lambda source: compactor.keyed_rows(jsonld.ntriples_rows(_lines([source]))))
    written = []
    for name, graphs in DUMPS.items():
        files, path = sources[name], out / f"{name}.jsonld"
        with _atomic(path, "w") as stream:
            if len(files) > 1:
                found = compactor.merged([keyed[f] for f in files])
            else:
                found = (node for _, node in keyed[files[0]])
            jsonld.dump_nodes(jsonld.CONTEXT_URL, found, stream)
        written.append(_describe(path, triples=_count_lines(files), graphs=list(graphs),
                                 context=jsonld.CONTEXT_URL))
    keyed.clear()                   # a gigabyte of nodes at a million triples
    files = sources["complete"]
    with _atomic(out / EXPANDED, "wb") as stream:
        ox.serialize(_parsed(files), stream, ox.RdfFormat.JSON_LD)
    written.append(_describe(out / EXPANDED, triples=_count_lines(files),
                             graphs=list(DUMPS["complete"])))
    return {f["name"]: f for f in written}


def _parsed(sources: list[Path]) -> Iterator[ox.Quad]:
    """The triples of N-Triples files as the parser's quads (all in the default graph), which
    go straight to a serializer: it writes them as the triples they are, 10-30 % faster than
    through a generator taking each quad's triple."""
    return itertools.chain.from_iterable(
        ox.parse(path=str(source), format=ox.RdfFormat.N_TRIPLES) for source in sources)


def _count_lines(sources: list[Path]) -> int:
    lines = 0
    for source in sources:
        with source.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                lines += chunk.count(b"\n")
    return lines


# --- the dumps' JSON-LD beside the build's later steps -----------------------------------------

#: the part of the dumps (:data:`PARTS`) a child process writes while the build goes on:
#: about half of the dumps' work
BESIDE = "json-ld"


class DumpsBeside:
    """The dumps' :data:`BESIDE` part being written by a child process of its own, started as soon
    as the store is written, while the build writes the derivations and the OWL files and then
    the other dumps: on two cores the downloads no longer wait for those steps. The child is a
    new interpreter (``sys.executable``), so it holds none of the build's memory and works
    whatever program called the build."""

    def __init__(self, build_dir: Path, out: Path | None = None):
        self.out = folder(build_dir) if out is None else out
        self.out.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import _dumps_child; _dumps_child()",
             str(build_dir), str(self.out), str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def result(self) -> dict[str, dict]:
        """Wait for the child; its files' descriptions by name. Raises BuildError when it
        failed."""
        stdout, stderr = self._process.communicate()
        if self._process.returncode != 0:
            message = stderr.decode("utf-8", "replace").strip().splitlines()
            raise BuildError(f"writing the dumps' {BESIDE} files failed (exit code "
                             f"{self._process.returncode}): {' / '.join(message[-3:])}")
        return json.loads(stdout)

    def stop(self) -> None:
        """End the child whatever it is doing (the build failed)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()


def _dumps_child() -> None:
    """The child's work: the dumps' :data:`BESIDE` part of the build ``sys.argv[1]`` into the
    folder ``sys.argv[2]``; the files' descriptions, as JSON, on stdout. It dies with the build (process
    ``sys.argv[3]``), so a killed build leaves no writer behind."""
    build_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    _die_with(int(sys.argv[3]))
    store = _open_store(build_dir)
    context = json_ld_context(store)["@context"]
    json.dump(_write_dumps(store, build_dir, out, context, [BESIDE]), sys.stdout)


def _die_with(parent: int) -> None:
    """Have the OS kill this process when its parent ends (Linux's PR_SET_PDEATHSIG); exit at
    once if the parent has already gone."""
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass                        # not Linux: the build's own clean-up removes the folder
    if os.getppid() != parent:
        os._exit(1)


def _scans(store: ox.Store, build_dir: Path, graphs: list[str], tmp: Path) -> dict[str, Path]:
    """Each graph's N-Triples: the files the running build wrote beside its store
    (:func:`.store.scan_files`), or, for a build made earlier, the store scanned once per graph
    into ``tmp`` (in parallel: Oxigraph's dump runs without the GIL)."""
    from .store import scan_files
    written = scan_files(build_dir)
    if written is not None and set(graphs) <= set(written):
        return {g: written[g] for g in graphs}
    plain = {g: tmp / f"{i}.nt" for i, g in enumerate(graphs)}
    with ThreadPoolExecutor(max_workers=max(1, min(len(plain), os.cpu_count() or 1))) as pool:
        scans = [pool.submit(store.dump, str(path), ox.RdfFormat.N_TRIPLES,
                             from_graph=ox.NamedNode(g)) for g, path in plain.items()]
        for scan in scans:
            scan.result()
    return plain


def _complete_graph(store: ox.Store) -> dict:
    """Query options that make the default graph the complete one: the store's own default
    graph where it holds the union (a real graph reads faster than a union of three), else
    the union of the build's graphs."""
    return {} if _has_union(store) else {"default_graph": [ox.NamedNode(g)
                                                           for g in ns.FACT_GRAPHS]}


def _has_union(store: ox.Store) -> bool:
    """Whether the default graph holds the union of the build's graphs (layout 2)."""
    return bool(store.query("ASK { ?s ?p ?o }"))


OVERLAP_QUERY = f"""SELECT ?s ?p ?o WHERE {{
  GRAPH <{ns.GRAPH_ONTOLOGY}> {{ ?s ?p ?o }}
  FILTER EXISTS {{ GRAPH ?other {{ ?s ?p ?o }} FILTER (?other != <{ns.GRAPH_ONTOLOGY}>) }}
}}"""


def _without_repeats(store: ox.Store, ontology: Path, kept: Path) -> Path:
    """The ontology's N-Triples without the triples the data repeats (written to ``kept``),
    for the union dumps. (The inferred graph never holds an asserted triple; the data may
    restate an axiom.)"""
    repeated = {ox.Triple(r["s"], r["p"], r["o"]) for r in store.query(OVERLAP_QUERY)}
    if not repeated:
        return ontology
    ox.serialize((q.triple for q in ox.parse(path=str(ontology), format=ox.RdfFormat.N_TRIPLES)
                  if q.triple not in repeated), str(kept), ox.RdfFormat.N_TRIPLES)
    return kept


def _lines(sources: list[Path]) -> Iterator[str]:
    for source in sources:
        # lines end at "\n" only, as Oxigraph ends them (it escapes every "\r" in a literal)
        with source.open(encoding="utf-8", newline="\n") as stream:
            yield from stream


def _concatenate(sources: list[Path], gzipped: Path, plain: Path | None) -> int:
    """Write the concatenation of ``sources`` gzipped (and, given ``plain``, as it is);
    return its number of lines."""
    lines = 0
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_atomic(gzipped, "wb"))
        zipped = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="",
                                                   compresslevel=GZIP_LEVEL))
        copy = stack.enter_context(_atomic(plain, "wb")) if plain is not None else None
        for source in sources:
            with source.open("rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    lines += chunk.count(b"\n")
                    zipped.write(chunk)
                    if copy is not None:
                        copy.write(chunk)
    return lines


# --- the OWL file ------------------------------------------------------------------------------

def _write_owl(build_dir: Path, store: ox.Store, out: Path, triples: int | None) -> dict:
    """``tdkg-full.owl``: the build's OWL export (ontology + asserted facts, every named
    individual declared), or, for a build made without OWL files, the same made from its store."""
    made = build_dir / "owl" / FULL_OWL
    if made.is_file():
        content = made.read_bytes()
        if triples is None:
            triples = sum(1 for _ in ox.parse(content, format=ox.RdfFormat.RDF_XML))
    else:
        from . import owl_export

        ontology, data = ([q.triple for q in store.quads_for_pattern(None, None, None,
                                                                      ox.NamedNode(g))]
                          for g in (ns.GRAPH_ONTOLOGY, ns.GRAPH_ASSERTED))
        content, triples = owl_export.full_rdfxml(ontology, data, counted=True)
    with _atomic(out / FULL_OWL, "wb") as stream:
        stream.write(content)
    return _describe(out / FULL_OWL, triples=triples,
                     graphs=[ns.GRAPH_ONTOLOGY, ns.GRAPH_ASSERTED])


# --- the register ------------------------------------------------------------------------------

def register_query(queries_dir: Path | None = None) -> str:
    path = (queries_dir or DEFAULT_QUERIES) / QUERY_FILE
    if not path.is_file():
        path = DEFAULT_QUERIES / QUERY_FILE
    return path.read_text(encoding="utf-8")


def register_rows(store: ox.Store, queries_dir: Path | None = None) -> list[list[str]]:
    """The deals and transfers as register rows (cells in REGISTER_COLUMNS order), sorted by
    supplier, recipient, year and designation (empty suppliers and recipients last)."""
    text = register_query(queries_dir)
    solutions = store.query(text, **_complete_graph(store))
    rows = [[_cell(solution[var]) for _, var in REGISTER_COLUMNS] for solution in solutions]
    column = {name: i for i, name in enumerate(REGISTER_HEADER)}

    def key(row: list[str]) -> tuple:
        supplier, recipient = row[column["Supplier"]], row[column["Recipient"]]
        year = row[column["Year(s) of order"]] or row[column["Year(s) of delivery"]]
        return (supplier == "", supplier, recipient == "", recipient, year == "", year,
                row[column["Designation"]], row[column["IRI"]])
    return sorted(rows, key=key)


def _cell(term: ox.NamedNode | ox.Literal | None) -> str:
    return "" if term is None else term.value


def write_register(store: ox.Store, stream: IO[str], queries_dir: Path | None = None) -> int:
    """Write the register as CSV (header first) to a text stream opened with newline=""."""
    rows = register_rows(store, queries_dir)
    writer = csv.writer(stream)
    writer.writerow(REGISTER_HEADER)
    writer.writerows(rows)
    return len(rows)


# --- the JSON-LD context ----------------------------------------------------------------------

#: the context made from the ontology (it lives with the compaction that uses it)
json_ld_context = jsonld.context_of


# --- vocabularies ------------------------------------------------------------------------------

def vocabularies_used(store: ox.Store) -> list[str]:
    """Namespaces (of ns.PREFIXES) whose properties or classes the graphs use, for VoID."""
    graphs = _complete_graph(store)
    iris = {row["p"].value for row in store.query(
        "SELECT DISTINCT ?p WHERE { ?s ?p ?o }", **graphs)}
    iris |= {row["c"].value for row in store.query(
        f"SELECT DISTINCT ?c WHERE {{ ?s <{RDF_TYPE}> ?c FILTER isIRI(?c) }}", **graphs)}
    spaces = sorted(set(ns.PREFIXES.values()) - INSTANCE_NAMESPACES, key=len, reverse=True)
    used = {next((space for space in spaces if iri.startswith(space)), None) for iri in iris}
    return sorted(space for space in used if space is not None)


# --- files -------------------------------------------------------------------------------------

def _open_store(build_dir: Path) -> ox.Store:
    return ox.Store.read_only(str(build_dir / "store"))


@contextlib.contextmanager
def _atomic(path: Path, mode: str, **kwargs) -> Iterator[IO]:
    """Open a temporary sibling of ``path``; rename it to ``path`` only when the block succeeds."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    encoding = None if "b" in mode else "utf-8"
    try:
        with open(tmp, mode, encoding=encoding, **kwargs) as stream:
            yield stream
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _describe(path: Path, **extra: object) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return {"name": path.name, "media_type": media_type(path.name), "bytes": path.stat().st_size,
            "sha256": digest.hexdigest(), **extra}


def copy_downloads(build_dir: Path, out: Path) -> list[Path]:
    """Copy a build's downloads (and manifest) into ``out``, each file atomically."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(build_dir)
    if manifest is None:
        raise FileNotFoundError(f"{build_dir.name} has no downloads")
    written = []
    for name in [f["name"] for f in manifest["files"]] + [MANIFEST]:
        with (folder(build_dir) / name).open("rb") as src, _atomic(out / name, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        written.append(out / name)
    return written


def register_text(build_dir: Path, queries_dir: Path | None = None) -> bytes:
    """The register CSV of a build: its download, or made from its store when it has none."""
    path = folder(build_dir) / REGISTER
    if path.is_file():
        return path.read_bytes()
    stream = io.StringIO(newline="")
    write_register(_open_store(build_dir), stream, queries_dir)
    return stream.getvalue().encode("utf-8")
