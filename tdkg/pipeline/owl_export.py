"""OWL export and the HermiT check: the build's bridge to OWL tools that cannot read Turtle.

The build writes the ontology alone (``tdkg.owl``) and the ontology merged with the asserted
data (``tdkg-full.owl``) as RDF/XML, the one syntax that Protégé, the OWL API and owlready2
all read. The full file is ONE ontology: the data's triples go into the ontology's document
under its single ``owl:Ontology`` header, so Protégé shows one ontology, not an import chain.
The downloads serve it as ``/downloads/tdkg-full.owl``.

Both files declare every named individual (OWL 2 Structural Specification §5.8): an IRI typed
by a class that is not one of OWL's, RDF's or RDFS's own gets ``rdf:type owl:NamedIndividual``.
OWL 2 DL does not need the declaration when a class assertion types the IRI, but tools that
list individuals by it (owlready2's ``individuals()``) see only the declared ones. The curated
data stays as it is: the declarations are made here, for the export only.

Oxigraph's RDF/XML serializer writes the files from the parsed triples (rdflib's took 20 times
as long and a copy of every triple in rdflib terms): one element per subject, named by its
first ``rdf:type``, with the project's prefixes.

:func:`run_hermit` loads such a file into owlready2 and runs HermiT on it; a contradiction
or an unsatisfiable class raises :class:`HermitInconsistencyError` naming the clash.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from .. import namespaces as ns
from .errors import BuildError, InconsistencyError

ONTOLOGY_FILE = "tdkg.owl"
FULL_FILE = "tdkg-full.owl"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
#: namespaces whose classes (owl:Class, rdf:Property, …) type terms, not individuals
BUILT_IN = (OWL, RDF, RDFS, XSD)
RDF_TYPE = ox.NamedNode(RDF + "type")
OWL_ONTOLOGY = ox.NamedNode(OWL + "Ontology")
OWL_IMPORTS = ox.NamedNode(OWL + "imports")
NAMED_INDIVIDUAL = ox.NamedNode(OWL + "NamedIndividual")
#: what an RDF/XML property element's local name must be (an XML NCName, roughly)
_LOCAL_NAME = re.compile(r"[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*\Z")


class HermitInconsistencyError(InconsistencyError):
    """HermiT found the ontology (with its data) inconsistent, or some classes unsatisfiable."""

    def __init__(self, path: Path, detail: str, classes: list[str] | None = None):
        self.path, self.detail, self.classes = path, detail, classes or []
        super().__init__(f"{path}: HermiT: {detail}")


Triples = Iterable[ox.Triple]


class Exported(dict):
    """The paths :func:`export_owl` wrote (``"ontology"``, ``"full"``), with the number of
    triples of each file in ``triples``."""

    triples: dict[str, int]


def export_owl(ontology, data, out_dir: Path) -> Exported:
    """Write ``tdkg.owl`` (ontology) and ``tdkg-full.owl`` (ontology + data) as RDF/XML.

    ``ontology`` and ``data`` are lists of pyoxigraph triples (what the build parsed), or rdflib
    graphs."""
    ontology, data = triples_of(ontology), triples_of(data)
    full, full_count = full_rdfxml(ontology, data, counted=True)   # first: a missing header
    out_dir.mkdir(parents=True, exist_ok=True)                      # writes nothing
    paths = Exported(ontology=out_dir / ONTOLOGY_FILE, full=out_dir / FULL_FILE)
    own, own_count = to_rdfxml(ontology, counted=True)
    write_atomic(paths["ontology"], own)
    write_atomic(paths["full"], full)
    paths.triples = {"ontology": own_count, "full": full_count}
    return paths


def full_rdfxml(ontology: Triples, data: Triples, counted: bool = False):
    """Ontology and data as one RDF/XML ontology document (``tdkg-full.owl``); with
    ``counted``, (document, number of triples)."""
    ontology, data = triples_of(ontology), triples_of(data)
    return to_rdfxml(merge(ontology, data, ontology_header(ontology)), counted)


def named_individuals(triples: Triples) -> set[ox.NamedNode]:
    """IRIs that a class assertion types: the subject of an ``rdf:type`` whose object is not
    a built-in class of OWL, RDF or RDFS (``owl:Class``, ``owl:NamedIndividual``, …)."""
    return {t.subject for t in triples if t.predicate == RDF_TYPE
            and type(t.subject) is ox.NamedNode and not _built_in(t.object)}


def _built_in(term) -> bool:
    return type(term) is ox.NamedNode and term.value.startswith(BUILT_IN)


def export_documentation(ontology, out_dir: Path) -> Path:
    """Write the ontology's HTML documentation (``tdkg.html``, by :mod:`.ontology_html`) next
    to the OWL files; ``ontology`` as for :func:`export_owl`."""
    from . import ontology_html  # Jinja and rdflib: only when a build writes the page

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ontology_html.HTML_FILE
    try:
        page = ontology_html.render(ontology)
    except Exception as err:      # an ontology it cannot document (no title, ...)
        raise BuildError(f"the ontology documentation failed: {err}") from err
    write_atomic(path, page.encode())
    return path


def ontology_header(triples: Triples) -> ox.NamedNode:
    """The IRI of the triples' one ``owl:Ontology``; anything else is a BuildError."""
    headers = {t.subject for t in triples if t.predicate == RDF_TYPE and t.object == OWL_ONTOLOGY}
    if len(headers) != 1 or type(next(iter(headers))) is not ox.NamedNode:
        found = sorted(str(h) for h in headers)
        raise BuildError(f"the ontology must have exactly one owl:Ontology IRI, found {found}")
    return next(iter(headers))


def merge(ontology: Triples, data: Triples, header: ox.NamedNode) -> list[ox.Triple]:
    """Ontology and data as one document under ``header``.

    A header the data brings along is dropped; its ``owl:imports`` of other ontologies
    move to ``header`` (an import of ``header`` itself is now pointless and goes).
    """
    data = triples_of(data)
    data_headers = {t.subject for t in data if t.predicate == RDF_TYPE
                    and t.object == OWL_ONTOLOGY} - {header}
    merged = list(ontology)
    if not data_headers:
        merged += data
    else:
        for t in data:
            if t.subject not in data_headers:
                merged.append(t)
            elif t.predicate == OWL_IMPORTS and t.object != header:
                merged.append(ox.Triple(header, OWL_IMPORTS, t.object))
    pointless = ox.Triple(header, OWL_IMPORTS, header)
    return [t for t in merged if t != pointless]


def to_rdfxml(triples: Triples, counted: bool = False):
    """The triples as RDF/XML (Oxigraph's serializer), with the project's prefixes and every
    named individual declared; each subject's triples are written as one element, and a triple
    given twice once. With ``counted``, (document, number of triples written)."""
    triples = triples_of(triples)
    _check_predicates(triples)
    grouped = list(_grouped(triples, named_individuals(triples)))
    document = ox.serialize(grouped, format=ox.RdfFormat.RDF_XML, prefixes=ns.PREFIXES)
    return (document, len(grouped)) if counted else document


def _grouped(triples: list[ox.Triple], individuals: set[ox.NamedNode]) -> Iterator[ox.Triple]:
    """The triples, each distinct one once, by subject in the order subjects first appear,
    each individual's ``owl:NamedIndividual`` declaration with its other triples."""
    by_subject: dict[object, list[ox.Triple]] = {}
    seen: set[ox.Triple] = set()
    for t in triples:
        if t in seen:
            continue
        seen.add(t)
        group = by_subject.get(t.subject)
        if group is not None:
            group.append(t)
            continue
        group = by_subject[t.subject] = [t]
        if t.subject in individuals:        # after the first: it names the element
            declaration = ox.Triple(t.subject, RDF_TYPE, NAMED_INDIVIDUAL)
            if declaration not in seen:
                group.append(declaration)
                seen.add(declaration)
    for group in by_subject.values():
        yield from group


def _check_predicates(triples: list[ox.Triple]) -> None:
    """RDF/XML writes a property as an XML element: its IRI must end in an XML name."""
    for p in {t.predicate for t in triples}:
        local = re.split(r"[#/:]", p.value)[-1]
        if not _LOCAL_NAME.match(local):
            raise BuildError(f"the property <{p.value}> cannot be written as RDF/XML: its IRI "
                             f"does not end in an XML name")


def triples_of(source) -> list[ox.Triple]:
    """pyoxigraph triples of a list of them (returned as it is) or of an rdflib graph."""
    if isinstance(source, list):
        return source
    if hasattr(source, "namespace_manager"):        # an rdflib graph (tests, older callers)
        from .convert import to_ox_term
        return [ox.Triple(*(to_ox_term(x) for x in t)) for t in source]
    return list(source)


def write_atomic(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` in one step: readers see the old file or the new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def java_executable() -> str:
    """The ``java`` on PATH (Debian's, via update-alternatives), which runs HermiT."""
    java = shutil.which("java")
    if not java:
        raise BuildError("cannot run HermiT: no java on PATH (default-jre-headless)")
    return java


def run_hermit(owl_path: Path) -> None:
    """Run HermiT (through owlready2) on an RDF/XML file; raise on a contradiction."""
    import owlready2  # heavy import, and only the OWL check needs it

    owlready2.JAVA_EXE = java_executable()
    world = owlready2.World()
    try:
        with owl_path.open("rb") as handle:
            world.get_ontology(ns.ONTOLOGY).load(fileobj=handle)
        _reason(owlready2, world, owl_path)
        unsatisfiable = _unsatisfiable(owlready2, world)
    finally:
        world.close()
    if unsatisfiable:
        raise HermitInconsistencyError(
            owl_path, f"unsatisfiable classes: {', '.join(unsatisfiable)}", unsatisfiable)


def _unsatisfiable(owlready2, world) -> list[str]:
    return sorted(c.iri for c in world.inconsistent_classes() if c is not owlready2.Nothing)


def _reason(owlready2, world, owl_path: Path) -> None:
    try:
        owlready2.sync_reasoner_hermit(world, infer_property_values=True, debug=0)
    except owlready2.OwlReadyInconsistentOntologyError:
        clashes = disjoint_clashes(owlready2, world)
        hint = "; ".join(clashes) if clashes else (
            "no two disjoint classes meet on one individual through its types, domains or"
            " ranges: look at functional properties, cardinalities and other restrictions")
        raise HermitInconsistencyError(owl_path, f"inconsistent ontology: {hint}") from None


def disjoint_clashes(owlready2, world) -> list[str]:
    """HermiT says only "inconsistent"; name individuals that fall into disjoint classes.

    An individual's classes are its asserted types, the domains of the properties it has
    and the ranges of the object properties that point at it, with all their superclasses.
    """
    clashes, disjoint = set(), [set(axiom.entities) for axiom in world.disjoint_classes()]
    for (individual,) in world.sparql(_TYPED_THINGS):
        classes = _implied_classes(owlready2, individual)
        for a, b in _disjoint_pairs(classes, disjoint):
            clashes.add(f"{individual.iri} is both {a} and {b}, which are disjoint")
    return sorted(clashes)


#: every typed individual: owlready2's ``World.individuals()`` finds only declared ones
_TYPED_THINGS = "SELECT DISTINCT ?x WHERE { ?x a ?c . ?c a owl:Class }"


def _implied_classes(owlready2, individual) -> set:
    named = set(individual.is_a)
    for prop in individual.get_properties():
        named.update(prop.domain)
    for _, prop in individual.get_inverse_properties():
        named.update(prop.range)
    named = {c for c in named if isinstance(c, owlready2.ThingClass)}
    return set().union(*(c.ancestors() for c in named))


def _disjoint_pairs(classes: set, disjoint: list[set]) -> set[tuple[str, str]]:
    pairs = set()
    for members in disjoint:
        met = sorted(c.iri for c in members & classes)
        pairs.update((a, b) for i, a in enumerate(met) for b in met[i + 1:])
    return pairs
