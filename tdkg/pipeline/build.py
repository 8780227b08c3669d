"""The build: load → closed vocabulary → validate → reason → store → publish, in that order, or
nothing at all.

``build()`` is what ``tdkg build`` and ``tdkg serve`` call. It writes a complete new store in its
own folder and publishes it only when every step passed; on any :class:`BuildError` the new folder
is removed and the published store is left exactly as it was.

``build(..., publish=False)`` (``tdkg diff``, ``build --dry-run``) runs the same steps into a
folder under ``drafts/`` that is never published; the caller compares it and removes it. A
publishing build that replaces an earlier one first records what changed against it in the new
folder's ``changes.json`` (:func:`tdkg.curation.diff.compare`), so every published build that
has a predecessor carries its changes; above :data:`CHANGES_MAX_TRIPLES` it records only why the
comparison was skipped.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import shutil
import time
from pathlib import Path

from .. import namespaces as ns
from ..settings import Settings
from . import derivations, downloads, history, store, vocabulary
from .errors import BuildError
from .load import digest, load_sources, source_files
from .owl_export import export_documentation, export_owl
from .reason import reason
from .rules import load_rules, parsed_rules

RULES = "rules"
#: the parsed rules, which the next build reuses when the rule files did not change
PARSED_RULES = "rules.json"
#: what the ontology's HTML page (owl/tdkg.html, :data:`.ontology_html.HTML_FILE`) was made
#: from, for the next build
DOCUMENTATION = "documentation.json"
PAGE = "tdkg.html"
#: the code the page depends on besides the ontology (not imported: Jinja and rdflib are slow
#: to load, and only a changed ontology needs them)
PAGE_CODE = [Path(__file__).with_name("ontology_html.py"), Path(ns.__file__)]
CHANGES = "changes.json"
#: a publishing build compares itself with the build it replaces only when the two hold at most
#: this many triples together: the comparison reads both graphs into memory and runs every query
#: of queries/ on both stores (about 1.5 s for the seed data, 2 x 8,500 triples; 15 s for
#: 2 x 91,000 synthetic triples, mostly the queries)
CHANGES_MAX_TRIPLES = 100_000


@dataclasses.dataclass(frozen=True)
class Options:
    """What a build may leave out: benchmarks on synthetic data skip SHACL, the OWL files and
    the downloads (RDF dumps, register, JSON-LD context); ``changes`` False skips the changes
    record (it is also skipped above :data:`CHANGES_MAX_TRIPLES`). ``validator`` names the
    SHACL engine (:data:`tdkg.pipeline.validate.ENGINES`): "fast", or "pyshacl", the
    reference."""

    validate: bool = True
    owl_files: bool = True
    downloads: bool = True
    changes: bool = True
    validator: str = "fast"


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
          log=print, publish: bool = True) -> Path:
    """Build and publish a store; return its build folder. Raises :class:`BuildError`.

    With ``publish=False`` the build goes to a folder under ``drafts/`` that is never published
    (nor listed, kept or pruned); the caller removes it with :func:`store.discard`."""
    inputs = inputs_for(settings, data_dir)
    if not inputs.ontology:
        raise BuildError(f"no ontology found in {settings.ontology_dir}")
    root = settings.store_root
    queries_dir = settings.project_dir / "queries"
    with store.exclusive(root):     # one build at a time per state folder
        store.clean_unfinished(root)
        previous = store.current_build(root) if publish else None
        build_dir = store.new_build_dir(root, draft=not publish)
        try:
            info = _run_steps(inputs, build_dir, options, log, queries_dir,
                              earlier=store.current_build(root))
            if previous is not None:
                record_changes(previous, build_dir, info, options, log, queries_dir)
        except BaseException:
            store.discard(build_dir)
            raise
        store.write_info(build_dir, info)
        if not publish:
            return build_dir
        if settings.store == "sparql":
            publish_to_store(settings, build_dir, log)
        store.publish(root, build_dir, keep=settings.keep_builds)
    log(f"published {build_dir.name}: {info['stats']['graphs']}")
    return build_dir


def publish_to_store(settings: Settings, build_dir: Path, log=print) -> None:
    """Load the build into the sparql store and publish it there; a failure (the store stopped,
    refused a request) leaves the store's published build as it was and the build unpublished
    here too, and is a build error naming the store."""
    from .. import stores
    remote = stores.open_store(settings)
    try:
        with _timed_log(log, "the SPARQL store"):
            stores.publish_remote(remote, build_dir, log=log)
    except stores.StoreError as err:
        store.discard(build_dir)
        raise BuildError(f"publishing to the SPARQL store failed, nothing changed there: "
                         f"{err}") from None
    except BaseException:
        store.discard(build_dir)
        raise


@contextlib.contextmanager
def _timed_log(log, what: str):
    started = time.perf_counter()
    yield
    log(f"published to {what} in {time.perf_counter() - started:.1f} s")


def record_changes(previous: Path, build_dir: Path, info: dict, options: Options, log,
                   queries_dir: Path | None) -> None:
    """Write ``changes.json`` into ``build_dir``: what it changes against ``previous`` (the
    published build it will replace), or why that was not computed. Never fails the build."""
    from ..curation import diff
    triples = info["stats"]["triples"] + store.read_info(previous).get("stats", {}).get(
        "triples", 0)
    skipped = None
    if not options.changes:
        skipped = "switched off for this build"
    elif triples > CHANGES_MAX_TRIPLES:
        skipped = (f"the two builds hold {triples:,} triples together, more than "
                   f"{CHANGES_MAX_TRIPLES:,}")
    started = time.perf_counter()
    if skipped is None:
        try:
            changes = diff.compare(previous, build_dir, queries_dir)
            graphs = info["stats"]["graphs"]
            changes["new"].update(created=info["created"], digest=info["digest"], triples={
                name: graphs.get(getattr(ns, "GRAPH_" + name.upper()), n)
                for name, n in changes["new"]["triples"].items()})
        except Exception as err:  # noqa: BLE001 - a record we cannot make must not stop the data
            skipped = f"the comparison failed: {err}"
    if skipped is not None:
        changes = {"format": diff.FORMAT, "old": {"id": previous.name},
                   "new": {"id": build_dir.name}, "skipped": skipped}
    (build_dir / CHANGES).write_text(json.dumps(changes, ensure_ascii=False, indent=1) + "\n",
                                     encoding="utf-8")
    seconds = round(time.perf_counter() - started, 3)
    info["timings"]["changes"] = seconds
    if skipped is not None:
        log(f"changes against {previous.name} not recorded: {skipped}")
    else:
        s = changes["summary"]
        log(f"changes against {previous.name} ({seconds:.1f} s): fact nodes "
            f"+{s['facts']['added']} -{s['facts']['removed']} ~{s['facts']['changed']}, "
            f"entities +{s['entities']['added']}, inferred +{s['inferred']['gained']} "
            f"-{s['inferred']['lost']}, {s['queries']['changed']} query answer(s) change")


def _run_steps(inputs: Inputs, build_dir: Path, options: Options, log,
               queries_dir: Path | None = None, earlier: Path | None = None) -> dict:
    """The steps into ``build_dir``; ``earlier`` (the published build, if any) lends what
    depends only on sources that did not change: the parsed rules, the ontology's page."""
    timings: dict[str, float] = {}
    with _timed(timings, "load"):
        sources = load_sources(inputs.ontology, inputs.data)
        rules = load_rules(inputs.rules[0].parent, _read_json(earlier, PARSED_RULES)) \
            if inputs.rules else []
        (build_dir / PARSED_RULES).write_text(json.dumps(parsed_rules(rules)) + "\n")
    log(f"loaded {len(sources.ontology)} ontology and {len(sources.data)} data triples "
        f"from {len(sources.files)} files, {len(rules)} rules")
    with _timed(timings, "vocabulary"):
        checked = vocabulary.check(sources, inputs.shapes, inputs.rules)
    log(f"closed vocabulary: every term is one of the ontology's {checked['terms']}, "
        f"every thing used is among the {checked['things']} typed and labelled")
    validation = None
    if options.validate and inputs.shapes:
        from .validate import validate_sources  # the engines load only when they run
        with _timed(timings, "validate"):
            validation = validate_sources(sources.ontology, sources.data, inputs.shapes,
                                          engine=options.validator)
        log(f"SHACL ({validation['engine']}): {len(inputs.shapes)} shapes file(s), "
            f"no violations")
    # the ontology and the asserted facts go into the store on a thread while the build
    # reasons: Oxigraph's bulk loader lets go of the GIL, and the reasoner is mostly one core.
    # "store_beside_reasoning" times that thread; "store" what is left after reasoning.
    writer = store.StoreWriter(build_dir)
    try:
        inference, stats = _reason_and_store(sources, rules, build_dir, writer, timings, log)
    finally:
        writer.close()
    # the dumps' JSON-LD is written by a child process beside the next steps (two cores)
    beside = downloads.DumpsBeside(build_dir) if options.downloads else None
    try:
        del inference               # the reasoner's tables: gigabytes at a million triples
        owl_triples = None
        if options.owl_files:
            with _timed(timings, "owl"):
                owl_triples = export_owl(sources.ontology, sources.data,
                                         build_dir / "owl").triples["full"]
                _documentation(inputs, sources, build_dir, earlier)
        del sources                 # the downloads read the store
        if options.downloads:
            # the time the downloads added to the build (the child's files are waited for)
            with _timed(timings, "downloads"):
                manifest = downloads.write_downloads(build_dir, queries_dir=queries_dir,
                                                     owl_triples=owl_triples, beside=beside)
            log(f"downloads: {len(manifest['files'])} files, "
                f"{sum(f['bytes'] for f in manifest['files']):,} bytes")
    except BaseException:
        if beside is not None:
            beside.stop()
        raise
    store.drop_scans(build_dir)
    return {"id": build_dir.name, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "digest": digest(inputs.all), "files": [str(f) for f in inputs.all],
            "validated": validation is not None,
            "validator": validation["engine"] if validation is not None else None,
            "stats": stats,
            "rules": [r.id for r in rules], "timings": timings}


def _reason_and_store(sources, rules, build_dir: Path, writer: store.StoreWriter,
                      timings: dict[str, float], log) -> tuple:
    """Reason, and write the store (:class:`store.StoreWriter`) and the derivations; the
    inference and the store's statistics."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store") as early:
        loading = early.submit(_timed_call, timings, "store_beside_reasoning", writer.add_all,
                               {ns.GRAPH_ONTOLOGY: sources.ontology,
                                ns.GRAPH_ASSERTED: sources.data})
        try:
            with _timed(timings, "reason"):
                inference = reason(sources.ontology, sources.data, rules)
        finally:
            concurrent.futures.wait([loading])  # before the folder can be removed
    log(f"reasoning: {len(inference.inferred)} inferred triples in {inference.rounds} rule rounds")
    # the derivations are written on a thread while the store is: on two cores the two steps
    # mostly overlap (both only read the reasoner's tables). "derivations" times what is left
    # of them once the store is written.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="derivations") as pool:
        derived = pool.submit(derivations.write, build_dir, inference)
        with _timed(timings, "store"):
            loading.result()            # the loader's error, if it had one
            graphs = {ns.GRAPH_INFERRED: store.NTriplesBatches(
                inference.ntriples(store.BULK_BATCH))}
            writer.add_all(graphs)
            stats = writer.finish()
        with _timed(timings, "derivations"):
            derived.result()
    return inference, stats


def _read_json(build_dir: Path | None, name: str) -> dict | None:
    try:
        return json.loads((build_dir / name).read_text()) if build_dir is not None else None
    except (OSError, ValueError):
        return None


def _documentation(inputs: Inputs, sources, build_dir: Path, earlier: Path | None) -> None:
    """The ontology's HTML page: the earlier build's when it was made from the same ontology
    files by the same code, else rendered (half a second for the bundled ontology)."""
    key = hashlib.sha256()
    for path in inputs.ontology + PAGE_CODE:
        key.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    made = {"key": key.hexdigest()}
    same = _read_json(earlier / "owl" if earlier else None, DOCUMENTATION) == made
    if same and (earlier / "owl" / PAGE).is_file():
        shutil.copyfile(earlier / "owl" / PAGE, build_dir / "owl" / PAGE)
    else:
        export_documentation(sources.ontology, build_dir / "owl")
    (build_dir / "owl" / DOCUMENTATION).write_text(json.dumps(made) + "\n")


def _timed_call(timings: dict[str, float], step: str, function, *args):
    with _timed(timings, step):
        return function(*args)


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
