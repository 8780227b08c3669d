"""The OWL half of the reasoning step: a forward chainer over interned triples.

Rules (OWL 2 RL names, see :mod:`.tbox`): cax-sco, prp-spo1, prp-inv, prp-symp, prp-trp,
prp-dom, prp-rng, prp-spo2 (chains of two), and cax-dw as a consistency check.

Every inferred triple keeps one derivation: the rule, the premise triples and the axioms used.
Triples carry a status strength (from the fact node they describe; an inference takes the weakest
of its premises), and the agenda is processed strongest first, like Dijkstra's algorithm on
bottleneck paths, so the derivation kept for each triple is its best-supported one. There are only
a handful of strengths, so the agenda is a bucket queue (Dial's algorithm): one stack per strength.

A triple becomes final when it leaves the agenda; from then on its strength is kept complemented
(``~strength``, negative), so one table tells both how strong a triple is and whether it is
final (at a million triples a separate set of final triples took 130 MB);
:meth:`Materializer.strengths` reads them plainly.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping

from .errors import InconsistencyError
from .tbox import RDF, TBox
from .terms import Interner, Triple

NEUTRAL = 1_000_000   # strength of a triple no status applies to (ontology axioms, plain labels)


# millions of them at 1M triples: slots for memory, and not frozen, because a frozen
# dataclass sets each field through object.__setattr__ (1.4 µs a derivation against 0.25 µs);
# nothing changes a derivation once it is made
@dataclasses.dataclass(slots=True, eq=False)
class Derivation:
    rule: str
    #: the premise triples, or the premise itself when there is one (the OWL rules' common
    #: case: no 1-tuple for each of a million derivations); read :attr:`premises`
    why: tuple[Triple, ...] | Triple
    axioms: tuple[Triple, ...]
    strength: int

    @property
    def premises(self) -> tuple[Triple, ...]:
        why = self.why
        return (why,) if why and why[0].__class__ is int else why


class Materializer:
    def __init__(self, terms: Interner, tbox: TBox):
        self.terms, self.tbox = terms, tbox
        self.type = terms.id(RDF + "type")
        # every known triple → its best strength, complemented once final (see the module)
        self.strength: dict[Triple, int] = {}
        self._plain: dict[int, int] = {}                # complemented → plain strength
        self.derivations: dict[Triple, Derivation] = {}
        self.asserted: set[Triple] = set()
        self.order: list[Triple] = []                  # final triples, in the order they became so
        self._buckets: dict[int, list[Triple]] = defaultdict(list)   # strength → agenda
        # the one-premise rules' tables, each axiom as the 1-tuple their derivations keep: one
        # tuple per axiom, shared by all it explains (at 1M triples, over a million fewer)
        shared: dict[Triple, tuple[Triple]] = {}
        self._super_classes, self._super_props, self._inverses, self._domains, self._ranges = (
            _explained(table, shared) for table in (
                tbox.super_classes, tbox.super_props, tbox.inverses, tbox.domains, tbox.ranges))
        self._symmetric = {p: shared.setdefault(a, (a,)) for p, a in tbox.symmetric.items()}
        self._plans: dict[int, tuple] = {}                # predicate → see _plan
        indexed = tbox.chain_props | set(tbox.transitive)
        self.by_s = {p: defaultdict(set) for p in indexed}
        self.by_o = {p: defaultdict(set) for p in indexed}

    # --- adding ---------------------------------------------------------------------------
    def assert_all(self, triples: list[Triple], node_strength: dict[int, int]) -> None:
        """Assert each of ``triples`` at the strength of the node it is about (its subject's,
        else its object's, in ``node_strength``), else neutral. A triple asserted at a better
        strength than it had is queued again, and loses any derivation."""
        asserted, strengths, derivations, buckets = (
            self.asserted, self.strength, self.derivations, self._buckets)
        get = node_strength.get
        for t in triples:
            strength = get(t[0])
            if strength is None:
                strength = get(t[2], NEUTRAL)
            asserted.add(t)
            known = strengths.get(t)
            if known is None or 0 <= known < strength:
                strengths[t] = strength
                derivations.pop(t, None)
                buckets[strength].append(t)

    def derive(self, t: Triple, rule: str, premises: tuple[Triple, ...],
               axioms: tuple[Triple, ...] = ()) -> None:
        strength = self._weakest(premises)
        if self._known(t, strength):
            return
        self._record(t, Derivation(rule, premises, axioms, strength))

    def _known(self, t: Triple, strength: int) -> bool:
        """Whether ``t`` is asserted, final, or known at least as strong: then a derivation of
        that strength adds nothing. (Asserted and final triples all have a strength, so a
        triple without one is none of them.)"""
        known = self.strength.get(t)
        if known is None:
            return strength <= -1
        return known < 0 or strength <= known or t in self.asserted

    def _weakest(self, premises: tuple[Triple, ...]) -> int:
        """The strength of the weakest of ``premises``, which are all final."""
        known = self.strength
        if len(premises) == 1:          # the common case of the OWL rules, kept cheap
            return self._plain[known[premises[0]]]
        return min((self._plain[known[p]] for p in premises), default=NEUTRAL)

    def derive_all(self, conclusions: list[Triple], rule: str, premises: tuple[Triple, ...]) -> None:
        """Several conclusions of one rule solution: one shared derivation, strength taken once."""
        strength = self._weakest(premises)
        strengths, asserted = self.strength, self.asserted
        derivation = None
        for t in conclusions:       # _known and _record, inlined (a million conclusions)
            known = strengths.get(t)
            if known is not None and (known < 0 or strength <= known or t in asserted):
                continue
            if derivation is None:
                derivation = Derivation(rule, premises, (), strength)
            strengths[t] = strength
            self.derivations[t] = derivation
            self._buckets[strength].append(t)

    def _record(self, t: Triple, derivation: Derivation) -> None:
        self.strength[t] = derivation.strength
        self.derivations[t] = derivation
        self._buckets[derivation.strength].append(t)

    # --- running --------------------------------------------------------------------------
    def run(self) -> int:
        """Process the agenda to a fixpoint; return how many triples became final."""
        done = 0
        strengths, order, apply = self.strength, self.order, self._apply
        while True:
            ready = [k for k, stack in self._buckets.items() if stack]
            if not ready:
                return done
            strength = max(ready)
            sealed = ~strength
            self._plain[sealed] = strength
            stack = self._buckets[strength]
            pop = stack.pop
            while stack:            # derivations are never stronger than their premises
                t = pop()
                if strengths[t] != strength:
                    continue        # already final (negative), or re-queued at a better strength
                strengths[t] = sealed
                order.append(t)
                apply(t, strength)
                done += 1

    def _derive1(self, t: Triple, rule: str, premise: Triple, axioms: tuple[Triple],
                 strength: int) -> None:
        """:meth:`derive` from one final premise of strength ``strength`` (the OWL rules'
        common case, inlined: millions of calls at a million triples)."""
        known = self.strength.get(t)
        if known is None:
            if strength <= -1:
                return
        elif known < 0 or strength <= known or t in self.asserted:
            return
        self.strength[t] = strength
        self.derivations[t] = Derivation(rule, premise, axioms, strength)
        self._buckets[strength].append(t)

    def _apply(self, t: Triple, strength: int) -> None:
        """The rules that fire on ``t``, which just became final at ``strength`` (millions of
        calls at a million triples: what a predicate triggers is looked up once, as its plan)."""
        s, p, o = t
        if p in self.by_s:
            self.by_s[p][s].add(o)
            self.by_o[p][o].add(s)
        derive = self._derive1
        if p == self.type:
            for d, axioms in self._super_classes.get(o, ()):
                derive((s, p, d), "cax-sco", t, axioms, strength)
            for d, axiom in self.tbox.disjoint.get(o, ()):
                if self.strength.get((s, p, d), 0) < 0:
                    self._clash(s, o, d, axiom)
            return
        plan = self._plans.get(p)
        if plan is None:
            plan = self._plans[p] = self._plan(p)
        super_props, domains, on_object = plan
        for q, axioms in super_props:
            derive((s, q, o), "prp-spo1", t, axioms, strength)
        for d, axioms in domains:
            derive((s, self.type, d), "prp-dom", t, axioms, strength)
        if on_object is None or self.terms.is_literal(o):
            return
        inverses, symmetric, ranges, transitive, chains = on_object
        for q, axioms in inverses:
            derive((o, q, s), "prp-inv", t, axioms, strength)
        if symmetric is not None:
            derive((o, p, s), "prp-symp", t, symmetric, strength)
        for r, axioms in ranges:
            derive((o, self.type, r), "prp-rng", t, axioms, strength)
        if transitive:
            self._transitive(t)
        for chain, is_first in chains:
            self._chain(t, chain, is_first)

    def _plan(self, p: int):
        """What a final triple with predicate ``p`` (not rdf:type) triggers, in the order the
        rules fire (the first derivation at the best strength is the one kept): (super-properties,
        domains, and None or, for an object that is not a literal, (inverses, the symmetry
        axioms or None, ranges, whether transitive, chains)); nothing for an annotation
        property."""
        tbox = self.tbox
        if p in tbox.annotation:
            return (), (), None
        on_object = (self._inverses.get(p, ()), self._symmetric.get(p),
                     () if p in tbox.datatype_props else self._ranges.get(p, ()),
                     p in tbox.transitive, tbox.chains_on(p))
        if not any(on_object[i] for i in (0, 2, 3, 4)) and on_object[1] is None:
            on_object = None
        return self._super_props.get(p, ()), self._domains.get(p, ()), on_object

    def _transitive(self, t: Triple) -> None:
        s, p, o = t
        axiom = self.tbox.transitive[p]
        for z in list(self.by_s[p].get(o, ())):
            self.derive((s, p, z), "prp-trp", (t, (o, p, z)), (axiom,))
        for x in list(self.by_o[p].get(s, ())):
            self.derive((x, p, o), "prp-trp", ((x, p, s), t), (axiom,))

    def _chain(self, t: Triple, chain, is_first: bool) -> None:
        """x first y, y second z ⊢ x result z; ``t`` is one of the two steps."""
        s, p, o = t
        step = chain.first if is_first else chain.second
        near, far = (o, s) if step.inverse else (s, o)     # (x, y) or (y, z) in chain order
        if is_first:
            x, y = near, far
            for z, premise in self._follow(chain.second, y, forward=True):
                self.derive((x, chain.result, z), "prp-spo2", (t, premise), (chain.axiom,))
        else:
            y, z = near, far
            for x, premise in self._follow(chain.first, y, forward=False):
                self.derive((x, chain.result, z), "prp-spo2", (premise, t), (chain.axiom,))

    def _follow(self, step, y: int, forward: bool):
        """Nodes linked to ``y`` by ``step`` (as the step's start when forward, else its end),
        each with the final triple that links them."""
        p = step.prop
        # the step relates a → b; stored triples are (a p b), or (b p a) for an inverse step
        use_subject_index = forward != step.inverse
        if use_subject_index:
            for other in list(self.by_s[p].get(y, ())):
                yield other, (y, p, other)
        else:
            for other in list(self.by_o[p].get(y, ())):
                yield other, (other, p, y)

    def _clash(self, s: int, c: int, d: int, axiom: Triple) -> None:
        name = self.terms.term
        raise InconsistencyError(
            f"{name(s)} is both a {name(c)} and a {name(d)}, which the ontology declares "
            f"disjoint; why it is a {name(c)}: {self._reason(s, c)}; why it is a {name(d)}: "
            f"{self._reason(s, d)}")

    def _reason(self, s: int, c: int) -> str:
        derivation = self.derivations.get((s, self.type, c))
        if derivation is None:
            return "asserted"
        return f"{derivation.rule} from " + ", ".join(
            " ".join(str(self.terms.term(x)) for x in p) for p in derivation.premises)

    # --- results --------------------------------------------------------------------------
    def inferred(self) -> dict[Triple, Derivation]:
        """Final triples that were derived and not also asserted (after :meth:`run`, that is
        every derivation kept: then the table itself is returned, not a copy of millions)."""
        if not any(self._buckets.values()):
            # an empty agenda made every triple ever queued final: no need to look
            return self.derivations
        strength = self.strength
        return {t: d for t, d in self.derivations.items() if strength[t] < 0}

    def strengths(self) -> Strengths:
        """Every known triple's strength, read plainly (a view: no copy of millions)."""
        return Strengths(self.strength, self._plain)


class Strengths(Mapping):
    """A read-only view of a strength table in which final triples' strengths are complemented
    (see the module): each triple's strength as its status gives it."""

    __slots__ = ("_table", "_plain")

    def __init__(self, table: dict[Triple, int], plain: dict[int, int]):
        self._table, self._plain = table, plain

    def __getitem__(self, t: Triple) -> int:
        known = self._table[t]
        return self._plain.get(known, known)

    def get(self, t: Triple, default=None):
        known = self._table.get(t)
        return default if known is None else self._plain.get(known, known)

    def reader(self, default: int):
        """``get`` with ``default`` bound, as a closure over the tables: a loop over millions of
        triples calls it without a method lookup each time."""
        table, plain = self._table.get, self._plain.get

        def strength(t: Triple) -> int:
            known = table(t)
            return default if known is None else plain(known, known)
        return strength

    def __contains__(self, t) -> bool:
        return t in self._table

    def __iter__(self):
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def _explained(table: dict[int, list[tuple[int, Triple]]], shared: dict[Triple, tuple[Triple]]
               ) -> dict[int, list[tuple[int, tuple[Triple]]]]:
    """``table`` (term → (consequence, axiom) pairs) with each axiom as a shared 1-tuple."""
    return {key: [(value, shared.setdefault(axiom, (axiom,))) for value, axiom in pairs]
            for key, pairs in table.items()}
