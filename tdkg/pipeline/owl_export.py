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

:func:`run_hermit` loads such a file into owlready2 and runs HermiT on it; a contradiction
or an unsatisfiable class raises :class:`HermitInconsistencyError` naming the clash.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import rdflib
from rdflib.namespace import OWL, RDF, RDFS, XSD

from .. import namespaces as ns
from . import ontology_html
from .errors import BuildError, InconsistencyError

#: RDF/XML flavour: flat rdf:Description blocks; OWL API and owlready2 read it without loss.
RDFXML_FORMAT = "xml"
ONTOLOGY_FILE = "tdkg.owl"
FULL_FILE = "tdkg-full.owl"
#: namespaces whose classes (owl:Class, rdf:Property, …) type terms, not individuals
BUILT_IN = (str(OWL), str(RDF), str(RDFS), str(XSD))


class HermitInconsistencyError(InconsistencyError):
    """HermiT found the ontology (with its data) inconsistent, or some classes unsatisfiable."""

    def __init__(self, path: Path, detail: str, classes: list[str] | None = None):
        self.path, self.detail, self.classes = path, detail, classes or []
        super().__init__(f"{path}: HermiT: {detail}")


def export_owl(ontology: rdflib.Graph, data: rdflib.Graph, out_dir: Path) -> dict[str, Path]:
    """Write ``tdkg.owl`` (ontology) and ``tdkg-full.owl`` (ontology + data) as RDF/XML."""
    full = full_rdfxml(ontology, data)      # first: a missing ontology header writes nothing
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"ontology": out_dir / ONTOLOGY_FILE, "full": out_dir / FULL_FILE}
    write_atomic(paths["ontology"], to_rdfxml(ontology))
    write_atomic(paths["full"], full)
    return paths


def full_rdfxml(ontology: rdflib.Graph, data: rdflib.Graph) -> bytes:
    """Ontology and data as one RDF/XML ontology document (``tdkg-full.owl``)."""
    return to_rdfxml(merge(ontology, data, ontology_header(ontology)))


def named_individuals(graph: rdflib.Graph) -> set[rdflib.URIRef]:
    """IRIs that a class assertion types: the subject of an ``rdf:type`` whose object is not
    a built-in class of OWL, RDF or RDFS (``owl:Class``, ``owl:NamedIndividual``, …)."""
    return {s for s, c in graph.subject_objects(RDF.type)
            if isinstance(s, rdflib.URIRef) and not str(c).startswith(BUILT_IN)}


def export_documentation(ontology: rdflib.Graph, out_dir: Path) -> Path:
    """Write the ontology's HTML documentation (``tdkg.html``, by :mod:`.ontology_html`) next to the OWL files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ontology_html.HTML_FILE
    try:
        page = ontology_html.render(ontology)
    except Exception as err:      # an ontology it cannot document (no title, ...)
        raise BuildError(f"the ontology documentation failed: {err}") from err
    write_atomic(path, page.encode())
    return path


def ontology_header(graph: rdflib.Graph) -> rdflib.URIRef:
    """The IRI of the graph's one ``owl:Ontology``; anything else is a BuildError."""
    headers = set(graph.subjects(RDF.type, OWL.Ontology))
    if len(headers) != 1 or not isinstance(next(iter(headers)), rdflib.URIRef):
        raise BuildError(f"the ontology must have exactly one owl:Ontology IRI, found {headers}")
    return next(iter(headers))


def merge(ontology: rdflib.Graph, data: rdflib.Graph, header: rdflib.URIRef) -> rdflib.Graph:
    """Ontology and data as one document under ``header``.

    A header the data brings along is dropped; its ``owl:imports`` of other ontologies
    move to ``header`` (an import of ``header`` itself is now pointless and goes).
    """
    merged = new_graph(ontology, data)
    for triple in ontology:
        merged.add(triple)
    data_headers = set(data.subjects(RDF.type, OWL.Ontology)) - {header}
    for s, p, o in data:
        if s not in data_headers:
            merged.add((s, p, o))
        elif p == OWL.imports and o != header:
            merged.add((header, p, o))
    merged.remove((header, OWL.imports, header))
    return merged


def new_graph(*sources: rdflib.Graph) -> rdflib.Graph:
    """An empty graph with the project's prefixes and those of ``sources`` bound."""
    graph = rdflib.Graph(bind_namespaces="core")
    for source in sources:
        for prefix, iri in source.namespaces():
            graph.bind(prefix, iri, override=False)
    for prefix, iri in ns.PREFIXES.items():
        graph.bind(prefix, iri, override=True, replace=True)
    return graph


def to_rdfxml(graph: rdflib.Graph) -> bytes:
    """``graph`` as RDF/XML, with the project's prefixes and every named individual declared."""
    out = new_graph(graph)
    for triple in graph:
        out.add(triple)
    for individual in named_individuals(graph):
        out.add((individual, RDF.type, OWL.NamedIndividual))
    return out.serialize(format=RDFXML_FORMAT, encoding="utf-8")


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
