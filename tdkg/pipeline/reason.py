"""Step 3 of the build: infer what the ontology and the rules entail, and why.

The OWL semantics the ontology declares are applied by :mod:`.materialize`; the rules in
``ontology/rules/`` (:mod:`.rules`) run on Oxigraph over everything known so far; the two
alternate until neither adds a triple. The result keeps every inferred triple apart from the
asserted ones, each with its derivation and status strength.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox

from .. import namespaces as ns
from .materialize import NEUTRAL, Derivation, Materializer, Strengths
from .rules import Rule
from .tbox import compile_tbox
from .terms import Interner, Memo, Triple

MAX_ROUNDS = 20    # passes of a recursive stratum
STATUS = ns.TDKG + "status"
STRENGTH = ns.TDKG + "strength"


@dataclasses.dataclass
class Inference:
    terms: Interner
    inferred: dict[Triple, Derivation]
    strength: Strengths                 # plain strengths (a view of the engine's table)
    statuses: dict[int, int]            # strength → status individual (term id)
    rules: list[Rule]
    rounds: int
    ontology: set[Triple]               # the ontology's own triples (axioms and their individuals)

    def origin(self, t: Triple) -> str:
        if t in self.inferred:
            return "inferred"
        return "axiom" if t in self.ontology else "asserted"

    def triples(self) -> Iterable[ox.Triple]:
        return (self.terms.to_triple(t) for t in self.inferred)

    def ntriples(self, batch: int) -> Iterator[bytes]:
        """The inferred triples as N-Triples text, ``batch`` lines at a time."""
        return self.terms.ntriples(self.inferred, batch)

    def status_name(self, strength: int) -> str | None:
        status = self.statuses.get(strength)
        return None if status is None else self.terms.term(status).value


def _status_tables(terms: Interner, triples: list[Triple]) -> tuple[dict[int, int], dict[int, int]]:
    """(node → strength of its status, strength → status individual)."""
    status_p, strength_p = terms.id(STATUS), terms.id(STRENGTH)
    strength_of = {s: int(terms.term(o).value) for s, p, o in triples if p == strength_p}
    node_strength = {s: strength_of.get(o, NEUTRAL) for s, p, o in triples if p == status_p}
    return node_strength, {v: k for k, v in strength_of.items()}


def reason(ontology: list[ox.Triple], data: list[ox.Triple], rules: list[Rule]) -> Inference:
    """Materialize to a fixpoint; raises InconsistencyError on a clash."""
    with _no_cycle_collection():
        return _reason(ontology, data, rules)


@contextlib.contextmanager
def _no_cycle_collection():
    """Python's cycle collector off while the reasoner runs. The reasoner makes millions of
    objects that live to the end and next to no reference cycles (those few are collected once
    it is done), and the collector would go over all of them again each time their number grew
    by a quarter: a fifth of the time at 1M triples."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _reason(ontology: list[ox.Triple], data: list[ox.Triple], rules: list[Rule]) -> Inference:
    terms = Interner()
    onto, facts = terms.triples(ontology), terms.triples(data)
    node_strength, statuses = _status_tables(terms, onto + facts)
    engine = Materializer(terms, compile_tbox(onto, terms))
    engine.assert_all(onto, {})
    engine.assert_all(facts, node_strength)
    engine.run()
    rounds = _apply_rules(engine, rules) if rules else 0
    return Inference(terms, engine.inferred(), engine.strengths(), statuses, rules, rounds, set(onto))


def _apply_rules(engine: Materializer, rules: list[Rule]) -> int:
    """Run the rules stratum by stratum (as in stratified Datalog): a stratum's rules read the
    asserted facts and everything inferred before the stratum started, each runs once, and the
    OWL closure of their conclusions is taken before the next stratum. Only a stratum with a
    rule marked recursive is repeated, until it adds nothing. Returns the number of passes."""
    store, loaded, passes = ox.Store(), 0, 0
    wanted = _readable(engine, rules)
    strata = sorted({rule.stratum for rule in rules})
    with tempfile.TemporaryDirectory(prefix="tdkg-rules-") as folder, \
            ThreadPoolExecutor(1, thread_name_prefix="tdkg-rules") as evaluator:
        for stratum in strata:
            members = [rule for rule in rules if rule.stratum == stratum]
            recursive = any(rule.recursive for rule in members)
            last = stratum == strata[-1] and not recursive
            for _ in range(MAX_ROUNDS):
                loaded = _sync(engine, store, loaded, wanted)
                # every WHERE clause of the pass is evaluated on the background thread, one
                # after the other, while this thread derives from the solutions already written
                pending = [evaluator.submit(_evaluate, store, rule, Path(folder) / f"{i}.tsv")
                           for i, rule in enumerate(members)]
                try:
                    for rule, solutions in zip(members, pending):
                        path = solutions.result()
                        if last and solutions is pending[-1]:
                            # no rule reads the store again: free it (a fifth of the memory
                            # at 1M triples) before the last conclusions grow the tables
                            store = None
                            _return_freed_memory()
                        _run_rule(engine, rule, path)
                        path.unlink()
                finally:
                    for solutions in pending:
                        solutions.cancel()
                passes += 1
                if engine.run() == 0 or not recursive:
                    break
            else:
                raise RuntimeError(
                    f"stratum {stratum} did not reach a fixpoint in {MAX_ROUNDS} passes")
    return passes


def _evaluate(store: ox.Store, rule: Rule, path: Path) -> Path:
    """Write the solutions of the rule's WHERE clause to ``path`` as SPARQL TSV. Oxigraph
    evaluates and writes them without holding the GIL, so this runs on the other core while
    the reasoner works; iterating over the solutions from Python instead would take the GIL
    back for every row."""
    store.query(rule.select).serialize(str(path), ox.QueryResultsFormat.TSV)
    return path


def _return_freed_memory() -> None:
    """Hand memory freed by the store back to the OS. The store's memory comes from the C
    allocator, which keeps freed blocks for itself; Python's own objects come from separate
    arenas and could not reuse them, so without this the freed store still counts in the
    process's peak."""
    try:
        ctypes.CDLL(None).malloc_trim(0)        # glibc; absent elsewhere
    except (AttributeError, OSError):
        pass


def _readable(engine: Materializer, rules: list[Rule]):
    """A test for the triples some rule can match; the rules' store holds only those."""
    if any(rule.reads is None for rule in rules):
        return lambda t: True
    terms = engine.terms
    pairs = {(terms.id(p), None if c is None else terms.id(c)) for r in rules for p, c in r.reads}
    any_object = {p for p, c in pairs if c is None}
    return lambda t: t[1] in any_object or (t[1], t[2]) in pairs


def _sync(engine: Materializer, store: ox.Store, loaded: int, wanted) -> int:
    """Copy the triples that became final since the last copy, and that a rule can read, into
    the rules' store."""
    new = engine.order[loaded:]
    terms, quad = engine.terms.terms, ox.Quad
    # each quad straight from the interned terms: unpacking an ox.Triple made first would
    # build every term again (at 1M triples that was 5 s of the 50)
    store.bulk_extend(quad(terms[t[0]], terms[t[1]], terms[t[2]]) for t in new if wanted(t))
    return loaded + len(new)


def _run_rule(engine: Materializer, rule: Rule, solutions: Path) -> None:
    """Derive the rule's conclusions for each solution of its WHERE clause (a TSV file).

    Solutions are bound straight to term ids (each distinct term text read once), and a
    solution whose conclusions are all final already is passed over before its premises are
    built (in a recursive stratum's later passes that is nearly every solution).
    """
    strength, derive = engine.strength, engine.derive_all
    conclusions = _id_patterns(rule.template, engine.terms)
    premises = _id_patterns(rule.premises, engine.terms)
    ids = _TermIds(engine.terms)
    misplaced = ids.not_subject, ids.not_predicate
    with solutions.open(encoding="utf-8", newline="\n") as rows:
        header = rows.readline().rstrip("\n")
        columns = [name[1:] for name in header.split("\t")] if header else []
        used = [(i, name) for i, name in enumerate(columns)
                if any(name in p for p in conclusions + premises)]
        for line in rows:
            values = line.rstrip("\n").split("\t")
            bound = {name: ids[values[i]] for i, name in used if values[i]}
            drawn = _bind_all(conclusions, bound, *misplaced)
            if all(strength.get(t, 0) < 0 for t in drawn):       # all final already
                continue
            why = tuple(t for t in _bind_all(premises, bound, *misplaced)
                        if strength.get(t, 0) < 0)
            derive(drawn, rule.id, why)


class _TermIds(Memo):
    """Term ids by the text SPARQL TSV writes for each term, each text read once; with the ids
    of the terms read that cannot be a subject (literals) or a predicate (all but IRIs)."""

    def __init__(self, terms: Interner):
        super().__init__(self._read)
        self.terms, self.not_subject, self.not_predicate = terms, set(), set()

    def _read(self, text: str) -> int:
        found = self.terms.intern(_tsv_term(text))
        if not text.startswith("<"):
            self.not_predicate.add(found)
            if not text.startswith("_:"):
                self.not_subject.add(found)
        return found


def _tsv_term(text: str):
    """The RDF term ``text`` writes in a SPARQL TSV result: Turtle's syntax for terms."""
    if text.startswith("<"):
        return ox.NamedNode(text[1:-1])
    if text.startswith("_:"):
        return ox.BlankNode(text[2:])
    # a literal, perhaps in a short form (42, 1.5, true): Turtle's parser reads them all
    return next(iter(ox.parse(f"<x:s> <x:p> {text} .".encode(), format=ox.RdfFormat.TURTLE))).object


IdPattern = tuple[int | str, int | str, int | str]     # term ids, or variable names


def _id_patterns(patterns, terms: Interner) -> list[IdPattern]:
    """The patterns over term ids, leaving out any that no solution can make a valid triple
    (a constant literal as subject, a constant predicate that is not an IRI)."""
    out = []
    for pattern in patterns:
        s, p, o = (x if isinstance(x, str) else terms.intern(x) for x in pattern)
        if isinstance(s, int) and terms.is_literal(s) or isinstance(p, int) and not terms.is_iri(p):
            continue
        out.append((s, p, o))
    return out


def _bind_all(patterns: list[IdPattern], bound: dict[str, int], not_subject: set[int],
              not_predicate: set[int]) -> list[Triple]:
    """The patterns' triples under ``bound``, leaving out a pattern with a variable unbound or
    bound to a term that cannot stand there (a literal subject, a predicate that is not an
    IRI); constants were checked by :func:`_id_patterns`."""
    out = []
    for s, p, o in patterns:
        if s.__class__ is str:
            s = bound.get(s)
            if s is None or s in not_subject:
                continue
        if p.__class__ is str:
            p = bound.get(p)
            if p is None or p in not_predicate:
                continue
        if o.__class__ is str:
            o = bound.get(o)
            if o is None:
                continue
        out.append((s, p, o))
    return out
