"""Coverage of the source documents: every sentence of ``../shared/seeds/`` maps to the fact nodes
that encode it (or to a reason), and every fact node to a sentence, with the footnote whose scope
covers that sentence.

The splitter of :mod:`tdkg.coverage` is tested on small inline texts; the tables of
``data/coverage/`` are held to the seeds (split again here) and to the built graph.
"""
from __future__ import annotations

import re
from collections import defaultdict

import pyoxigraph as ox
import pytest

from support import PROJECT
from tdkg import namespaces as ns
from tdkg.coverage import footnote_scope, seed_files, split, tables

SEEDS = PROJECT.parent / "shared" / "seeds"
COVERAGE = PROJECT / "data" / "coverage"
DOCS = sorted(seed_files(SEEDS))
PREFIXES = {"tdi:": ns.ID, "tds:": ns.SOURCE, "tdkg:": ns.TDKG}


def expand(name: str) -> str:
    for prefix, iri in PREFIXES.items():
        if name.startswith(prefix):
            return iri + name[len(prefix):]
    raise AssertionError(f"not a prefixed name of the project: {name}")


def shorten(iri: str) -> str:
    for prefix, base in PREFIXES.items():
        if iri.startswith(base):
            return prefix + iri[len(base):]
    return iri


# --- the splitter -------------------------------------------------------------------------------

def test_sentences_end_at_terminal_punctuation_before_a_capital():
    units = split("One ends here. Two asks? Three exclaims! four is not a new start.")
    assert [u.text for u in units] == ["One ends here.", "Two asks?",
                                       "Three exclaims! four is not a new start."]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    units = split("Aid from the U.S. Army came, e.g. Rockets. Mr. Smith and J. Doe left. Then it ended.")
    assert [u.text for u in units] == ["Aid from the U.S. Army came, e.g. Rockets.",
                                       "Mr. Smith and J. Doe left.", "Then it ended."]


def test_a_marker_and_closing_quote_belong_to_the_sentence_they_end():
    units = split("He said it was “done.”[10] In this vein it grew.[11] Later more came.")
    assert [u.text for u in units] == ["He said it was “done.”[10]", "In this vein it grew.[11]",
                                       "Later more came."]
    assert [u.markers for u in units] == [(10,), (11,), ()]


def test_a_full_stop_glued_to_the_next_word_ends_a_sentence():
    units = split("It was stable.While it lasted, all went well. Ends at U.S.-led order.")
    assert [u.text for u in units] == ["It was stable.", "While it lasted, all went well.",
                                       "Ends at U.S.-led order."]


def test_headings_references_and_paragraph_numbers():
    text = "Short Heading\n\nA body sentence here. Another one.\n[1] Author, “A Title,” 2020, https://x.org/a.b.\n"
    units = split(text)
    assert [(u.index, u.paragraph, u.kind) for u in units] == [
        (1, 1, "heading"), (2, 2, "sentence"), (3, 2, "sentence"), (4, 3, "reference")]
    assert units[3].reference == 1 and units[3].markers == ()


def test_a_footnote_covers_the_sentences_before_its_marker_within_the_paragraph():
    units = split("A one. B two.[1] C three.\nD four.[2]\nE five.")
    assert footnote_scope(units) == {1: 1, 2: 1, 3: None, 4: 2, 5: None}


# --- the tables against the seeds ---------------------------------------------------------------

def test_every_seed_has_a_table_and_every_table_a_seed():
    assert DOCS and set(tables(COVERAGE)) == set(DOCS)


@pytest.mark.parametrize("doc", DOCS)
def test_table_rows_are_the_units_of_the_seed_in_order(doc):
    units = split(seed_files(SEEDS)[doc].read_text(encoding="utf-8"))
    rows = tables(COVERAGE)[doc]
    assert [r.sentence for r in rows] == list(range(1, len(units) + 1)), "each index once, in order"
    assert [(r.sentence, r.paragraph, r.kind, r.markers) for r in rows] == \
        [(u.index, u.paragraph, u.kind, u.markers) for u in units]


@pytest.mark.parametrize("doc", DOCS)
def test_every_row_gives_facts_or_a_reason_never_both(doc):
    for row in tables(COVERAGE)[doc]:
        assert bool(row.facts) != bool(row.reason), f"doc {doc}, sentence {row.sentence}"
        assert len(set(row.facts)) == len(row.facts), f"doc {doc}, sentence {row.sentence}"


@pytest.mark.parametrize("doc", DOCS)
def test_the_seed_tables_are_finished(doc):
    """No row of a seed's table is still ``todo`` (what ``tdkg new-source`` writes for a new
    document, and ``tdkg build --strict`` refuses)."""
    pending = [row.sentence for row in tables(COVERAGE)[doc] if row.todo]
    assert not pending, f"doc {doc}: rows still todo: {pending}"


def test_the_markers_column_records_every_footnote_marker_of_doc_000_once():
    """The marker positions are data: checked against the raw text, independently of the splitter."""
    text = seed_files(SEEDS)["000"].read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not re.match(r"^\[\d+\]\s", line))
    in_text = [int(n) for n in re.findall(r"\[(\d+)\]", body)]
    rows = tables(COVERAGE)["000"]
    recorded = [m for r in rows for m in r.markers]
    assert recorded == in_text == list(range(1, 30))
    references = [r for r in rows if r.kind == "reference"]
    assert len(references) == 29


# --- the tables against the built graph ---------------------------------------------------------

@pytest.fixture(scope="module")
def graph(built_state):
    store = ox.Store.read_only(str((built_state / "current").resolve() / "store"))
    default = [ox.NamedNode(g) for g in ns.FACT_GRAPHS]

    def select(query: str) -> list[dict[str, str]]:
        answer = store.query("PREFIX tdkg: <%s>\n%s" % (ns.TDKG, query), default_graph=default)
        names = [v.value for v in answer.variables]
        return [{n: row[n].value for n in names if row[n] is not None} for row in answer]
    return select


@pytest.fixture(scope="module")
def facts(graph) -> dict[str, dict]:
    """Every fact node stated in a document: its document, citations and classes."""
    found: dict[str, dict] = defaultdict(lambda: {"citations": set(), "types": set()})
    for row in graph("""SELECT ?fact ?doc ?fn ?type WHERE {
            GRAPH <%s> { ?fact tdkg:statedIn ?doc . ?fact a ?type OPTIONAL { ?fact tdkg:citation ?fn } }
            ?doc a tdkg:Document }""" % ns.GRAPH_ASSERTED):
        entry = found[shorten(row["fact"])]
        entry["doc"] = shorten(row["doc"])[len("tds:doc-"):]
        entry["types"].add(shorten(row["type"]))
        if "fn" in row:
            entry["citations"].add(shorten(row["fn"]))
    return dict(found)


@pytest.fixture(scope="module")
def sources(graph) -> set[str]:
    return {shorten(r["s"]) for r in graph(
        "SELECT ?s WHERE { { ?s a tdkg:Document } UNION { ?s a tdkg:Footnote } }")}


@pytest.mark.parametrize("doc", DOCS)
def test_every_listed_iri_is_a_fact_node_of_the_document_or_its_source(doc, facts, sources):
    for row in tables(COVERAGE)[doc]:
        for name in row.facts:
            if name.startswith("tds:"):
                assert name in sources, f"doc {doc}, sentence {row.sentence}: {name} is no source"
                assert name.startswith(f"tds:doc-{doc}"), f"doc {doc}, sentence {row.sentence}: {name}"
            else:
                assert name in facts, f"doc {doc}, sentence {row.sentence}: {name} is no fact node"
                assert facts[name]["doc"] == doc, f"{name} is stated in doc {facts[name]['doc']}"


def test_reference_entries_map_to_the_footnote_they_define():
    units = split(seed_files(SEEDS)["000"].read_text(encoding="utf-8"))
    for unit, row in zip(units, tables(COVERAGE)["000"]):
        if unit.kind == "reference":
            assert row.facts == (f"tds:doc-000-fn-{unit.reference}",), row


@pytest.mark.parametrize("doc", DOCS)
def test_every_fact_node_of_a_document_appears_in_its_table(doc, facts):
    listed = {f for r in tables(COVERAGE)[doc] for f in r.facts}
    missing = sorted(f for f, e in facts.items() if e["doc"] == doc and f not in listed)
    assert not missing, f"fact nodes of doc {doc} in no row: {missing}"


def _sentences_of(doc: str) -> dict[str, list[int]]:
    where: dict[str, list[int]] = defaultdict(list)
    for row in tables(COVERAGE)[doc]:
        for name in row.facts:
            where[name].append(row.sentence)
    return where


@pytest.mark.parametrize("doc", DOCS)
def test_each_fact_cites_the_footnote_whose_scope_covers_its_sentences(doc, facts):
    """A footnote supports the text before its marker back to the previous marker or the start of
    the paragraph; a sentence after the paragraph's last marker is the author's and cites none.
    A node whose sentences fall under two footnotes merges two statements and must be split."""
    scope = footnote_scope(split(seed_files(SEEDS)[doc].read_text(encoding="utf-8")))
    for name, sentences in _sentences_of(doc).items():
        if name.startswith("tds:") or "tdkg:StatementTension" in facts[name]["types"]:
            continue
        scopes = {scope[s] for s in sentences}
        assert len(scopes) == 1, f"{name} merges sentences {sentences} under footnotes {scopes}"
        number = scopes.pop()
        expected = set() if number is None else {f"tds:doc-{doc}-fn-{number}"}
        assert facts[name]["citations"] == expected, \
            f"{name} (sentences {sentences}) cites {facts[name]['citations'] or 'nothing'}, not {expected or 'nothing'}"


@pytest.mark.parametrize("doc", DOCS)
def test_a_tension_is_listed_where_each_of_its_statements_is_and_cites_no_footnote(doc, facts, graph):
    where = _sentences_of(doc)
    rows = graph("""SELECT ?t ?a ?b WHERE { ?t a tdkg:StatementTension ; tdkg:statedIn <%sdoc-%s> ;
                    tdkg:firstStatement ?a ; tdkg:secondStatement ?b }""" % (ns.SOURCE, doc))
    for row in rows:
        tension, first, second = (shorten(row[k]) for k in ("t", "a", "b"))
        assert not facts[tension]["citations"], tension
        assert set(where[tension]) <= set(where[first]) | set(where[second]), tension
        assert set(where[tension]) & set(where[first]) and set(where[tension]) & set(where[second]), tension
