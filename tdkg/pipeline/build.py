"""The build: load → closed vocabulary → validate → reason → store → publish, in that order, or
nothing at all.

``build()`` is what ``tdkg build`` and ``tdkg serve`` call. It writes a complete new store in its
own folder and publishes it only when every step passed; on any :class:`BuildError` the new folder
is removed and the published store is left exactly as it was.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

from .. import namespaces as ns
from ..settings import Settings
from . import derivations, downloads, history, store, vocabulary
from .convert import to_rdflib_graph
from .errors import BuildError
from .load import digest, load_sources, source_files
from .owl_export import export_documentation, export_owl
from .reason import reason
from .rules import load_rules
from .validate import load_shapes, validate


RULES = "rules"


@dataclasses.dataclass(frozen=True)
class Options:
    """What a build may leave out: benchmarks on synthetic data skip SHACL, the OWL files and
    the downloads (RDF dumps, register, JSON-LD context)."""

    validate: bool = True
    owl_files: bool = True
    downloads: bool = True


@dataclasses.dataclass(frozen=True)
class Inputs:
    """Which files a build reads: ontology modules, SHACL shapes and facts."""

    ontology: list[Path]
    shapes: list[Path]
    rules: list[Path]
    data: list[Path]

    @classmethod
    def of(cls, ontology_dir: Path, data_dir: Path) -> "Inputs":
        files = source_files(ontology_dir)
        shapes = [f for f in files if f.name.startswith("shapes")]
        rules = sorted((ontology_dir / RULES).glob("*.rq"))
        return cls([f for f in files if f not in shapes], shapes, rules, source_files(data_dir))

    @property
    def all(self) -> list[Path]:
        return self.ontology + self.shapes + self.rules + self.data


def inputs_for(settings: Settings, data_dir: Path | None = None) -> Inputs:
    return Inputs.of(settings.ontology_dir, data_dir or settings.data_dir)


def build(settings: Settings, data_dir: Path | None = None, options: Options = Options(),
          log=print) -> Path:
    """Build and publish a store; return its build folder. Raises :class:`BuildError`."""
    inputs = inputs_for(settings, data_dir)
    if not inputs.ontology:
        raise BuildError(f"no ontology found in {settings.ontology_dir}")
    root = settings.store_root
    with store.exclusive(root):     # one build at a time per state folder
        store.clean_unfinished(root)
        build_dir = store.new_build_dir(root)
        try:
            info = _run_steps(inputs, build_dir, options, log, settings.project_dir / "queries")
        except BaseException:
            store.discard(build_dir)
            raise
        store.write_info(build_dir, info)
        store.publish(root, build_dir, keep=settings.keep_builds)
    log(f"published {build_dir.name}: {info['stats']['graphs']}")
    return build_dir


def _run_steps(inputs: Inputs, build_dir: Path, options: Options, log,
               queries_dir: Path | None = None) -> dict:
    timings: dict[str, float] = {}
    with _timed(timings, "load"):
        sources = load_sources(inputs.ontology, inputs.data)
        rules = load_rules(inputs.rules[0].parent) if inputs.rules else []
    log(f"loaded {len(sources.ontology)} ontology and {len(sources.data)} data triples "
        f"from {len(sources.files)} files, {len(rules)} rules")
    with _timed(timings, "vocabulary"):
        checked = vocabulary.check(sources, inputs.shapes, inputs.rules)
    log(f"closed vocabulary: every term is one of the ontology's {checked['terms']}, "
        f"every thing used is among the {checked['things']} typed and labelled")
    ontology_graph = data_graph = None
    if options.validate or options.owl_files:     # rdflib copies, made once for both uses
        ontology_graph, data_graph = to_rdflib_graph(sources.ontology), to_rdflib_graph(sources.data)
    if options.validate and inputs.shapes:
        with _timed(timings, "validate"):
            validate(ontology_graph + data_graph, load_shapes(inputs.shapes))
        log(f"SHACL: {len(inputs.shapes)} shapes file(s), no violations")
    with _timed(timings, "reason"):
        inference = reason(sources.ontology, sources.data, rules)
    log(f"reasoning: {len(inference.inferred)} inferred triples in {inference.rounds} rule rounds")
    with _timed(timings, "store"):
        graphs = {ns.GRAPH_ONTOLOGY: sources.ontology, ns.GRAPH_ASSERTED: sources.data,
                  ns.GRAPH_INFERRED: inference.triples()}
        stats = store.write_store(build_dir, graphs)
        derivations.write(build_dir, inference)
    if options.owl_files:
        with _timed(timings, "owl"):
            export_owl(ontology_graph, data_graph, build_dir / "owl")
            export_documentation(ontology_graph, build_dir / "owl")
    if options.downloads:
        with _timed(timings, "downloads"):
            manifest = downloads.write_downloads(build_dir, queries_dir=queries_dir)
        log(f"downloads: {len(manifest['files'])} files, "
            f"{sum(f['bytes'] for f in manifest['files']):,} bytes")
    return {"id": build_dir.name, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "digest": digest(inputs.all), "files": [str(f) for f in inputs.all],
            "validated": bool(options.validate and inputs.shapes), "stats": stats,
            "rules": [r.id for r in rules], "timings": timings}


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str):
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 3)


def is_stale(settings: Settings) -> bool:
    """True when there is no published store or the sources changed since it was built (and
    not since a rollback away from a build of these very sources: see ``tdkg rollback``)."""
    current = store.current_build(settings.store_root)
    if current is None:
        return True
    sources = digest(inputs_for(settings).all)
    if store.read_info(current).get("digest") == sources:
        return False
    return not history.rolled_back_from(settings.store_root, sources)
