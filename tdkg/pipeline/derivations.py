"""Where every inferred triple's explanation is kept: ``derivations.sqlite`` in the build folder.

Tables: ``triple`` (N-Triples terms, origin asserted/inferred/axiom, status strength),
``derivation`` (the rule and the premise and axiom triple ids of each inferred triple), ``rule``
(the rule files' headers) and ``status`` (strength → status IRI). :func:`explain` walks it from an
inferred triple down to asserted facts.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from ..namespaces import GRAPH_ASSERTED, GRAPH_ONTOLOGY, PREFIXES
from .materialize import NEUTRAL
from .terms import Triple

if TYPE_CHECKING:   # the query workers read derivations without loading the reasoner
    from .reason import Inference

FILE = "derivations.sqlite"
#: each term is stored once (``term``); ``fact`` holds the triples as term ids and ``triple``
#: shows them in N-Triples form, the table the readers query (earlier builds have a real table
#: of that name and shape: 10 times the size, every triple's three terms written out)
SCHEMA = """
CREATE TABLE term (id INTEGER PRIMARY KEY, text TEXT);
CREATE TABLE fact (id INTEGER PRIMARY KEY, s INTEGER, p INTEGER, o INTEGER, origin TEXT,
                   strength INTEGER);
CREATE VIEW triple AS SELECT f.id AS id, ts.text AS s, tp.text AS p, tob.text AS o,
                             f.origin AS origin, f.strength AS strength
    FROM fact f JOIN term ts ON ts.id = f.s JOIN term tp ON tp.id = f.p
                JOIN term tob ON tob.id = f.o;
CREATE TABLE derivation (triple INTEGER PRIMARY KEY, rule TEXT, premises TEXT, axioms TEXT);
CREATE TABLE rule (id TEXT PRIMARY KEY, summary TEXT, description TEXT, status TEXT, file TEXT);
CREATE TABLE status (strength INTEGER PRIMARY KEY, iri TEXT);
"""
INDEXES = """
CREATE UNIQUE INDEX term_text ON term (text);
CREATE UNIQUE INDEX fact_spo ON fact (s, p, o);
"""
RULE_NAMES = {
    "cax-sco": "class membership is inherited by super-classes (rdfs:subClassOf)",
    "prp-spo1": "a property's values are values of its super-properties (rdfs:subPropertyOf)",
    "prp-inv": "an inverse property holds the other way round (owl:inverseOf)",
    "prp-symp": "a symmetric property holds both ways (owl:SymmetricProperty)",
    "prp-trp": "a transitive property chains (owl:TransitiveProperty)",
    "prp-dom": "a property's subject belongs to its domain (rdfs:domain)",
    "prp-rng": "a property's object belongs to its range (rdfs:range)",
    "prp-spo2": "a property chain implies its super-property (owl:propertyChainAxiom)",
}


def _fact_rows(inference: Inference, ids: dict[Triple, int], used: set[int]):
    """A row for each triple the derivations name (an inferred triple, then its premises,
    then its axioms, each when first met), numbering them in ``ids``; terms go to ``used``.
    (Millions of rows at 1M triples: written out per kind, without a tuple per candidate or a
    method call per lookup; at 1M, with :func:`_derivation_rows`, 9.1-11.4 s where they took
    10.7-13.4 s.)"""
    strength = inference.strength.reader(NEUTRAL)
    inferred, ontology, add = inference.inferred, inference.ontology, used.update
    for t, d in inferred.items():
        if t not in ids:
            number = ids[t] = len(ids) + 1
            add(t)
            yield number, t[0] + 1, t[1] + 1, t[2] + 1, "inferred", strength(t)
        why = d.why         # one premise bare, else a tuple of them (Derivation.premises)
        for x in (why,) if why and why[0].__class__ is int else why:
            if x not in ids:
                number = ids[x] = len(ids) + 1
                add(x)
                if x in inferred:
                    yield number, x[0] + 1, x[1] + 1, x[2] + 1, "inferred", strength(x)
                elif x in ontology:
                    yield number, x[0] + 1, x[1] + 1, x[2] + 1, "axiom", NEUTRAL
                else:
                    yield number, x[0] + 1, x[1] + 1, x[2] + 1, "asserted", strength(x)
        for x in d.axioms:
            if x not in ids:
                number = ids[x] = len(ids) + 1
                add(x)
                yield number, x[0] + 1, x[1] + 1, x[2] + 1, "axiom", NEUTRAL


def _derivation_rows(inference: Inference, ids: dict[Triple, int]):
    """A row per inferred triple: its rule and its premises' and axioms' ids. The axioms'
    text is made once per axiom tuple (the one-premise rules share one per axiom)."""
    axiom_texts: dict[tuple, str] = {}
    for t, d in inference.inferred.items():
        why, axioms = d.why, d.axioms
        premises = str(ids[why]) if why and why[0].__class__ is int else \
            ",".join([str(ids[p]) for p in why])
        text = axiom_texts.get(axioms)
        if text is None:
            text = axiom_texts[axioms] = ",".join([str(ids[a]) for a in axioms])
        yield ids[t], d.rule, premises, text


def write(build_dir: Path, inference: Inference) -> Path:
    """Write the derivations, streamed: at a million triples the rows would take gigabytes
    (term ids are the reasoner's ids plus one)."""
    path = build_dir / FILE
    db = sqlite3.connect(path)
    # a new file that a failed build removes: no journal, no waiting for the disk per commit
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    ids: dict[Triple, int] = {}
    used: set[int] = set()
    db.executemany("INSERT INTO fact VALUES (?,?,?,?,?,?)", _fact_rows(inference, ids, used))
    db.executemany("INSERT INTO derivation VALUES (?,?,?,?)", _derivation_rows(inference, ids))
    del ids
    term = inference.terms.term
    db.executemany("INSERT INTO term VALUES (?,?)",
                   ((i + 1, str(term(i))) for i in sorted(used)))
    db.executemany("INSERT INTO rule VALUES (?,?,?,?,?)", _rule_rows(inference))
    db.executemany("INSERT INTO status VALUES (?,?)",
                   [(k, inference.status_name(k)) for k in inference.statuses])
    db.executescript(INDEXES)
    db.commit()
    db.close()
    return path


def _rule_rows(inference: Inference) -> list[tuple]:
    rows = [(rid, text, "OWL 2 RL rule " + rid, "weakest of the premises", "") for rid, text in RULE_NAMES.items()]
    for rule in inference.rules:
        rows.append((rule.id, rule.header["summary"], rule.header["description"],
                     rule.header["status"], str(rule.path.name)))
    return rows


class Explainer:
    """Reads ``derivations.sqlite`` and answers *why* for a triple, recursively."""

    def __init__(self, build_dir: Path, max_depth: int = 25):
        self.db = sqlite3.connect(f"file:{build_dir / FILE}?mode=ro", uri=True,
                                  check_same_thread=False)
        self.max_depth = max_depth
        self.statuses = dict(self.db.execute("SELECT strength, iri FROM status"))

    def find(self, s: str, p: str, o: str) -> int | None:
        row = self.db.execute("SELECT id FROM triple WHERE s=? AND p=? AND o=?", (s, p, o)).fetchone()
        return row[0] if row else None

    def status(self, s: str, p: str, o: str) -> str | None:
        """The status IRI a triple's best derivation gives it (None: not in the table)."""
        row = self.db.execute("SELECT strength FROM triple WHERE s=? AND p=? AND o=?",
                              (s, p, o)).fetchone()
        return self.statuses.get(row[0]) if row else None

    def explain(self, triple_id: int, depth: int = 0) -> dict:
        s, p, o, origin, strength = self.db.execute(
            "SELECT s, p, o, origin, strength FROM triple WHERE id=?", (triple_id,)).fetchone()
        node = {"triple": [s, p, o], "origin": origin, "status": self.statuses.get(strength)}
        if origin != "inferred":
            return node
        rule, premises, axioms = self.db.execute(
            "SELECT rule, premises, axioms FROM derivation WHERE triple=?", (triple_id,)).fetchone()
        node["rule"] = self._rule(rule)
        node["axioms"] = [self._plain(int(a)) for a in axioms.split(",") if a]
        if depth >= self.max_depth:
            node["premises"] = "…(depth limit)"
            return node
        node["premises"] = [self.explain(int(x), depth + 1) for x in premises.split(",") if x]
        return node

    def _rule(self, rule_id: str) -> dict:
        row = self.db.execute("SELECT summary, description, status, file FROM rule WHERE id=?",
                              (rule_id,)).fetchone()
        keys = ("summary", "description", "status_policy", "file")
        return {"id": rule_id, **dict(zip(keys, row or ("", "", "", "")))}

    def _plain(self, triple_id: int) -> list[str]:
        return list(self.db.execute("SELECT s, p, o FROM triple WHERE id=?", (triple_id,)).fetchone())

    def unexplained(self) -> int:
        """Inferred triples without a derivation row: must be zero."""
        return self.db.execute("SELECT COUNT(*) FROM triple t LEFT JOIN derivation d "
                               "ON d.triple = t.id WHERE t.origin='inferred' AND d.triple IS NULL"
                               ).fetchone()[0]

    def close(self) -> None:
        self.db.close()


PROVENANCE = """PREFIX tdkg: <https://w3id.org/tdkg/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX schema: <https://schema.org/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?document ?title ?footnote ?number ?url ?status ?claimedBy ?deniedBy ?label WHERE {
  VALUES ?node { %s }
  OPTIONAL { ?node rdfs:label ?label }
  OPTIONAL { ?node tdkg:statedIn ?document OPTIONAL { ?document dcterms:title ?title } }
  OPTIONAL { ?node tdkg:status ?status }
  OPTIONAL { ?node tdkg:citation ?footnote . ?footnote tdkg:footnoteNumber ?number
             OPTIONAL { ?footnote tdkg:citesWork ?work . ?work schema:url ?url } }
  OPTIONAL { ?node tdkg:claimedBy ?claimedBy }
  OPTIONAL { ?node tdkg:deniedBy ?deniedBy }
}"""
MENTIONS = """PREFIX tdkg: <https://w3id.org/tdkg/ontology#>
SELECT ?document WHERE { %s tdkg:mentionedIn ?document }"""


def provenance(store, default_graph: list, triple: list[str]) -> dict:
    """The source of an asserted triple: the fact node it belongs to (its subject, else its
    object) with document, footnote, cited URL and status; for a plain identity statement, the
    documents that mention its subject."""
    for position in (0, 2):
        term = triple[position]
        if not term.startswith("<"):
            continue
        node = ox.NamedNode(term[1:-1])
        rows = list(store.query(PROVENANCE % term, default_graph=default_graph))
        if rows and rows[0]["status"] is not None:
            return {"fact": node.value, **{k: rows[0][k].value for k in (
                "label", "document", "title", "footnote", "number", "url", "status",
                "claimedBy", "deniedBy") if rows[0][k] is not None}}
    if not triple[0].startswith("<"):
        return {}
    docs = [r["document"].value for r in store.query(MENTIONS % triple[0],
                                                       default_graph=default_graph)]
    return {"mentionedIn": docs} if docs else {}


def with_provenance(tree: dict, store, default_graph: list) -> dict:
    """``tree`` (from :meth:`Explainer.explain`) with each asserted leaf's source added."""
    if tree["origin"] == "asserted":
        tree["source"] = provenance(store, default_graph, tree["triple"])
    for premise in tree.get("premises", []) if isinstance(tree.get("premises"), list) else []:
        with_provenance(premise, store, default_graph)
    return tree


def term_key(text: str) -> str:
    """A term as given by a person (IRI with or without <>, prefixed name, N-Triples literal)
    in the N-Triples form the derivation table uses."""
    text = text.strip()
    if text.startswith(("<", '"', "_:")):
        parsed = next(iter(ox.parse(f"<urn:s> <urn:p> {text} .", format=ox.RdfFormat.N_TRIPLES)))
        return str(parsed.object)
    prefix, _, local = text.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        return f"<{PREFIXES[prefix]}{local}>"
    return f"<{text}>"


ASSERTED = "ASK {{ GRAPH <{graph}> {{ {s} {p} {o} }} }}"


def why(build_dir: Path, store, default_graph: list, s: str, p: str, o: str) -> dict | None:
    """The explanation of a triple down to asserted facts, or None if the graph does not hold it."""
    key = [term_key(x) for x in (s, p, o)]
    explainer = Explainer(build_dir)
    try:
        found = explainer.find(*key)
        tree = explainer.explain(found) if found is not None else None
    finally:
        explainer.close()
    if tree is None:
        graph = next((g for g in (GRAPH_ASSERTED, GRAPH_ONTOLOGY)
                      if store.query(ASSERTED.format(graph=g, s=key[0], p=key[1], o=key[2]))), None)
        if graph is None:
            return None
        tree = {"triple": key, "origin": "asserted" if graph == GRAPH_ASSERTED else "axiom",
                "status": None}
    return with_provenance(tree, store, default_graph)
