"""Fidelity of the built graph to its sources: one attribution model, statements in structure,
sound inferences, statement tensions that never clash, and cited works described for what they
are.

Checks on the real data read the built store; checks of the reasoning step run the real
materializer over the real ontology and a small inline fixture ("if … then …").
"""
from __future__ import annotations

import re
import subprocess
import sys

import pyoxigraph as ox
import pytest

from support import PROJECT
from tdkg import namespaces as ns
from tdkg.coverage import seed_files, split, tables
from tdkg.pipeline.reason import reason
from tdkg.pipeline.rules import load_rules

SEEDS = PROJECT.parent / "shared" / "seeds"
TDKG, TDI = ns.TDKG, ns.ID
PREFIXES = f"PREFIX tdkg: <{TDKG}>\nPREFIX tdi: <{TDI}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" \
           "PREFIX dcterms: <http://purl.org/dc/terms/>\n"


@pytest.fixture(scope="module")
def select(built_state):
    store = ox.Store.read_only(str((built_state / "current").resolve() / "store"))
    default = [ox.NamedNode(g) for g in ns.FACT_GRAPHS]

    def run(query: str) -> list[dict[str, str]]:
        answer = store.query(PREFIXES + query, default_graph=default)
        names = [v.value for v in answer.variables]
        return [{n: row[n].value for n in names if row[n] is not None} for row in answer]
    return run


def asserted(pattern: str) -> str:
    return "GRAPH <%s> { %s }" % (ns.GRAPH_ASSERTED, pattern)


# --- one attribution model ------------------------------------------------------------------

def test_a_claimed_statement_has_exactly_one_voice(select):
    rows = select("""SELECT ?f (COUNT(DISTINCT ?v) AS ?n) WHERE { %s }
                     GROUP BY ?f HAVING (COUNT(DISTINCT ?v) != 1)"""
                  % asserted("?f tdkg:status tdkg:claimed OPTIONAL { ?f tdkg:claimedBy ?v }"))
    assert not rows, rows


def test_no_statement_has_two_voices(select):
    assert not select("SELECT ?f WHERE { %s FILTER (?a != ?b) }"
                      % asserted("?f tdkg:claimedBy ?a , ?b"))


def test_the_authors_own_and_curators_statements_have_no_voice(select):
    rows = select("SELECT ?f ?s WHERE { %s FILTER (?s IN (tdkg:reported, tdkg:curatorKnowledge)) }"
                  % asserted("?f tdkg:claimedBy ?v ; tdkg:status ?s"))
    assert not rows, rows


def test_every_voice_is_a_labelled_agent_or_publication(select):
    rows = select("""SELECT DISTINCT ?v WHERE { ?f tdkg:claimedBy ?v .
        FILTER NOT EXISTS { ?v rdfs:label ?l }
        FILTER NOT EXISTS { { ?v a tdkg:Agent } UNION { ?v a tdkg:Publication } } }""")
    assert not rows, rows


ATTRIBUTION = re.compile(r"\b(according to|reportedly|reported that|experts?|analysts?|scholars|"
                         r"one study|critics|argues|credited|generally seen|put it|claims of|"
                         r"suggestions of|commentary in|debates? in|officially rejected)\b", re.I)


def test_every_sentence_that_attributes_a_statement_has_a_voiced_fact_node(select):
    """A sentence with a reporting cue (words found in the sources, e.g. 'according to',
    'reportedly', 'scholars point out') must map to at least one fact node that names its voice
    or its denier; an attribution kept in a label or comment alone fails."""
    voiced = {r["f"] for r in select("""SELECT DISTINCT ?f WHERE { { ?f tdkg:claimedBy ?v }
        UNION { ?f tdkg:deniedBy ?v } UNION { ?f tdkg:denier ?v } }""")}
    checked, missing = 0, []
    for doc, path in seed_files(SEEDS).items():
        units = split(path.read_text(encoding="utf-8"))
        for unit, row in zip(units, tables(PROJECT / "data" / "coverage")[doc]):
            if unit.kind != "sentence" or not ATTRIBUTION.search(unit.text):
                continue
            checked += 1
            if not {TDI + f[4:] for f in row.facts if f.startswith("tdi:")} & voiced:
                missing.append((doc, unit.index))
    assert checked >= 15 and not missing, missing


# --- statements live in structure -----------------------------------------------------------

def test_an_assessment_keeps_its_content_in_a_paraphrase_not_a_comment(select):
    rows = select("""SELECT ?f WHERE { %s FILTER NOT EXISTS { ?f tdkg:paraphrase ?p } }"""
                  % asserted("{ ?f a tdkg:Assessment } UNION { ?f a tdkg:NegativeStatement } "
                             "?f rdfs:comment ?c"))
    assert not rows, rows


def test_an_implied_statement_says_what_it_is_read_from(select):
    rows = select("SELECT ?f WHERE { %s FILTER NOT EXISTS { ?f rdfs:comment ?c } }"
                  % asserted("?f tdkg:status tdkg:implied"))
    assert not rows, rows


def test_a_negated_content_is_never_held_as_reported(select):
    rows = select("""SELECT ?n ?f ?s WHERE { ?n a tdkg:NegativeStatement ; tdkg:negatedFact ?f ;
                     tdkg:negationKind ?k . ?f tdkg:status ?s FILTER (?s = tdkg:reported) }""")
    assert not rows, rows
    assert len(select("SELECT ?n WHERE { ?n a tdkg:NegativeStatement ; tdkg:negationKind ?k }")) >= 3


# --- statement tensions -------------------------------------------------------------------------

def test_statements_in_tension_are_related_both_ways_and_never_with_themselves(select):
    pairs = select("SELECT ?t ?a ?b WHERE { ?t a tdkg:StatementTension ; "
                   "tdkg:firstStatement ?a ; tdkg:secondStatement ?b }")
    assert len(pairs) >= 5
    linked = {(r["a"], r["b"]) for r in select("SELECT ?a ?b WHERE { ?a tdkg:inTensionWith ?b }")}
    for row in pairs:
        assert row["a"] != row["b"], row
        assert {(row["a"], row["b"]), (row["b"], row["a"])} <= linked, row
    assert all(a != b for a, b in linked)


def test_a_tension_is_stated_where_it_is_visible(select):
    """Within one document the document shows it; across documents only the curators do."""
    rows = select("""SELECT ?t ?src ?da ?db ?s WHERE { ?t a tdkg:StatementTension ;
        tdkg:statedIn ?src ; tdkg:status ?s ; tdkg:firstStatement/tdkg:statedIn ?da ;
        tdkg:secondStatement/tdkg:statedIn ?db }""")
    for row in rows:
        if row["da"] == row["db"]:
            assert row["src"] == row["da"], row
        else:
            assert (row["src"], row["s"]) == (ns.SOURCE + "curator", TDKG + "curatorKnowledge"), row
    assert {r["da"] == r["db"] for r in rows} == {True, False}


def test_if_two_statements_are_in_tension_then_the_reasoner_relates_them_without_a_clash():
    ontology = _triples((PROJECT / "ontology" / "tdkg.ttl").read_text(encoding="utf-8"))
    data = _triples("""
        tdi:pact a tdkg:Agreement ; tdkg:signatory tdi:a , tdi:b ; tdkg:status tdkg:speculative .
        tdi:none a tdkg:NegativeStatement ; tdkg:negatedFact tdi:pact ; tdkg:status tdkg:reported .
        tdi:t a tdkg:StatementTension ; tdkg:firstStatement tdi:pact ; tdkg:secondStatement tdi:none ;
              tdkg:status tdkg:reported .""")
    found = _inferred(reason(ontology, data, []))
    assert (TDI + "none", TDKG + "inTensionWith", TDI + "pact") in found
    assert (TDI + "pact", TDKG + "inTensionWith", TDI + "none") in found
    # the link carries the status of the tension node, not of the statements it relates
    assert found[(TDI + "none", TDKG + "inTensionWith", TDI + "pact")].endswith("#reported")


# --- sound inferences -------------------------------------------------------------------------

def _triples(turtle: str) -> list[ox.Triple]:
    head = "@prefix tdkg: <%s> . @prefix tdi: <%s> .\n" % (TDKG, TDI)
    return [q.triple for q in ox.parse((head + turtle).encode(), format=ox.RdfFormat.TURTLE)]


def _inferred(inference) -> dict[tuple[str, str, str], str]:
    out = {}
    for t, derivation in inference.inferred.items():
        s, p, o = (inference.terms.term(x) for x in t)
        out[(s.value, p.value, getattr(o, "value", str(o)))] = inference.status_name(derivation.strength)
    return out


def test_if_units_are_built_abroad_then_that_state_is_not_the_country_of_origin():
    """Regression: the COBRA II vehicles to be made in Romania made Romania their country of
    origin, because local manufacture was recorded as tdkg:producingState."""
    ontology = _triples((PROJECT / "ontology" / "tdkg.ttl").read_text(encoding="utf-8"))
    data = _triples("""
        tdi:origin a tdkg:Production ; tdkg:producedSystem tdi:vehicle ; tdkg:producingState tdi:home ;
                   tdkg:status tdkg:reported .
        tdi:local a tdkg:Production ; tdkg:producedSystem tdi:vehicle ; tdkg:productionPlace tdi:buyer ;
                  tdkg:status tdkg:reported .""")
    found = _inferred(reason(ontology, data, []))
    assert (TDI + "vehicle", TDKG + "countryOfOrigin", TDI + "home") in found
    assert (TDI + "vehicle", TDKG + "countryOfOrigin", TDI + "buyer") not in found


def test_no_system_has_its_local_production_place_as_country_of_origin(select):
    rows = select("""SELECT ?system ?place WHERE { ?system tdkg:countryOfOrigin ?place .
        ?x tdkg:productionPlace ?place ; tdkg:concernsSystem|tdkg:producedSystem ?system }""")
    assert not rows, rows
    assert select("SELECT ?s WHERE { tdi:cobra-ii tdkg:manufacturer ?s }")   # the maker stays


def test_if_a_maker_is_only_claimed_then_its_customers_are_claimed_not_reported():
    ontology = _triples((PROJECT / "ontology" / "tdkg.ttl").read_text(encoding="utf-8"))
    data = _triples("""
        tdi:deal tdkg:recipient tdi:buyer ; tdkg:concernsSystem tdi:drone ; tdkg:status tdkg:reported .
        tdi:p tdkg:producedSystem tdi:drone ; tdkg:producer tdi:maker ; tdkg:status tdkg:claimed .""")
    rules = [r for r in load_rules(PROJECT / "ontology" / "rules") if r.name == "customers-of-maker"]
    found = _inferred(reason(ontology, data, rules))
    assert found[(TDI + "buyer", TDKG + "customerOf", TDI + "maker")].endswith("#claimed")


def test_every_derived_relation_carries_the_weakest_status_of_all_its_premises(select):
    """Each rule lists its premises with tdkg:basedOn (the state-level rule also the home-state
    attributions it used); no conclusion may be firmer than its weakest premise."""
    rows = select("""SELECT ?node ?strength (MIN(?n) AS ?weakest) (COUNT(?p) AS ?premises) WHERE {
        ?node a tdkg:DerivedRelation ; tdkg:status/tdkg:strength ?strength ; tdkg:basedOn ?p .
        ?p tdkg:status/tdkg:strength ?n } GROUP BY ?node ?strength""")
    assert len(rows) > 50
    wrong = [r for r in rows if int(r["strength"]) != int(r["weakest"])]
    assert not wrong, wrong


def test_an_implied_maker_feeds_no_maker_customer_relation(select):
    rows = select("""SELECT ?node ?p WHERE { ?node a tdkg:MakerCustomerRelation ; tdkg:basedOn ?p .
        ?p tdkg:producer ?maker ; tdkg:status ?s FILTER (?s NOT IN (tdkg:reported, tdkg:claimed)) }""")
    assert not rows, rows
    assert not select("SELECT ?c WHERE { ?c tdkg:customerOf tdi:otokar }")   # maker only implied


# --- cited works ------------------------------------------------------------------------------

def test_every_cited_work_describes_its_subject_and_keeps_no_headline(select):
    rows = select("""SELECT ?w WHERE { ?w a tdkg:CitedWork .
        FILTER (NOT EXISTS { ?w dcterms:description ?d } || EXISTS { ?w dcterms:title ?t }) }""")
    assert not rows, rows


def test_an_outlet_is_a_publisher_and_never_stands_as_an_author(select):
    """A name given as a publisher anywhere (outlet, institute, company) is never an author;
    a work whose footnote names no person has no dcterms:creator."""
    rows = select("""SELECT ?w ?name WHERE { ?w a tdkg:CitedWork ; dcterms:creator ?name .
        ?other a tdkg:CitedWork ; dcterms:publisher ?name }""")
    assert not rows, rows
    outlets = {r["w"].rsplit("/", 1)[-1] for r in select(
        "SELECT ?w WHERE { ?w a tdkg:CitedWork FILTER NOT EXISTS { ?w dcterms:creator ?c } }")}
    assert {"work-turkish-minute-2025-arms-exports", "work-politico-2025-spain-nato",
            "work-oryx-2022-stalwart-ally"} <= outlets


def test_a_footnote_flagged_for_its_work_says_why(select):
    rows = select("""SELECT ?fn WHERE { ?fn tdkg:workFit ?fit
                     FILTER NOT EXISTS { ?fn tdkg:workFitNote ?note } }""")
    assert not rows, rows
    flagged = {r["n"] for r in select("SELECT ?n WHERE { ?fn tdkg:workFit tdkg:workOnOtherSubject ; "
                                      "tdkg:footnoteNumber ?n }")}
    assert "6" in flagged          # Idlib, cited for Karabakh


def test_no_line_of_the_project_repeats_a_source_sentence():
    """The shared copy checker finds no run of nine words that a source document also holds."""
    checker = PROJECT.parent / "shared" / "tools" / "prose-overlap.py"
    done = subprocess.run([sys.executable, str(checker), str(PROJECT)], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "")
