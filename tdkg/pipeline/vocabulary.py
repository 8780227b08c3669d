"""Between load and validate: a closed vocabulary. A name the project does not know fails the build.

Every IRI under ``https://w3id.org/tdkg/`` that a source uses (ontology, shapes, data and the
SPARQL rules, in any position) must be known:

* ``tdkg:`` (``…/ontology#``): declared by the ontology, i.e. given an ``rdf:type`` there. A
  predicate must be declared a property, the object of ``rdf:type`` (or of ``sh:class``,
  ``sh:targetClass``) a class; anywhere else any declared term will do (statuses, currencies,
  roles and indicators are individuals the ontology declares).
* ``tdi:`` (``…/id/``) and ``tds:`` (``…/source/``: documents, footnotes, cited works): things,
  which must have an ``rdf:type`` and an ``rdfs:label`` in the asserted graph (data or
  ontology). Nodes the reasoner mints (``tdi:inferred/…``) appear after this step and are not
  checked here.
* ``tdsh:`` (``…/shapes#``): shapes, defined (as subjects) in the shapes files; nowhere else.
* anything else under the base: an IRI the ontology itself mentions (its own IRI, its version
  IRI) or a graph name of the store; a misspelt prefix declaration lands here.

Terms are gathered from the parsed triples in one linear pass into sets. Only when something is
wrong is a file read again, by :mod:`.termuses`, to find the line of each bad term's first use;
rule files are not triples, so they are always tokenized (they are small). All problems are
raised at once as a :class:`VocabularyError`, each with the nearest known name as a hint
(:mod:`difflib`).
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from .. import namespaces as ns
from .errors import Problem, VocabularyError
from .load import Sources, parse_file
from .termuses import CLASS, PROPERTY, TERM, Lines, file_uses, term_uses

SHAPES = ns.BASE + "shapes#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SH = "http://www.w3.org/ns/shacl#"
RDF_TYPE = ox.NamedNode(RDF + "type")
RDFS_LABEL = ox.NamedNode(RDFS + "label")

CLASS_TYPES = {OWL + "Class", RDFS + "Class", RDFS + "Datatype"}
PROPERTY_TYPES = {RDF + "Property"} | {OWL + k + "Property" for k in (
    "Object", "Datatype", "Annotation", "Ontology", "Functional", "InverseFunctional",
    "Transitive", "Symmetric", "Asymmetric", "Reflexive", "Irreflexive")}
SHAPE_LINKS = {SH + "class": CLASS, SH + "targetClass": CLASS, SH + "path": PROPERTY,
               SH + "targetSubjectsOf": PROPERTY, SH + "targetObjectsOf": PROPERTY}
SHAPE_QUERIES = {SH + "select", SH + "ask"}
ENTITY_SPACES = (ns.ID, ns.SOURCE)
HINTED = 25          # problems that get a difflib hint (each costs a scan of the known names)


def space_of(iri: str) -> str | None:
    """The project namespace of an IRI: 'vocabulary', 'entity', 'shapes', 'other' or None."""
    if not iri.startswith(ns.BASE):
        return None
    if iri.startswith(ns.TDKG):
        return "vocabulary"
    if iri.startswith(ENTITY_SPACES):
        return "entity"
    return "shapes" if iri.startswith(SHAPES) else "other"


def short(iri: str) -> str:
    """``tdkg:ArmsDeal`` for the project's prefixes, ``<iri>`` otherwise."""
    for prefix, space in (("tdkg", ns.TDKG), ("tdi", ns.ID), ("tds", ns.SOURCE),
                          ("tdsh", SHAPES)):
        local = iri[len(space):]
        if iri.startswith(space) and re.fullmatch(r"[\w-]+(?:[\w.-]*[\w-])?", local):
            return f"{prefix}:{local}"
    return f"<{iri}>"


def nearest(iri: str, known: Iterable[str]) -> str | None:
    """The known IRI whose name is closest to ``iri``'s (ignoring case), if any is close."""
    by_name = {_name(k).lower(): k for k in known}
    match = difflib.get_close_matches(_name(iri).lower(), by_name, n=1, cutoff=0.6)
    return by_name[match[0]] if match else None


def _name(iri: str) -> str:
    return re.split("[#/]", iri)[-1]


# --- what is known ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """What the ontology declares: its tdkg: terms by kind, and the other project IRIs it uses."""

    classes: frozenset[str]
    properties: frozenset[str]
    terms: frozenset[str]           # every declared tdkg: term, individuals included
    others: frozenset[str]

    @classmethod
    def of(cls, ontology: Iterable[ox.Triple]) -> Vocabulary:
        kinds: dict[str, set[str]] = {CLASS: set(), PROPERTY: set(), TERM: set()}
        others = set(ns.FACT_GRAPHS)
        for t in ontology:
            for node in (t.subject, t.object):
                if type(node) is ox.NamedNode and space_of(node.value) == "other":
                    others.add(node.value)
            if t.predicate == RDF_TYPE and type(t.subject) is ox.NamedNode \
                    and t.subject.value.startswith(ns.TDKG):
                kinds[TERM].add(t.subject.value)
                kind = _declared_kind(t.object)
                if kind:
                    kinds[kind].add(t.subject.value)
        return cls(*(frozenset(kinds[k]) for k in (CLASS, PROPERTY, TERM)), frozenset(others))

    def of_kind(self, kind: str) -> frozenset[str]:
        return {CLASS: self.classes, PROPERTY: self.properties, TERM: self.terms}[kind]

    def judge(self, iri: str, role: str, guess: str | None = None) -> str | None:
        """None when ``iri`` may stand where ``role`` is asked for, else what is wrong; the hint
        is taken from the terms of kind ``guess`` (default: ``role``)."""
        if iri in self.of_kind(role):
            return None
        if iri in self.terms:
            return f"{short(iri)} is used as a {role}, but the ontology declares it as " \
                   f"{self.describe(iri)}"
        hint = nearest(iri, self.of_kind(guess or role) or self.terms)
        return f"unknown {role} {short(iri)}: the ontology does not declare it" + _hint(hint)

    def describe(self, iri: str) -> str:
        kinds = [k for k in (CLASS, PROPERTY) if iri in self.of_kind(k)]
        return " and ".join(f"a {k}" for k in kinds) or "an individual"


def _declared_kind(type_: object) -> str | None:
    value = type_.value if type(type_) is ox.NamedNode else ""
    return CLASS if value in CLASS_TYPES else PROPERTY if value in PROPERTY_TYPES else None


def _hint(iri: str | None) -> str:
    return f" (did you mean {short(iri)}?)" if iri else ""


@dataclasses.dataclass(frozen=True)
class Known:
    """Everything a use is judged against: the vocabulary, the described things, the shapes."""

    vocabulary: Vocabulary
    typed: frozenset[str]
    labelled: frozenset[str]
    shapes: frozenset[str]

    @functools.cached_property
    def described(self) -> frozenset[str]:
        return self.typed & self.labelled

    def judge(self, iri: str, role: str, in_shapes: bool = False,
              guess: str | None = None) -> str | None:
        """None when ``iri`` is known for ``role``, else a message naming it."""
        space = space_of(iri)
        if space == "vocabulary":
            return self.vocabulary.judge(iri, role, guess)
        if space == "entity":
            return self._judge_entity(iri)
        if space == "shapes":
            return None if in_shapes and iri in self.shapes else \
                f"{short(iri)} is not a shape defined in the shapes files"
        if space == "other" and iri not in self.vocabulary.others:
            return f"{short(iri)} is in none of the project's namespaces (ontology#, id/, " \
                   f"source/); is a prefix misspelt?" + _hint(nearest(iri, self.vocabulary.terms))
        return None

    def _judge_entity(self, iri: str) -> str | None:
        missing = [what for what, found in (("rdf:type", self.typed), ("rdfs:label",
                                                                       self.labelled))
                   if iri not in found]
        if not missing:
            return None
        return f"{short(iri)} is used, but the data gives it no {' and no '.join(missing)}"

    def hint(self, iri: str) -> str:
        """The nearest described thing to a misspelt tdi:/tds: IRI, as a message suffix."""
        space = ns.ID if iri.startswith(ns.ID) else ns.SOURCE
        return _hint(nearest(iri, (d for d in self.described if d.startswith(space))))


# --- what a file uses -----------------------------------------------------------------------


@dataclasses.dataclass
class Uses:
    """The project IRIs one file uses, by the kind of term their position asks for."""

    by_role: dict[str, set[str]]
    typed: set[str]
    labelled: set[str]

    def items(self) -> Iterator[tuple[str, str]]:
        """(IRI, role) for every role an IRI is used in (a property can also be a subject)."""
        for role in (PROPERTY, CLASS, TERM):
            for iri in self.by_role[role]:
                yield iri, role


def uses_of(triples: Iterable[ox.Triple]) -> Uses:
    """One pass over a file's triples; the project filter runs on distinct terms only."""
    predicates, classes, nodes, typed, labelled = set(), set(), set(), set(), set()
    for t in triples:
        s, p, o = t.subject, t.predicate, t.object
        predicates.add(p)
        nodes.add(s)
        if p == RDF_TYPE:
            classes.add(o)
            typed.add(s)
        elif type(o) is ox.NamedNode:
            nodes.add(o)
        elif type(o) is ox.Literal:
            classes.add(o.datatype)     # a datatype is a class too
            if p == RDFS_LABEL:
                labelled.add(s)
    return Uses({PROPERTY: _project(predicates), CLASS: _project(classes), TERM: _project(nodes)},
                _project(typed), _project(labelled))


def _project(terms: set) -> set[str]:
    return {t.value for t in terms if type(t) is ox.NamedNode and t.value.startswith(ns.BASE)}


def shape_uses(triples: list[ox.Triple]) -> Uses:
    """A shapes file's uses: its triples, what SHACL links name (``sh:class`` a class,
    ``sh:path`` a property), and the terms inside its SPARQL constraints."""
    uses = uses_of(triples)
    declared = shape_prefixes(triples)
    for t in triples:
        role = SHAPE_LINKS.get(t.predicate.value)
        if role and type(t.object) is ox.NamedNode:
            uses.by_role[role] |= _project({t.object})
        elif t.predicate.value in SHAPE_QUERIES and type(t.object) is ox.Literal:
            for iri, _, role in term_uses(t.object.value, declared):
                if space_of(iri):
                    uses.by_role[CLASS if role == CLASS else TERM].add(iri)
    return uses


def shape_prefixes(triples: list[ox.Triple]) -> dict[str, str]:
    """The ``sh:declare`` prefixes of a shapes graph (what its SPARQL constraints resolve with)."""
    values: dict[object, dict[str, str]] = {}
    for t in triples:
        if t.predicate.value in (SH + "prefix", SH + "namespace"):
            values.setdefault(t.subject, {})[t.predicate.value[len(SH):]] = t.object.value
    return {v["prefix"]: v["namespace"] for v in values.values() if len(v) == 2}


# --- the check ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Finding:
    """Something wrong with one IRI in one file, before its line is known."""

    iri: str
    role: str
    message: str


def findings(uses: Uses, known: Known, in_shapes: bool = False) -> list[Finding]:
    """What is wrong in one file: for each IRI, the first role it fails in."""
    found: dict[str, Finding] = {}
    for iri, role in uses.items():
        if iri not in found:
            message = known.judge(iri, role, in_shapes)
            if message:
                found[iri] = Finding(iri, role, message)
    return list(found.values())


def _hinted(found: list[Finding], known: Known) -> list[Finding]:
    """Add the nearest described thing to the first misspelt-looking tdi:/tds: IRIs."""
    budget = HINTED
    for i, f in enumerate(found):
        if budget and space_of(f.iri) == "entity" and f.iri not in known.typed \
                and f.iri not in known.labelled:
            found[i] = dataclasses.replace(f, message=f.message + known.hint(f.iri))
            budget -= 1
    return found


def locate(path: Path, found: list[Finding], inner: dict[str, str] | None = None) -> list[Problem]:
    """Problems with the line of each IRI's first use in ``path`` (preferring a use in the
    position that was judged); the line is None if the tokens cannot show it."""
    roles = {f.iri: f.role for f in found}
    first: dict[str, int] = {}
    fitting: dict[str, int] = {}
    for iri, line, role in file_uses(path, inner, list(roles)):
        if iri in roles:
            first[iri] = min(first.get(iri, line), line)
            if role == roles[iri]:
                fitting[iri] = min(fitting.get(iri, line), line)
    problems = [Problem(path, fitting.get(f.iri, first.get(f.iri)), f.message) for f in found]
    return sorted(problems, key=lambda p: p.line or 0)


def rule_problems(path: Path, known: Known) -> list[Problem]:
    """A SPARQL rule's terms, from its tokens (its own prefixes, else the project's). Only a
    class after ``a`` is held to its kind: other positions are not certain from tokens."""
    text = path.read_text(encoding="utf-8")
    lines, problems, seen = Lines(text), [], set()
    for iri, offset, role in term_uses(text, ns.PREFIXES):
        asked = CLASS if role == CLASS else TERM
        if (iri, asked) in seen or not space_of(iri):
            continue
        seen.add((iri, asked))
        message = known.judge(iri, asked, guess=role)
        if message:
            problems.append(Problem(path, lines.line(offset), message))
    return problems


def check(sources: Sources, shapes: Iterable[Path] = (), rules: Iterable[Path] = ()) -> dict:
    """Raise :class:`VocabularyError` naming every unknown term and every undescribed thing
    in the sources, shapes and rules; return what was checked, for the build log."""
    shape_triples = {path: parse_file(path) for path in shapes}
    uses = {path: uses_of(triples) for path, triples in sources.by_file.items()}
    known = Known(Vocabulary.of(sources.ontology),
                  frozenset().union(*(u.typed for u in uses.values())),
                  frozenset().union(*(u.labelled for u in uses.values())),
                  frozenset(t.subject.value for triples in shape_triples.values()
                            for t in triples if type(t.subject) is ox.NamedNode
                            and t.subject.value.startswith(SHAPES)))
    uses.update({path: shape_uses(triples) for path, triples in shape_triples.items()})
    problems: list[Problem] = []
    for path, used in uses.items():
        found = _hinted(findings(used, known, path in shape_triples), known)
        if found:
            inner = shape_prefixes(shape_triples[path]) if path in shape_triples else None
            problems += locate(path, found, inner)
    for path in rules:
        problems += rule_problems(path, known)
    if problems:
        raise VocabularyError(problems)
    return {"terms": len(known.vocabulary.terms), "things": len(known.described)}
