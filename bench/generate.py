"""Deterministic generator of synthetic TDKG-shaped data for benchmarks.

The output has the shape of the real graph: actors and systems (states, companies, weapon
systems, alliances) and *fact nodes* for every relation (agreements with a monetary value,
memberships, partnerships, production and home-state attributions), each fact carrying its
source document and an epistemic status.  Choices of actors and documents follow a Zipf-like
skew, so that some suppliers, systems and documents have far more facts than others.

Structure first (entities, one home-state attribution per company, one production per system,
memberships of states in alliances), then agreements and partnerships are added until the
target triple count is reached; the result lands within a few triples of the target.

Usage::

    python bench/generate.py --triples 100000 --out bench/data/100k.nt [--seed 42]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# --- vocabulary (adjust here if the ontology changes) -------------------------------------------
TDKG = "https://w3id.org/tdkg/ontology#"
TDI = "https://w3id.org/tdkg/id/"
TDS = "https://w3id.org/tdkg/source/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ORG_MEMBER = "http://www.w3.org/ns/org#member"
ORG_ORGANIZATION = "http://www.w3.org/ns/org#organization"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"

SYSTEM_CLASSES = ("CombatDrone", "ReconnaissanceDrone", "Corvette", "MRAP", "RocketLauncher",
                  "Helicopter")
AGREEMENT_CLASSES = (("ArmsDeal", 0.70), ("TechnologyTransferAgreement", 0.15),
                     ("CoProductionAgreement", 0.15))
STATUSES = (("reported", 0.75), ("claimed", 0.10), ("speculative", 0.06), ("implied", 0.05),
            ("officiallyDenied", 0.04))
CURRENCIES = (("USD", 0.8), ("EUR", 0.2))
#: status → the property that names who makes the claim or denies it, and the agent named
VOICED = {"claimed": "claimedBy", "officiallyDenied": "deniedBy"}
VOICE = "<" + TDI + "state-1>"

# --- shape parameters ---------------------------------------------------------------------------
TRIPLES_PER_ENTITY = 40        # one entity (actor or system) per ~40 triples of the whole graph
STATE_SHARE, MAX_STATES = 0.05, 200
ALLIANCE_SHARE, MAX_ALLIANCES = 0.005, 40
COMPANY_SHARE = 0.45           # of the remaining entities; the rest are weapon systems
DOCS_PER_ENTITY = 0.5
AGREEMENT_SHARE = 0.85         # of the facts added after the structural ones; rest partnerships
ZIPF_EXPONENT = 1.0
# The real graph's busiest actor (Türkiye) has 8 distinct partners; no synthetic actor gets more,
# so partnership degrees keep the real shape instead of growing with the graph's size.
MAX_PARTNERS = 8
YEARS = (1990, 2025)
DEFAULT_SEED = 42

Triple = tuple[str, str, str]


@dataclass(frozen=True)
class Pools:
    """IRIs of the entities and documents, each with a skewed picker."""

    states: list[str]
    companies: list[str]
    systems: list[str]
    alliances: list[str]
    docs: list[str]


def iri(value: str) -> str:
    """An N-Triples IRI term."""
    return f"<{value}>"


def term(local: str) -> str:
    """An ontology term as an N-Triples IRI."""
    return iri(TDKG + local)


def literal(text: str, lang: str = "en") -> str:
    """A language-tagged string literal, escaped for N-Triples."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"@{lang}'


def local_name(node: str) -> str:
    """'<https://w3id.org/tdkg/id/agreement-7>' → 'agreement-7'."""
    return node[len(TDI) + 1:-1]


def typed(value: object, datatype: str) -> str:
    """A typed literal."""
    return f'"{value}"^^{iri(datatype)}'


class Skewed:
    """Zipf-like choice over a sequence: rank r is drawn with weight 1 / r**s."""

    def __init__(self, items: Sequence[str], exponent: float = ZIPF_EXPONENT) -> None:
        self.items = list(items)
        weights = [1.0 / (rank ** exponent) for rank in range(1, len(self.items) + 1)]
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> str:
        """One item, drawn with the skewed weights."""
        x = rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_left(self.cumulative, x)]


def weighted(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    """One name from a (name, weight) table."""
    names, weights = zip(*table)
    return rng.choices(names, weights=weights)[0]


def entity_counts(target: int) -> dict[str, int]:
    """How many states, alliances, companies, systems and documents a graph of `target` has."""
    entities = max(20, target // TRIPLES_PER_ENTITY)
    states = min(MAX_STATES, max(8, round(entities * STATE_SHARE)))
    alliances = min(MAX_ALLIANCES, max(3, round(entities * ALLIANCE_SHARE)))
    rest = entities - states - alliances
    companies = round(rest * COMPANY_SHARE)
    return {"state": states, "alliance": alliances, "company": companies,
            "system": rest - companies, "doc": max(5, round(entities * DOCS_PER_ENTITY))}


def make_pools(counts: dict[str, int]) -> Pools:
    """The IRIs of every entity and document."""
    def names(kind: str, base: str = TDI) -> list[str]:
        return [iri(f"{base}{kind}-{i}") for i in range(1, counts[kind] + 1)]
    return Pools(names("state"), names("company"), names("system"), names("alliance"),
                 names("doc", TDS))


def entity_triples(rng: random.Random, subject: str, cls: str, label: str,
                   docs: Skewed) -> Iterator[Triple]:
    """Type, label and one or two mentions of an actor or system."""
    yield subject, iri(RDF_TYPE), term(cls)
    yield subject, iri(RDFS_LABEL), literal(label)
    mentions = {docs.pick(rng) for _ in range(1 if rng.random() < 0.7 else 2)}
    for doc in sorted(mentions):  # a set: no duplicate triples, so the file count is exact
        yield subject, term("mentionedIn"), doc


def fact_triples(rng: random.Random, node: str, cls: str, label: str,
                 docs: Skewed) -> Iterator[Triple]:
    """The triples every fact node has: type, label, source document and status."""
    yield node, iri(RDF_TYPE), term(cls)
    yield node, iri(RDFS_LABEL), literal(label)
    yield node, term("statedIn"), docs.pick(rng)
    status = weighted(rng, STATUSES)
    yield node, term("status"), term(status)
    # the shapes ask a claimed fact for its voice and a denied one for the denier (any labelled
    # agent: always the first state, so that the random choices stay those of earlier versions)
    if status in VOICED:
        yield node, term(VOICED[status]), VOICE


class Generator:
    """Streams the triples of one synthetic graph; all randomness comes from one seeded RNG."""

    def __init__(self, target: int, seed: int = DEFAULT_SEED) -> None:
        self.target = target
        self.rng = random.Random(seed)
        self.pools = make_pools(entity_counts(target))
        self.skew = {name: Skewed(getattr(self.pools, name)) for name in
                     ("states", "companies", "systems", "alliances", "docs")}
        self.serial = itertools.count(1)
        self.partners: dict[str, set[str]] = {}

    def node(self, kind: str) -> str:
        """A fresh fact-node IRI."""
        return iri(f"{TDI}{kind}-{next(self.serial)}")

    def entities(self) -> Iterator[Triple]:
        """Every state, company, weapon system and alliance."""
        p, docs = self.pools, self.skew["docs"]
        for i, s in enumerate(p.states, 1):
            yield from entity_triples(self.rng, s, "State", f"State {i}", docs)
        for i, s in enumerate(p.companies, 1):
            yield from entity_triples(self.rng, s, "Company", f"Company {i}", docs)
        for i, s in enumerate(p.systems, 1):
            cls = SYSTEM_CLASSES[i % len(SYSTEM_CLASSES)]
            yield from entity_triples(self.rng, s, cls, f"{cls} system {i}", docs)
        for i, s in enumerate(p.alliances, 1):
            yield from entity_triples(self.rng, s, "Alliance", f"Alliance {i}", docs)

    def documents(self) -> Iterator[Triple]:
        """Every source document, typed and labelled (the build refuses things it cannot name)."""
        for i, doc in enumerate(self.pools.docs, 1):
            yield doc, iri(RDF_TYPE), term("Document")
            yield doc, iri(RDFS_LABEL), literal(f"Document {i}")

    def home_state(self, company: str) -> Iterator[Triple]:
        """The home state of one company (skewed: most companies are Turkish)."""
        node = self.node("home-state")
        yield from fact_triples(self.rng, node, "HomeStateAttribution",
                                "Home state attribution", self.skew["docs"])
        yield node, term("attributedCompany"), company
        yield node, term("attributedState"), self.skew["states"].pick(self.rng)

    def production(self, system: str) -> Iterator[Triple]:
        """Who produces one weapon system."""
        node = self.node("production")
        yield from fact_triples(self.rng, node, "Production", "Production", self.skew["docs"])
        yield node, term("producer"), self.skew["companies"].pick(self.rng)
        yield node, term("producedSystem"), system

    def membership(self, state: str, alliance: str) -> Iterator[Triple]:
        """One state's membership of one alliance."""
        node = self.node("membership")
        yield from fact_triples(self.rng, node, "Membership", "Membership", self.skew["docs"])
        yield node, iri(ORG_MEMBER), state
        yield node, iri(ORG_ORGANIZATION), alliance
        yield node, term("startYear"), typed(self.rng.randint(1949, 2020), XSD_INTEGER)

    def structure(self) -> Iterator[Triple]:
        """Facts every entity has: home states, producers, alliance memberships."""
        for company in self.pools.companies:
            yield from self.home_state(company)
        for system in self.pools.systems:
            yield from self.production(system)
        for state in self.pools.states:
            for alliance in self.rng.sample(self.pools.alliances, self.rng.randint(0, 2)):
                yield from self.membership(state, alliance)

    def actor(self) -> str:
        """A supplier or recipient: mostly a company, sometimes a state."""
        return self.skew["companies" if self.rng.random() < 0.7 else "states"].pick(self.rng)

    def other(self, pick: Callable[[], str], first: str) -> str:
        """A second party different from `first` (a few bounded redraws)."""
        for _ in range(8):
            second = pick()
            if second != first:
                return second
        return second

    def monetary_value(self, agreement: str, n: str) -> Iterator[Triple]:
        """The value node of an agreement."""
        value = iri(f"{TDI}value-{n}")
        amount = f"{self.rng.lognormvariate(17, 1.5):.2f}"
        yield agreement, term("value"), value
        yield value, iri(RDF_TYPE), term("MonetaryValue")
        yield value, iri(RDFS_LABEL), literal(f"Value of {n}")
        yield value, term("amount"), typed(amount, XSD_DECIMAL)
        yield value, term("currency"), term(weighted(self.rng, CURRENCIES))

    def agreement(self) -> Iterator[Triple]:
        """One agreement node, with optional quantity and value."""
        cls = weighted(self.rng, AGREEMENT_CLASSES)
        node = self.node("agreement")
        yield from fact_triples(self.rng, node, cls, f"{cls} {local_name(node)}", self.skew["docs"])
        supplier = self.actor()
        yield node, term("supplier"), supplier
        yield node, term("recipient"), self.other(self.actor, supplier)
        yield node, term("year"), typed(self.rng.randint(*YEARS), XSD_INTEGER)
        yield node, term("concernsSystem"), self.skew["systems"].pick(self.rng)
        if self.rng.random() < 0.8:
            yield node, term("quantity"), typed(self.rng.randint(1, 500), XSD_INTEGER)
        if self.rng.random() < 0.6:
            yield from self.monetary_value(node, local_name(node))

    def partnership(self) -> Iterator[Triple]:
        """A partnership of two actors (companies or states), neither past MAX_PARTNERS."""
        node = self.node("partnership")
        yield from fact_triples(self.rng, node, "Partnership", "Partnership", self.skew["docs"])
        first = self.partner_for(None)
        second = self.partner_for(first)
        self.partners.setdefault(first, set()).add(second)
        self.partners.setdefault(second, set()).add(first)
        yield node, term("firstPartner"), first
        yield node, term("secondPartner"), second

    def partner_for(self, other: str | None) -> str:
        """A skewed pick among actors with room for one more partner (bounded redraws, then
        any company with room; companies far outnumber the partnerships)."""
        def has_room(actor: str) -> bool:
            known = self.partners.get(actor, set())
            return actor != other and (other in known or len(known) < MAX_PARTNERS)
        for _ in range(16):
            actor = self.actor()
            if has_room(actor):
                return actor
        companies = self.pools.companies
        for _ in range(64 * len(companies)):
            actor = companies[self.rng.randrange(len(companies))]
            if has_room(actor):
                return actor
        raise RuntimeError("every actor already has MAX_PARTNERS partners: lower the partnership share")

    def relation(self) -> Iterator[Triple]:
        """An agreement or a partnership."""
        return self.agreement() if self.rng.random() < AGREEMENT_SHARE else self.partnership()

    def triples(self) -> Iterator[Triple]:
        """The whole graph; stops at the first fact that reaches the target count."""
        written = 0
        for triple in itertools.chain(self.entities(), self.documents(), self.structure()):
            written += 1
            yield triple
        while written < self.target:
            for triple in self.relation():
                written += 1
                yield triple


def write_ntriples(triples: Iterator[Triple], out: Path) -> int:
    """Write triples to `out` atomically (temp file + rename); return how many were written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as f:
        for s, p, o in triples:
            f.write(f"{s} {p} {o} .\n")
            count += 1
    os.replace(tmp, out)
    return count


def generate_file(target: int, out: Path, seed: int = DEFAULT_SEED) -> int:
    """Generate a graph of about `target` triples into `out`; return the exact count."""
    return write_ntriples(Generator(target, seed).triples(), out)


def parse_size(text: str) -> int:
    """'100000', '100k' or '1m' → an integer."""
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--triples", type=parse_size, required=True, help="target count, e.g. 100k")
    ap.add_argument("--out", type=Path, required=True, help="N-Triples file to write")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    count = generate_file(args.triples, args.out, args.seed)
    deviation = 100.0 * (count - args.triples) / args.triples
    print(f"wrote {count} triples to {args.out} ({deviation:+.3f}% of target)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
