"""Compiling the ontology's axioms into lookup tables for the materializer (:mod:`.reason`).

Covers the OWL 2 constructs the TDKG ontology uses, with their OWL 2 RL rule names (OWL 2
Profiles §4.3): rdfs:subClassOf (cax-sco), rdfs:subPropertyOf (prp-spo1), rdfs:domain (prp-dom),
rdfs:range (prp-rng), owl:inverseOf (prp-inv1/2), owl:SymmetricProperty (prp-symp),
owl:TransitiveProperty (prp-trp), owl:propertyChainAxiom of length two, each step possibly an
inverse (prp-spo2), owl:equivalentClass/Property between named terms (cax-eqc, prp-eqp), and
owl:disjointWith / owl:AllDisjointClasses (cax-dw, cax-adc) as consistency checks.
Annotation properties carry no semantics in OWL 2 DL and are left alone, as HermiT does.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

from .terms import Interner, Triple

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"


@dataclasses.dataclass(frozen=True)
class Step:
    prop: int
    inverse: bool


@dataclasses.dataclass(frozen=True)
class Chain:
    first: Step
    second: Step
    result: int
    axiom: Triple


@dataclasses.dataclass
class TBox:
    """Each table maps a term to (consequence, axiom triple) pairs: the axiom explains the step."""

    super_classes: dict[int, list[tuple[int, Triple]]]
    super_props: dict[int, list[tuple[int, Triple]]]
    inverses: dict[int, list[tuple[int, Triple]]]
    symmetric: dict[int, Triple]
    transitive: dict[int, Triple]
    domains: dict[int, list[tuple[int, Triple]]]
    ranges: dict[int, list[tuple[int, Triple]]]
    chains: list[Chain]
    disjoint: dict[int, list[tuple[int, Triple]]]
    annotation: set[int]
    datatype_props: set[int]

    def chains_on(self, prop: int) -> list[tuple[Chain, bool]]:
        """Chains in which ``prop`` is a step: (chain, True if it is the first step)."""
        return self._chain_index.get(prop, [])

    def __post_init__(self) -> None:
        index: dict[int, list[tuple[Chain, bool]]] = defaultdict(list)
        for chain in self.chains:
            index[chain.first.prop].append((chain, True))
            index[chain.second.prop].append((chain, False))
        self._chain_index = dict(index)

    @property
    def chain_props(self) -> set[int]:
        return set(self._chain_index)


def compile_tbox(triples: list[Triple], terms: Interner) -> TBox:
    """Read the axioms out of the (interned) ontology triples."""
    t = terms.id
    blank = terms.is_blank
    by_pred: dict[int, list[Triple]] = defaultdict(list)
    for triple in triples:
        by_pred[triple[1]].append(triple)
    lists = _rdf_lists(by_pred, t)

    def pairs(pred: str) -> dict[int, list[tuple[int, Triple]]]:
        table: dict[int, list[tuple[int, Triple]]] = defaultdict(list)
        for tr in by_pred.get(t(pred), []):
            if tr[0] != tr[2]:
                table[tr[0]].append((tr[2], tr))
        return dict(table)

    super_classes = _merge(pairs(RDFS + "subClassOf"), _both_ways(pairs(OWL + "equivalentClass")))
    super_props = _merge(pairs(RDFS + "subPropertyOf"), _both_ways(pairs(OWL + "equivalentProperty")))
    return TBox(
        super_classes=super_classes, super_props=super_props,
        inverses=_both_ways({p: v for p, v in pairs(OWL + "inverseOf").items() if not blank(p)}),
        symmetric=_typed(by_pred, t, OWL + "SymmetricProperty"),
        transitive=_typed(by_pred, t, OWL + "TransitiveProperty"),
        domains=pairs(RDFS + "domain"), ranges=pairs(RDFS + "range"),
        chains=_chains(by_pred, t, lists, blank),
        disjoint=_disjoint(by_pred, t, lists),
        annotation=set(_typed(by_pred, t, OWL + "AnnotationProperty")),
        datatype_props=set(_typed(by_pred, t, OWL + "DatatypeProperty")),
    )


def _typed(by_pred, t, cls: str) -> dict[int, Triple]:
    return {tr[0]: tr for tr in by_pred.get(t(RDF + "type"), []) if tr[2] == t(cls)}


def _both_ways(table: dict[int, list[tuple[int, Triple]]]) -> dict[int, list[tuple[int, Triple]]]:
    out: dict[int, list[tuple[int, Triple]]] = defaultdict(list)
    for a, targets in table.items():
        for b, axiom in targets:
            out[a].append((b, axiom))
            out[b].append((a, axiom))
    return dict(out)


def _merge(*tables: dict) -> dict[int, list[tuple[int, Triple]]]:
    out: dict[int, list[tuple[int, Triple]]] = defaultdict(list)
    for table in tables:
        for key, values in table.items():
            out[key].extend(values)
    return dict(out)


def _rdf_lists(by_pred, t) -> dict[int, list[int]]:
    """Every RDF collection of the ontology, head node → members."""
    first = {tr[0]: tr[2] for tr in by_pred.get(t(RDF + "first"), [])}
    rest = {tr[0]: tr[2] for tr in by_pred.get(t(RDF + "rest"), [])}
    nil = t(RDF + "nil")
    lists = {}
    for head in first:
        items, node = [], head
        while node in first and len(items) < 1000:
            items.append(first[node])
            node = rest.get(node, nil)
        lists[head] = items
    return lists


def _chains(by_pred, t, lists, blank) -> list[Chain]:
    inverse_of = {tr[0]: tr[2] for tr in by_pred.get(t(OWL + "inverseOf"), []) if blank(tr[0])}

    def step(node: int) -> Step:
        return Step(inverse_of[node], True) if node in inverse_of else Step(node, False)

    chains = []
    for tr in by_pred.get(t(OWL + "propertyChainAxiom"), []):
        members = lists.get(tr[2], [])
        if len(members) != 2:
            raise ValueError(f"only property chains of length 2 are supported ({len(members)} given)")
        chains.append(Chain(step(members[0]), step(members[1]), tr[0], tr))
    return chains


def _disjoint(by_pred, t, lists) -> dict[int, list[tuple[int, Triple]]]:
    table: dict[int, list[tuple[int, Triple]]] = defaultdict(list)
    for tr in by_pred.get(t(OWL + "disjointWith"), []):
        table[tr[0]].append((tr[2], tr))
        table[tr[2]].append((tr[0], tr))
    adc = set(_typed(by_pred, t, OWL + "AllDisjointClasses"))
    for tr in by_pred.get(t(OWL + "members"), []):
        members = lists.get(tr[2], []) if tr[0] in adc else []
        for a in members:
            table[a].extend((b, tr) for b in members if b != a)
    return dict(table)
