"""``tdkg diff`` and ``tdkg build --dry-run``: what the working tree would change against the
published build, before anything is published; and the changes record of each published build.

:func:`compare` takes two build folders (see :mod:`tdkg.pipeline.store`) and reports

* **fact nodes** (instances of ``tdkg:Fact``, asserted or inferred) added, removed and changed,
  a change given per property as the values added and removed;
* **entities** (every other subject of the asserted graph): new ones (typed in the asserted graph
  of the new build, not of the old), each with the existing entities whose names are close
  (folded for case and diacritics as ``/search`` folds them; see :func:`close_names`), removed
  ones, and changed ones (per property);
* **inferred triples** gained and lost, each with the rule that derived it (read from the
  build's ``derivations.sqlite``), and counts per rule;
* **ontology** triples added and removed;
* **queries**: each ``queries/*.rq`` run on both stores (read-only, in a child process that is
  killed when a query takes longer than :data:`QUERY_TIMEOUT`), and its answer compared as a
  multiset of rows: the rows added and removed.

Terms are given in N-Triples form (``<iri>``, ``"text"@en``); the IRIs of nodes and properties
as plain IRIs. Blank nodes (the ontology's restrictions and lists; the data has none) are named
by a hash of their content (:func:`canonical_blank_nodes`), so an unchanged one matches itself
across builds and a changed one shows as one removed and one added.

``tdkg diff`` and ``build --dry-run`` build the working tree into an unpublished build folder
(``drafts/`` of the state folder), compare it with the published build, print the changes and
remove the folder. Exit status 0 when the comparison ran, whether or not it found changes; with
``tdkg diff --exit-code``, 3 when it found changes (1 stays "failed", 2 "usage").
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import difflib
import hashlib
import json
import re
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox

from .. import namespaces as ns
from ..names import words
from ..pipeline import store as build_store

FORMAT = 1
#: most entries of one list in the JSON (the counts are always complete)
LIST_CAP = 2_000
#: most entries of one list in the text output
TEXT_CAP = 10
#: seconds one query may take on both stores together before its worker is killed
QUERY_TIMEOUT = 20.0
#: most rows of one query answer read from a store
ROW_CAP = 100_000
#: names at least this close (0..1) are reported as possible duplicates
CLOSE_SCORE = 0.8
#: most existing entities listed as close to one new entity
CLOSE_CAP = 5
#: name pairs compared one by one; above it, only entities sharing a word are compared
PAIR_BUDGET = 300_000
#: deepest nesting of blank nodes named by their content (an RDF list counts one per item)
BLANK_DEPTH = 200
#: exit status of ``tdkg diff --exit-code`` when there are changes
EXIT_CHANGES = 3

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
SKOS_ALT = "<http://www.w3.org/2004/02/skos/core#altLabel>"
SKOS_EXACT = "<http://www.w3.org/2004/02/skos/core#exactMatch>"
FACT = f"<{ns.TDKG}Fact>"
STATED_IN = f"<{ns.TDKG}statedIn>"
NAME_PROPERTIES = (RDFS_LABEL, SKOS_ALT)
#: classes every individual has: sharing one of them says nothing
GENERIC_CLASSES = {"<http://www.w3.org/2002/07/owl#Thing>",
                   "<http://www.w3.org/2002/07/owl#NamedIndividual>",
                   "<http://www.w3.org/2000/01/rdf-schema#Resource>",
                   "<http://www.w3.org/ns/prov#Entity>"}
STOPWORDS = {"the", "of", "and", "for", "in", "on", "a", "an", "to"}


# --- reading a build --------------------------------------------------------------------------

Triple = tuple[str, str, str]


@dataclasses.dataclass
class _Graphs:
    """One build's graphs as sets of N-Triples-form triples, indexed by subject."""

    folder: Path | None
    ontology: set[Triple]
    asserted: set[Triple]
    inferred: set[Triple]

    @classmethod
    def read(cls, folder: Path | None) -> _Graphs:
        if folder is None:
            return cls(None, set(), set(), set())
        store = ox.Store.read_only(str(folder / "store"))
        try:
            graphs = [{(str(q.subject), str(q.predicate), str(q.object))
                       for q in store.quads_for_pattern(None, None, None, ox.NamedNode(g))}
                      for g in (ns.GRAPH_ONTOLOGY, ns.GRAPH_ASSERTED, ns.GRAPH_INFERRED)]
        finally:
            del store
        return cls(folder, *canonical_blank_nodes(graphs))

    def __post_init__(self) -> None:
        self.by_subject: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
        for s, p, o in self.asserted:
            self.by_subject[s].add((p, o))
        self.types: dict[str, set[str]] = collections.defaultdict(set)
        for s, p, o in self.asserted | self.inferred:
            if p == RDF_TYPE:
                self.types[s].add(o)
        self.facts = {s for s, classes in self.types.items() if FACT in classes}
        self.typed = {s for s, p, _ in self.asserted if p == RDF_TYPE}

    def describe(self) -> dict | None:
        if self.folder is None:
            return None
        info = {}
        if (self.folder / "build.json").is_file():
            info = build_store.read_info(self.folder)
        counted = info.get("stats", {}).get("graphs", {})    # blank nodes not merged
        return {"id": self.folder.name, "created": info.get("created"),
                "digest": info.get("digest"),
                "triples": {name: counted.get(graph, len(mine)) for name, graph, mine in (
                    ("ontology", ns.GRAPH_ONTOLOGY, self.ontology),
                    ("asserted", ns.GRAPH_ASSERTED, self.asserted),
                    ("inferred", ns.GRAPH_INFERRED, self.inferred))}}

    def label(self, node: str) -> str | None:
        return _best_label(self.by_subject.get(node, ()))

    def names(self, node: str) -> list[str]:
        return [_lexical(o) for p, o in self.by_subject.get(node, ()) if p in NAME_PROPERTIES
                and o.startswith('"')]

    def asserted_classes(self, node: str) -> list[str]:
        return sorted(_iri(o) for p, o in self.by_subject.get(node, ()) if p == RDF_TYPE)

    def values(self, node: str) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = collections.defaultdict(list)
        for p, o in sorted(self.by_subject.get(node, ())):
            grouped[_iri(p)].append(o)
        return dict(grouped)


def canonical_blank_nodes(graphs: list[set[Triple]]) -> list[set[Triple]]:
    """The graphs with each blank node named by a hash of what the ontology and asserted graphs
    say of it (its properties, blank objects hashed in turn), so that the same OWL restriction
    or RDF list gets the same name in two builds. Identical blank descriptions share a name;
    one found in a cycle or nested deeper than :data:`BLANK_DEPTH` keeps its own label."""
    if not any(t.startswith("_:") for graph in graphs for triple in graph for t in triple):
        return graphs
    edges: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for graph in graphs[:2]:
        for s, p, o in graph:
            if s.startswith("_:"):
                edges[s].append((p, o))
    names: dict[str, str] = {}

    def name(node: str, path: tuple[str, ...]) -> str:
        if node in names:
            return names[node]
        if node in path or len(path) >= BLANK_DEPTH:
            return node
        parts = sorted(f"{p} {name(o, (*path, node)) if o.startswith('_:') else o}"
                       for p, o in edges.get(node, ()))
        names[node] = "_:h" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
        return names[node]

    def term(t: str) -> str:
        return name(t, ()) if t.startswith("_:") else t

    return [{(term(s), p, term(o)) for s, p, o in graph} for graph in graphs]


def _iri(term: str) -> str:
    return term[1:-1] if term.startswith("<") and term.endswith(">") else term


_LITERAL = re.compile(r'^"(?P<text>(?:[^"\\]|\\.)*)"(?:@(?P<lang>[A-Za-z0-9-]+)|\^\^<[^>]*>)?$',
                      re.DOTALL)


_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f"}


def _lexical(term: str) -> str:
    """The lexical form of an N-Triples literal (escapes undone)."""
    found = _LITERAL.match(term)
    if not found:
        return term
    return _ESCAPE.sub(lambda m: chr(int(m[1][1:], 16)) if m[1][0] in "uU" and len(m[1]) > 1
                       else _ESCAPES.get(m[1], m[1]), found["text"])


def _best_label(pairs) -> str | None:
    labels = sorted((_lang_rank(o), _lexical(o)) for p, o in pairs if p == RDFS_LABEL
                    and o.startswith('"'))
    return labels[0][1] if labels else None


def _lang_rank(term: str) -> int:
    found = _LITERAL.match(term)
    lang = (found["lang"] or "").lower() if found else ""
    return 0 if lang == "en" else 1 if lang.startswith("en-") else 2 if not lang else 3


# --- comparing two builds ---------------------------------------------------------------------

def compare(old_build: Path | None, new_build: Path, queries_dir: Path | None) -> dict:
    """What changes from ``old_build`` (None: no build yet, everything is added) to
    ``new_build``, as a JSON-able dict (see the module's docstring and :func:`render_text`)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    old, new = _Graphs.read(old_build), _Graphs.read(new_build)
    timings["read"] = _since(started)
    identical = old.folder is not None and (old.ontology, old.asserted, old.inferred) == (
        new.ontology, new.asserted, new.inferred)

    started = time.perf_counter()
    facts = _facts(old, new)
    entities = _entities(old, new)
    ontology = {"added": _capped(sorted(new.ontology - old.ontology)),
                "removed": _capped(sorted(old.ontology - new.ontology))}
    timings["graphs"] = _since(started)

    started = time.perf_counter()
    inferred = _inferred(old, new)
    timings["inferred"] = _since(started)

    started = time.perf_counter()
    queries = compare_queries(old_build, new_build, queries_dir, identical=identical)
    timings["queries"] = _since(started)

    summary = {
        "facts": {k: facts[k + "_count"] for k in ("added", "removed", "changed")},
        "entities": {**{k: entities[k + "_count"] for k in ("added", "removed", "changed")},
                     "close": sum(1 for e in entities["added"] if e["close"])},
        "inferred": {"gained": inferred["gained_count"], "lost": inferred["lost_count"]},
        "ontology": {"added": len(new.ontology - old.ontology),
                     "removed": len(old.ontology - new.ontology)},
        "asserted": {"added": len(new.asserted - old.asserted),
                     "removed": len(old.asserted - new.asserted)},
        "queries": {"changed": len(queries["changed"]), "unchanged": len(queries["unchanged"]),
                    "failed": len(queries["failed"])},
    }
    changed = any(n for part in ("facts", "entities", "inferred", "ontology", "asserted")
                  for n in summary[part].values()) or bool(queries["changed"])
    return {"format": FORMAT, "old": old.describe(), "new": new.describe(),
            "changed": changed, "summary": summary, "facts": facts, "entities": entities,
            "inferred": inferred, "ontology": ontology, "queries": queries,
            "timings": timings}


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _capped(items: list) -> list:
    return items[:LIST_CAP]


def _property_changes(old_pairs, new_pairs) -> dict[str, dict[str, list[str]]]:
    changes: dict[str, dict[str, list[str]]] = {}
    for p, o in sorted(set(new_pairs) - set(old_pairs)):
        changes.setdefault(_iri(p), {"added": [], "removed": []})["added"].append(o)
    for p, o in sorted(set(old_pairs) - set(new_pairs)):
        changes.setdefault(_iri(p), {"added": [], "removed": []})["removed"].append(o)
    return changes


def _node(graphs: _Graphs, node: str) -> dict:
    """A fact node or entity as the build that has it describes it."""
    stated = sorted(_iri(o) for p, o in graphs.by_subject.get(node, ()) if p == STATED_IN)
    return {"iri": _iri(node), "label": graphs.label(node),
            "classes": graphs.asserted_classes(node), "statedIn": stated,
            "values": graphs.values(node)}


def _facts(old: _Graphs, new: _Graphs) -> dict:
    added = sorted(new.facts - old.facts)
    removed = sorted(old.facts - new.facts)
    changed = []
    for node in sorted(old.facts & new.facts):
        before, after = old.by_subject.get(node, set()), new.by_subject.get(node, set())
        if before != after:
            changed.append({"iri": _iri(node), "label": new.label(node) or old.label(node),
                            "classes": new.asserted_classes(node),
                            "properties": _property_changes(before, after)})
    return {"added_count": len(added), "removed_count": len(removed),
            "changed_count": len(changed),
            "added": _capped([_node(new, n) for n in added]),
            "removed": _capped([_node(old, n) for n in removed]),
            "changed": _capped(changed)}


def _entities(old: _Graphs, new: _Graphs) -> dict:
    """Subjects of the asserted graph that are not fact nodes: new (typed in the new build's
    asserted graph only), removed (typed in the old one's only) and changed."""
    added_nodes = sorted(n for n in new.typed - old.typed if n not in new.facts)
    removed_nodes = sorted(n for n in old.typed - new.typed if n not in old.facts)
    skip = set(added_nodes) | set(removed_nodes) | old.facts | new.facts
    changed = []
    for node in sorted((set(old.by_subject) | set(new.by_subject)) - skip):
        before, after = old.by_subject.get(node, set()), new.by_subject.get(node, set())
        if before != after:
            changed.append({"iri": _iri(node), "label": new.label(node) or old.label(node),
                            "properties": _property_changes(before, after)})
    existing = [n for n in old.typed if n not in old.facts and n in new.typed]
    close = close_names(added_nodes, new, existing, old)
    added = [{**_node(new, n), "close": close.get(n, [])} for n in added_nodes]
    return {"added_count": len(added_nodes), "removed_count": len(removed_nodes),
            "changed_count": len(changed), "added": _capped(added),
            "removed": _capped([_node(old, n) for n in removed_nodes]),
            "changed": _capped(changed)}


def _inferred(old: _Graphs, new: _Graphs) -> dict:
    gained = sorted(new.inferred - old.inferred)
    lost = sorted(old.inferred - new.inferred)
    rules: dict[str, dict] = {}
    listed = {"gained": [], "lost": []}
    for kind, triples, graphs in (("gained", gained, new), ("lost", lost, old)):
        lookup = _Rules(graphs.folder)
        try:
            for triple in triples:
                rule = lookup.rule(triple)
                entry = rules.setdefault(rule or "?", {"summary": lookup.summary(rule),
                                                       "gained": 0, "lost": 0})
                entry[kind] += 1
                if len(listed[kind]) < LIST_CAP:
                    listed[kind].append({"triple": list(triple), "rule": rule})
        finally:
            lookup.close()
    return {"gained_count": len(gained), "lost_count": len(lost), "by_rule": rules, **listed}


class _Rules:
    """Which rule derived an inferred triple, from a build's ``derivations.sqlite``."""

    def __init__(self, folder: Path | None):
        path = folder / "derivations.sqlite" if folder is not None else None
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True) \
            if path is not None and path.is_file() else None
        self.summaries: dict[str, str] = {}
        if self.db is not None:
            self.summaries = dict(self.db.execute("SELECT id, summary FROM rule"))

    def rule(self, triple: Triple) -> str | None:
        if self.db is None:
            return None
        row = self.db.execute("SELECT d.rule FROM triple t JOIN derivation d ON d.triple = t.id "
                              "WHERE t.s = ? AND t.p = ? AND t.o = ?", triple).fetchone()
        return row[0] if row else None

    def summary(self, rule: str | None) -> str:
        return self.summaries.get(rule, "") if rule else ""

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


# --- names close to a new entity's ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Name:
    text: str
    joined: str                 # folded words joined by single spaces
    words: frozenset[str]       # the significant ones: not stop words
    numbers: tuple[str, ...]    # digit runs, in order: "footnote 1" is not "footnote 2"


def _name(text: str) -> _Name:
    found = words(text)     # folded for case and diacritics as /search folds them
    return _Name(text, " ".join(found), frozenset(w for w in found if w not in STOPWORDS),
                 tuple(re.findall(r"\d+", " ".join(found))))


def similarity(a: _Name, b: _Name) -> tuple[float, str]:
    """How close two names are, 0..1, and why: the same folded name; all the significant words
    of the shorter in the longer, which covers at least half of its own (``Baykar`` and
    ``Baykar Makina``); or difflib's ratio of the folded names (spelling variants). Names whose
    numbers differ (``Doc 000, footnote 1`` and ``footnote 2``) are never close."""
    if a.numbers != b.numbers or not a.joined or not b.joined:
        return 0.0, ""
    if a.joined == b.joined:
        return 1.0, "same name"
    shared = len(a.words & b.words)
    small, large = sorted((len(a.words), len(b.words)))
    if shared and shared == small and shared * 2 >= large:
        return round(0.8 + 0.2 * shared / large, 3), "same words"
    matcher = difflib.SequenceMatcher(None, a.joined, b.joined, autojunk=False)
    if matcher.real_quick_ratio() < CLOSE_SCORE or matcher.quick_ratio() < CLOSE_SCORE:
        return 0.0, ""
    return round(matcher.ratio(), 3), "similar spelling"


def close_names(new_nodes: list[str], new: _Graphs, existing: list[str],
                old: _Graphs) -> dict[str, list[dict]]:
    """For each new entity, the existing entities (of the old build) that may be the same
    thing: a name close by :func:`similarity` with a class in common (the inferred
    super-classes count, so a firm typed ``tdkg:Organization`` meets one typed
    ``tdkg:Company``), or the same ``skos:exactMatch`` (Wikidata) item."""
    if not new_nodes or not existing:
        return {}
    known = {n: [_name(t) for t in old.names(n)] for n in existing}
    classes = {n: old.types.get(n, set()) - GENERIC_CLASSES for n in existing}
    matches = {n: {o for p, o in old.by_subject.get(n, ()) if p == SKOS_EXACT} for n in existing}
    by_word: dict[str, set[str]] = collections.defaultdict(set)
    for node, names in known.items():
        for name in names:
            for word in name.words:
                by_word[word].add(node)
    pairs = sum(len(v) for v in known.values()) * \
        sum(len(new.names(n)) for n in new_nodes)
    found: dict[str, list[dict]] = {}
    for node in new_nodes:
        names = [_name(t) for t in new.names(node)]
        own_classes = new.types.get(node, set()) - GENERIC_CLASSES
        own_matches = {o for p, o in new.by_subject.get(node, ()) if p == SKOS_EXACT}
        if pairs <= PAIR_BUDGET:
            candidates = existing
        else:
            candidates = sorted({c for name in names for w in name.words for c in by_word[w]})
        hits = []
        for other in candidates:
            if own_matches & matches[other]:
                hits.append((1.0, "same external item (skos:exactMatch)", other))
                continue
            if not own_classes & classes[other]:
                continue
            best = max((similarity(a, b) for a in names for b in known[other]),
                       default=(0.0, ""))
            if best[0] >= CLOSE_SCORE:
                hits.append((best[0], best[1], other))
        hits.sort(key=lambda h: (-h[0], h[2]))
        found[node] = [{"iri": _iri(o), "label": old.label(o), "score": score, "why": why}
                       for score, why, o in hits[:CLOSE_CAP]]
    return {n: v for n, v in found.items() if v}


# --- queries ----------------------------------------------------------------------------------

def _answer(store: ox.Store, text: str) -> dict:
    """One query's answer on ``store``: variables, rows (N-Triples terms, None for unbound)
    and whether :data:`ROW_CAP` cut it."""
    answer = store.query(text, prefixes=ns.PREFIXES, **_default_dataset(store))
    if isinstance(answer, ox.QueryBoolean):
        return {"variables": ["boolean"], "rows": [[str(bool(answer)).lower()]],
                "truncated": False}
    if isinstance(answer, ox.QuerySolutions):
        variables = [v.value for v in answer.variables]
        rows_of = ([None if t is None else str(t) for t in solution] for solution in answer)
    else:
        variables = ["subject", "predicate", "object"]
        rows_of = ([str(t.subject), str(t.predicate), str(t.object)] for t in answer)
    rows, truncated = [], False
    for row in rows_of:
        if len(rows) >= ROW_CAP:
            truncated = True
            break
        rows.append(row)
    return {"variables": variables, "rows": rows, "truncated": truncated}


def _default_dataset(store: ox.Store) -> dict:
    """Query options for the default dataset the endpoint serves: the store's own default
    graph, which holds the union of the build's graphs (store layout 2), or for a store of the
    earlier layout, whose default graph is empty, the union of its graphs."""
    if store.query("ASK { ?s ?p ?o }"):
        return {}
    return {"default_graph": [ox.NamedNode(g) for g in ns.FACT_GRAPHS]}


#: what makes answers differ from one run to the next on the same graphs: functions, and a
#: remote endpoint
NONDETERMINISTIC = re.compile(r"\b(?:RAND|NOW|UUID|STRUUID|BNODE)\s*\(|\bSERVICE\b",
                              re.IGNORECASE)
#: a comment: from a # at the start of a line or after white space (one in an IRI follows
#: other characters) to the end of the line
COMMENT = re.compile(r"(?:^|(?<=\s))#[^\n]*", re.MULTILINE)


def _same_answer_expected(text: str) -> bool:
    """Whether a query is sure to answer two identical stores alike: it parses, and it uses
    none of the functions that answer differently each time, nor SERVICE (comments aside)."""
    if NONDETERMINISTIC.search(COMMENT.sub("", text)):
        return False
    try:
        ox.Store().query(text, prefixes=ns.PREFIXES)    # parsed, run on an empty store
    except Exception:  # noqa: BLE001 - the workers report the error as before
        return False
    return True


def serve_queries(store_path: str) -> None:
    """The query worker's loop (``python -c``, see :class:`_Worker`): one JSON query text a
    line on stdin, one JSON answer (or ``{"error": ...}``) a line on stdout."""
    store = ox.Store.read_only(store_path)
    for line in sys.stdin:
        try:
            reply = _answer(store, json.loads(line))
        except Exception as err:  # noqa: BLE001 - the parent reports it with the query's name
            reply = {"error": _one_line(err)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class _Worker:
    """A child process with one store open read-only, answering queries one at a time; killed
    (and started again for the next query) when a query outlives its time."""

    def __init__(self, store_path: str | None):
        self.path, self.process = store_path, None

    def submit(self, text: str) -> bool:
        if self.path is None:
            return False
        if self.process is None:
            package_root = str(Path(__file__).resolve().parents[2])
            code = f"from tdkg.curation.diff import serve_queries; serve_queries({self.path!r})"
            self.process = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=package_root, text=True, encoding="utf-8")
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        return True

    def answer(self, deadline: float) -> dict:
        """The answer to the query submitted last; raises TimeoutError past ``deadline``."""
        ready, _, _ = select.select([self.process.stdout], [], [],
                                    max(0.0, deadline - time.perf_counter()))
        if not ready:
            self.kill()
            raise TimeoutError
        line = self.process.stdout.readline()
        if not line:
            problem = self.process.stderr.read().strip().splitlines()
            self.kill()
            return {"error": "the query worker stopped: " + (problem[-1] if problem else "?")}
        return json.loads(line)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self._close_pipes()
            self.process = None

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._close_pipes()
            self.process = None

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                pipe.close()
            except OSError:
                pass


def compare_queries(old_build: Path | None, new_build: Path, queries_dir: Path | None,
                    timeout: float = QUERY_TIMEOUT, identical: bool = False) -> dict:
    """Each ``*.rq`` of ``queries_dir`` on both builds' stores: the ones whose answer changes
    (as a multiset of rows), with the rows added and removed. With ``identical`` (the two
    builds hold the same graphs, blank nodes aside) a query that parses and calls no
    nondeterministic function is unchanged without being run."""
    files = sorted(queries_dir.glob("*.rq")) if queries_dir and queries_dir.is_dir() else []
    result: dict = {"changed": [], "unchanged": [], "failed": []}
    if identical:
        to_run = []
        for path in files:
            if _same_answer_expected(path.read_text(encoding="utf-8")):
                result["unchanged"].append(path.name)
            else:
                to_run.append(path)
        files = to_run
    if not files:
        return result
    # one worker per store, side by side: a query runs on both at once
    workers = {"old": _Worker(str(old_build / "store") if old_build is not None else None),
               "new": _Worker(str(new_build / "store"))}
    try:
        for path in files:
            started = time.perf_counter()
            text = path.read_text(encoding="utf-8")
            asked = {side: worker.submit(text) for side, worker in workers.items()}
            answers, error = {"old": None}, None
            for side, worker in workers.items():
                if not asked[side]:
                    continue
                try:
                    answers[side] = worker.answer(started + timeout)
                except TimeoutError:
                    error = error or f"took longer than {timeout:g} s on the {side} build"
                    continue
                if "error" in answers[side]:
                    error = error or f"{side} build: {answers[side]['error']}"
            if error is not None:
                result["failed"].append({"name": path.name, "error": error + "; not compared"})
                continue
            entry = _query_change(path.name, answers["old"], answers["new"])
            entry["seconds"] = _since(started)
            if entry["added_count"] or entry["removed_count"]:
                result["changed"].append(entry)
            else:
                result["unchanged"].append(path.name)
    finally:
        for worker in workers.values():
            worker.close()
    result["unchanged"].sort()      # in file order, whether run or not
    return result


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:500] or type(err).__name__


def _query_change(name: str, old: dict | None, new: dict) -> dict:
    variables = new["variables"]
    before = collections.Counter(map(tuple, old["rows"])) if old else collections.Counter()
    after = collections.Counter(map(tuple, new["rows"]))
    added, removed = after - before, before - after

    def rows(counter: collections.Counter) -> list[dict]:
        flat = sorted(counter.elements(), key=lambda r: tuple(x or "" for x in r))
        return [{v: t for v, t in zip(variables, row) if t is not None}
                for row in flat[:LIST_CAP]]

    return {"name": name, "variables": variables,
            "old_rows": len(old["rows"]) if old else 0, "new_rows": len(new["rows"]),
            "truncated": bool(new["truncated"] or (old and old["truncated"])),
            "added_count": sum(added.values()), "removed_count": sum(removed.values()),
            "added": rows(added), "removed": rows(removed)}


# --- text for the terminal --------------------------------------------------------------------

_NAMESPACES = sorted(((iri, prefix) for prefix, iri in ns.PREFIXES.items()),
                     key=lambda pair: -len(pair[0]))


def short(term: str, width: int = 80) -> str:
    """A term for people: prefixed names where a project prefix fits, literals cut to
    ``width`` characters."""
    if term.startswith("<") and term.endswith(">"):
        return short_iri(term[1:-1])
    if term.startswith('"'):
        found = _LITERAL.match(term)
        text = _lexical(term)
        text = text if len(text) <= width else text[:width - 1] + "…"
        suffix = term[term.rfind('"') + 1:]
        if suffix.startswith("^^"):
            suffix = "^^" + short_iri(suffix[3:-1])
            if suffix == "^^xsd:string":
                suffix = ""
        return json.dumps(text, ensure_ascii=False) + (suffix if found else "")
    return short_iri(term)


def short_iri(iri: str) -> str:
    for namespace, prefix in _NAMESPACES:
        if iri.startswith(namespace) and re.fullmatch(r"[\w.-]*", iri[len(namespace):]):
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>" if "://" in iri else iri


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _more(lines: list[str], shown: int, total: int, indent: str) -> list[str]:
    if total > shown:
        lines.append(f"{indent}… and {total - shown} more")
    return lines


def _labelled(iri: str, label: str | None) -> str:
    return f"{short_iri(iri)}  {json.dumps(label, ensure_ascii=False)}" if label else \
        short_iri(iri)


def render_text(changes: dict) -> str:
    """The changes for a terminal: counts first, then each part grouped, lists cut at
    :data:`TEXT_CAP` entries with "… and N more"."""
    old, new, summary = changes.get("old"), changes.get("new") or {}, changes.get("summary")
    lines = []
    if new.get("published") is False:       # tdkg diff, build --dry-run
        against = f"published build {old['id']}" if old else "nothing (no published build yet)"
        lines.append(f"Changes of the working tree (unpublished build) against {against}")
    else:
        against = f"build {old['id']}" if old else "nothing (no earlier build)"
        lines.append(f"Changes of build {new.get('id', '?')} against {against}")
    if changes.get("skipped") or summary is None:
        lines.append(f"  not computed: {changes.get('skipped') or 'no summary in the record'}")
        return "\n".join(lines) + "\n"
    f, e, i = summary["facts"], summary["entities"], summary["inferred"]
    o, q, a = summary["ontology"], summary["queries"], summary["asserted"]
    lines += [
        "",
        f"  fact nodes        {f['added']} added, {f['removed']} removed, {f['changed']} changed",
        (f"  entities          {e['added']} new ({e['close']} with close names), "
         f"{e['removed']} removed, {e['changed']} changed"),
        f"  inferred triples  {i['gained']} gained, {i['lost']} lost",
        f"  asserted triples  {a['added']} added, {a['removed']} removed",
        f"  ontology triples  {o['added']} added, {o['removed']} removed",
        f"  queries           {q['changed']} of {q['changed'] + q['unchanged'] + q['failed']} "
        f"answers change" + (f", {q['failed']} not compared" if q["failed"] else ""),
    ]
    if not changes.get("changed"):
        lines += ["", "No changes."]
        return "\n".join(lines) + "\n"
    lines += _facts_text(changes["facts"], f)
    lines += _entities_text(changes["entities"], e)
    lines += _inferred_text(changes["inferred"], i)
    lines += _ontology_text(changes["ontology"], o)
    lines += _queries_text(changes["queries"])
    return "\n".join(lines) + "\n"


def _heading(title: str, count: int) -> list[str]:
    return ["", f"{title} ({count})"]


def _property_lines(properties: dict, indent: str) -> list[str]:
    lines = []
    for prop, values in properties.items():
        for sign, key in (("-", "removed"), ("+", "added")):
            for value in values[key][:TEXT_CAP]:
                lines.append(f"{indent}{sign} {short_iri(prop)} {short(value)}")
            _more(lines, min(TEXT_CAP, len(values[key])), len(values[key]), indent + "  ")
    return lines


def _node_line(sign: str, node: dict) -> str:
    classes = ", ".join(short_iri(c) for c in node.get("classes", []))
    stated = ", ".join(short_iri(d) for d in node.get("statedIn", []))
    extra = "  ".join(x for x in (f"[{classes}]" if classes else "",
                                  f"(in {stated})" if stated else "") if x)
    return f"  {sign} {_labelled(node['iri'], node.get('label'))}" + (f"  {extra}" if extra else "")


def _facts_text(facts: dict, counts: dict) -> list[str]:
    lines = []
    for key, title, sign in (("added", "Fact nodes added", "+"),
                             ("removed", "Fact nodes removed", "-")):
        if counts[key]:
            lines += _heading(title, counts[key])
            lines += [_node_line(sign, n) for n in facts[key][:TEXT_CAP]]
            _more(lines, min(TEXT_CAP, len(facts[key])), counts[key], "  ")
    if counts["changed"]:
        lines += _heading("Fact nodes changed", counts["changed"])
        for node in facts["changed"][:TEXT_CAP]:
            lines.append(f"  ~ {_labelled(node['iri'], node.get('label'))}")
            lines += _property_lines(node["properties"], "      ")
        _more(lines, min(TEXT_CAP, len(facts["changed"])), counts["changed"], "  ")
    return lines


def _entities_text(entities: dict, counts: dict) -> list[str]:
    lines = []
    if counts["added"]:
        lines += _heading("New entities", counts["added"])
        for node in entities["added"][:TEXT_CAP]:
            lines.append(_node_line("+", node))
            for other in node["close"]:
                lines.append(f"      close to {_labelled(other['iri'], other.get('label'))}  "
                             f"({other['why']}, {other['score']:.2f})")
        _more(lines, min(TEXT_CAP, len(entities["added"])), counts["added"], "  ")
        flagged = [n for n in entities["added"][TEXT_CAP:] if n["close"]]
        for node in flagged[:TEXT_CAP]:     # possible duplicates are never hidden by the cap
            lines.append(_node_line("+", node))
            for other in node["close"]:
                lines.append(f"      close to {_labelled(other['iri'], other.get('label'))}  "
                             f"({other['why']}, {other['score']:.2f})")
    if counts["removed"]:
        lines += _heading("Entities removed", counts["removed"])
        lines += [_node_line("-", n) for n in entities["removed"][:TEXT_CAP]]
        _more(lines, min(TEXT_CAP, len(entities["removed"])), counts["removed"], "  ")
    if counts["changed"]:
        lines += _heading("Entities changed", counts["changed"])
        for node in entities["changed"][:TEXT_CAP]:
            lines.append(f"  ~ {_labelled(node['iri'], node.get('label'))}")
            lines += _property_lines(node["properties"], "      ")
        _more(lines, min(TEXT_CAP, len(entities["changed"])), counts["changed"], "  ")
    return lines


def _triple_text(triple: list[str]) -> str:
    return " ".join(short(t, 60) for t in triple)


def _inferred_text(inferred: dict, counts: dict) -> list[str]:
    lines = []
    for key, title, sign in (("gained", "Inferred triples gained", "+"),
                             ("lost", "Inferred triples lost", "-")):
        if not counts[key]:
            continue
        lines += _heading(title, counts[key])
        per_rule = sorted(((v[key], r) for r, v in inferred["by_rule"].items() if v[key]),
                          key=lambda x: (-x[0], x[1]))
        lines.append("  by rule: " + ", ".join(f"{r} {n}" for n, r in per_rule))
        for entry in inferred[key][:TEXT_CAP]:
            lines.append(f"  {sign} {_triple_text(entry['triple'])}   [{entry['rule'] or '?'}]")
        _more(lines, min(TEXT_CAP, len(inferred[key])), counts[key], "  ")
    return lines


def _ontology_text(ontology: dict, counts: dict) -> list[str]:
    lines = []
    for key, title, sign in (("added", "Ontology triples added", "+"),
                             ("removed", "Ontology triples removed", "-")):
        if counts[key]:
            lines += _heading(title, counts[key])
            lines += [f"  {sign} {_triple_text(list(t))}" for t in ontology[key][:TEXT_CAP]]
            _more(lines, min(TEXT_CAP, len(ontology[key])), counts[key], "  ")
    return lines


def _row_text(row: dict) -> str:
    text = "  ".join(f"{v}={short(t, 40)}" for v, t in row.items())
    return text if len(text) <= 160 else text[:159] + "…"


def _queries_text(queries: dict) -> list[str]:
    lines = []
    if queries["changed"]:
        lines += _heading("Queries whose answers change", len(queries["changed"]))
        for query in queries["changed"]:
            cut = " (answers cut at the row cap)" if query["truncated"] else ""
            lines.append(f"  {query['name']}: {query['old_rows']} → {query['new_rows']} rows "
                         f"(+{query['added_count']} −{query['removed_count']}){cut}")
            for sign, key in (("+", "added"), ("-", "removed")):
                for row in query[key][:TEXT_CAP // 2]:
                    lines.append(f"      {sign} {_row_text(row)}")
                _more(lines, min(TEXT_CAP // 2, len(query[key])), query[key + "_count"],
                      "        ")
    if queries["failed"]:
        lines += _heading("Queries not compared", len(queries["failed"]))
        lines += [f"  ! {q['name']}: {q['error']}" for q in queries["failed"]]
    return lines


# --- the commands -----------------------------------------------------------------------------

def dry_run(settings, data_dir: Path | None = None, options=None, as_json: bool = False,
            exit_code: bool = False) -> int:
    """Build the working tree without publishing it, print what it would change against the
    published build, remove the unpublished build. 0 when it ran (with ``exit_code``:
    :data:`EXIT_CHANGES` when there are changes), 1 when the build fails."""
    from ..pipeline import build as pipeline
    from ..pipeline.errors import BuildError
    options = options if options is not None else pipeline.Options()
    # the comparison needs the store and the derivations only
    options = dataclasses.replace(options, owl_files=False, downloads=False, changes=False)
    published = build_store.current_build(settings.store_root)
    try:
        draft = pipeline.build(settings, data_dir=data_dir, options=options,
                               log=lambda m: print(m, file=sys.stderr), publish=False)
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        print("nothing was published" + (f"; {published.name} stays published" if published
                                          else ""), file=sys.stderr)
        return 1
    try:
        changes = compare(published, draft, settings.project_dir / "queries")
    except (OSError, sqlite3.Error) as err:     # e.g. the published build removed meanwhile
        print(f"diff failed: {err}", file=sys.stderr)
        return 1
    finally:
        build_store.discard(draft)
    changes["new"]["published"] = False
    if as_json:
        json.dump(changes, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(changes))
    return EXIT_CHANGES if exit_code and changes["changed"] else 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="read facts from here instead of data/ttl/")
    parser.add_argument("--skip-validation", action="store_true",
                        help="do not run the SHACL shapes")
    parser.add_argument("--json", action="store_true", help="the changes as JSON (for tools)")
    parser.add_argument("--exit-code", action="store_true",
                        help=f"exit with {EXIT_CHANGES} when there are changes, 0 when none")


def _run(args: argparse.Namespace, settings) -> int:
    from ..pipeline.build import Options
    return dry_run(settings, data_dir=args.data_dir,
                   options=Options(validate=not args.skip_validation), as_json=args.json,
                   exit_code=args.exit_code)


HELP = ("what the working tree would change against the published build (builds it without "
        "publishing)")
COMMANDS = {"diff": (HELP, _add_arguments, _run)}
