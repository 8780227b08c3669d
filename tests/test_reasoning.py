"""The reasoning step, one small inline fixture per rule: "if … then …".

Each test runs the real materializer (and, for the SPARQL rules, the real rule files of
ontology/rules/ on Oxigraph) over a few triples and checks what is and is not inferred, the
derivation kept, and the status the inference carries.
"""
from __future__ import annotations

import gc

import pyoxigraph as ox
import pytest

from support import PROJECT
from tdkg.pipeline.errors import InconsistencyError
from tdkg.pipeline.reason import reason
from tdkg.pipeline.rules import load_rule, load_rules

PREFIXES = """@prefix tdkg: <https://w3id.org/tdkg/ontology#> .
@prefix tdi: <https://w3id.org/tdkg/id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix org: <http://www.w3.org/ns/org#> .
"""
STATUSES = """tdkg:reported tdkg:strength 6 . tdkg:claimed tdkg:strength 5 .
tdkg:implied tdkg:strength 4 . tdkg:speculative tdkg:strength 2 .
tdkg:officiallyDenied tdkg:strength 1 .
"""
RULES = PROJECT / "ontology" / "rules"


def _triples(turtle: str) -> list[ox.Triple]:
    return [q.triple for q in ox.parse((PREFIXES + turtle).encode(), format=ox.RdfFormat.TURTLE)]


def _infer(ontology: str, data: str, rules=()):
    inference = reason(_triples(ontology + STATUSES), _triples(data), list(rules))
    found = {}
    for t, derivation in inference.inferred.items():
        s, p, o = (inference.terms.term(x) for x in t)
        found[(_short(s), _short(p), _short(o))] = (derivation, inference.status_name(derivation.strength))
    return found


def _short(term) -> str:
    value = getattr(term, "value", str(term))
    for prefix, iri in (("tdkg:", "https://w3id.org/tdkg/ontology#"), ("tdi:", "https://w3id.org/tdkg/id/"),
                        ("rdf:", "http://www.w3.org/1999/02/22-rdf-syntax-ns#")):
        if value.startswith(iri):
            return prefix + value[len(iri):]
    return value


def test_if_x_is_a_combat_drone_then_it_is_an_unmanned_aerial_vehicle():
    found = _infer("tdkg:CombatDrone rdfs:subClassOf tdkg:UAV . tdkg:UAV rdfs:subClassOf tdkg:WeaponSystem .",
                   "tdi:tb2 a tdkg:CombatDrone .")
    assert found[("tdi:tb2", "rdf:type", "tdkg:UAV")][0].rule == "cax-sco"
    assert ("tdi:tb2", "rdf:type", "tdkg:WeaponSystem") in found


def test_if_p_is_a_subproperty_of_q_then_p_values_are_q_values():
    found = _infer("tdkg:supplier rdfs:subPropertyOf tdkg:party .",
                   "tdi:deal tdkg:supplier tdi:otokar ; tdkg:status tdkg:reported .")
    assert found[("tdi:deal", "tdkg:party", "tdi:otokar")][1].endswith("#reported")


def test_if_p_is_the_inverse_of_q_then_q_holds_backwards():
    found = _infer("tdkg:partyTo owl:inverseOf tdkg:party .", "tdi:deal tdkg:party tdi:otokar .")
    assert found[("tdi:otokar", "tdkg:partyTo", "tdi:deal")][0].rule == "prp-inv"


def test_if_p_is_symmetric_then_it_holds_both_ways_and_is_not_transitive():
    found = _infer("tdkg:partnerOf a owl:SymmetricProperty .",
                   "tdi:a tdkg:partnerOf tdi:b . tdi:b tdkg:partnerOf tdi:c .")
    assert ("tdi:b", "tdkg:partnerOf", "tdi:a") in found
    assert ("tdi:a", "tdkg:partnerOf", "tdi:c") not in found


def test_if_a_property_has_a_domain_and_range_then_its_ends_are_typed():
    found = _infer("tdkg:producer rdfs:domain tdkg:Production ; rdfs:range tdkg:Agent .",
                   "tdi:p tdkg:producer tdi:baykar .")
    assert ("tdi:p", "rdf:type", "tdkg:Production") in found
    assert ("tdi:baykar", "rdf:type", "tdkg:Agent") in found


def test_if_a_chain_with_an_inverse_step_holds_then_the_shortcut_holds_with_the_premises_status():
    found = _infer("tdkg:partnerOf owl:propertyChainAxiom ( [ owl:inverseOf tdkg:firstPartner ] tdkg:secondPartner ) .",
                   "tdi:f tdkg:firstPartner tdi:turkiye ; tdkg:secondPartner tdi:pakistan ; "
                   "tdkg:status tdkg:speculative .")
    derivation, status = found[("tdi:turkiye", "tdkg:partnerOf", "tdi:pakistan")]
    assert derivation.rule == "prp-spo2" and len(derivation.premises) == 2
    assert status.endswith("#speculative")          # doubt is carried, not laundered
    assert ("tdi:pakistan", "tdkg:partnerOf", "tdi:turkiye") not in found


def test_the_best_supported_derivation_is_kept():
    ontology = "tdkg:supplier rdfs:subPropertyOf tdkg:party . tdkg:coProducer rdfs:subPropertyOf tdkg:party ."
    data = ("tdi:deal tdkg:status tdkg:reported ; tdkg:supplier tdi:x . "
            "tdi:deal tdkg:coProducer tdi:x .")
    found = _infer(ontology, data)
    assert found[("tdi:deal", "tdkg:party", "tdi:x")][1].endswith("#reported")



def test_a_one_premise_derivation_names_its_premise_and_axiom_and_strengths_read_plainly():
    inference = reason(_triples("tdkg:SaleAgreement rdfs:subClassOf tdkg:Agreement ." + STATUSES),
                       _triples("tdi:deal a tdkg:SaleAgreement ; tdkg:status tdkg:claimed ."), [])
    term = inference.terms.lookup
    deal, a, sale, agreement = (term(ox.NamedNode(iri)) for iri in (
        "https://w3id.org/tdkg/id/deal", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
        "https://w3id.org/tdkg/ontology#SaleAgreement", "https://w3id.org/tdkg/ontology#Agreement"))
    derivation = inference.inferred[(deal, a, agreement)]
    assert derivation.premises == ((deal, a, sale),)
    assert derivation.axioms == ((sale, term(ox.NamedNode(
        "http://www.w3.org/2000/01/rdf-schema#subClassOf")), agreement),)
    # the table the derivations file is written from: the claimed status's strength (5), for
    # the asserted premise and the inferred triple alike, never the engine's own encoding
    assert inference.strength[(deal, a, sale)] == inference.strength[(deal, a, agreement)] == 5
    assert min(inference.strength.values()) >= 1

def test_if_an_individual_is_in_two_disjoint_classes_then_reasoning_fails_naming_the_clash():
    ontology = "[] a owl:AllDisjointClasses ; owl:members ( tdkg:State tdkg:WeaponSystem ) ."
    with pytest.raises(InconsistencyError) as err:
        _infer(ontology, "tdi:turkiye a tdkg:State , tdkg:WeaponSystem .")
    assert "turkiye" in str(err.value) and "State" in str(err.value) and "WeaponSystem" in str(err.value)
    assert gc.isenabled()       # the reasoner turns the cycle collector off only while it runs


# --- the SPARQL rules -----------------------------------------------------------------------

CHAIN = "tdkg:partnerOf owl:propertyChainAxiom ( [ owl:inverseOf tdkg:firstPartner ] tdkg:secondPartner ) ; a owl:SymmetricProperty ."


def test_every_rule_file_has_a_complete_header():
    rules = load_rules(RULES)
    assert len(rules) >= 5
    for rule in rules:
        assert {"summary", "description", "version", "status"} <= set(rule.header), rule.path


def test_if_a_partners_b_and_b_partners_c_then_a_is_an_indirect_partner_of_c_through_b():
    data = """tdi:f1 tdkg:firstPartner tdi:turkiye ; tdkg:secondPartner tdi:pakistan ; tdkg:status tdkg:reported .
              tdi:f2 tdkg:firstPartner tdi:china ; tdkg:secondPartner tdi:pakistan ; tdkg:status tdkg:claimed ."""
    found = _infer(CHAIN, data, [load_rule(RULES / "indirect-partnership.rq")])
    derivation, status = found[("tdi:turkiye", "tdkg:indirectPartnerOf", "tdi:china")]
    assert derivation.rule == "rule:indirect-partnership@2" and status.endswith("#claimed")
    node = "tdi:inferred/indirect-partnership/f1--f2"
    assert (node, "tdkg:via", "tdi:pakistan") in found
    assert (node, "tdkg:status", "tdkg:claimed") in found
    assert ("tdi:turkiye", "tdkg:indirectPartnerOf", "tdi:turkiye") not in found


def test_if_c_is_already_a_direct_partner_or_a_premise_was_denied_then_no_indirect_partnership():
    data = """tdi:f1 tdkg:firstPartner tdi:a ; tdkg:secondPartner tdi:b ; tdkg:status tdkg:reported .
              tdi:f2 tdkg:firstPartner tdi:b ; tdkg:secondPartner tdi:c ; tdkg:status tdkg:reported .
              tdi:f3 tdkg:firstPartner tdi:a ; tdkg:secondPartner tdi:c ; tdkg:status tdkg:reported .
              tdi:f4 tdkg:firstPartner tdi:b ; tdkg:secondPartner tdi:d ; tdkg:status tdkg:officiallyDenied ."""
    found = _infer(CHAIN, data, [load_rule(RULES / "indirect-partnership.rq")])
    assert ("tdi:a", "tdkg:indirectPartnerOf", "tdi:c") not in found
    assert ("tdi:a", "tdkg:indirectPartnerOf", "tdi:d") not in found


def test_if_a_company_and_a_foreign_ministry_sign_then_their_states_have_an_agreement():
    data = """tdi:deal a tdkg:Agreement ; tdkg:party tdi:otokar , tdi:romania-mod ; tdkg:status tdkg:reported .
              tdi:h tdkg:attributedCompany tdi:otokar ; tdkg:attributedState tdi:turkiye ; tdkg:status tdkg:implied .
              tdi:romania-mod tdkg:organOf tdi:romania . tdi:turkiye a tdkg:State . tdi:romania a tdkg:State ."""
    found = _infer("", data, [load_rule(RULES / "state-level-agreements.rq")])
    derivation, status = found[("tdi:turkiye", "tdkg:hasDefenceAgreementWith", "tdi:romania")]
    assert status.endswith("#implied")            # the weaker of the deal and the attribution
    assert ("tdi:romania", "tdkg:hasDefenceAgreementWith", "tdi:turkiye") in found
    # the node names every premise its status rests on: the deal and the attribution it used
    node = "tdi:inferred/state-agreement/deal--romania--turkiye"
    assert {o for (s, p, o) in found if s == node and p == "tdkg:basedOn"} == {"tdi:deal", "tdi:h"}


def test_if_two_states_sign_directly_then_nothing_is_lifted():
    data = """tdi:deal a tdkg:Agreement ; tdkg:party tdi:turkiye , tdi:pakistan ; tdkg:status tdkg:reported .
              tdi:turkiye a tdkg:State . tdi:pakistan a tdkg:State ."""
    found = _infer("", data, [load_rule(RULES / "state-level-agreements.rq")])
    assert not [k for k in found if k[1] == "tdkg:hasDefenceAgreementWith"]


def test_if_two_states_are_members_of_a_pact_then_they_are_co_members_through_it():
    data = """tdi:m1 org:member tdi:turkiye ; org:organization tdi:cento ; tdkg:status tdkg:reported .
              tdi:m2 org:member tdi:pakistan ; org:organization tdi:cento ; tdkg:status tdkg:reported ."""
    found = _infer("", data, [load_rule(RULES / "co-membership.rq")])
    assert ("tdi:turkiye", "tdkg:coMemberOf", "tdi:pakistan") in found
    node = "tdi:inferred/co-membership/m1--m2"
    assert (node, "tdkg:via", "tdi:cento") in found


def test_if_a_deal_has_a_supplier_and_a_recipient_then_they_trade_defence_goods():
    data = "tdi:deal tdkg:supplier tdi:turkiye ; tdkg:recipient tdi:ukraine ; tdkg:status tdkg:reported ."
    found = _infer("", data, [load_rule(RULES / "defence-trade.rq")])
    assert ("tdi:ukraine", "tdkg:tradesDefenceWith", "tdi:turkiye") in found


def test_customers_of_a_product_become_customers_of_its_stated_maker_only():
    data = """tdi:deal tdkg:recipient tdi:saudi ; tdkg:concernsSystem tdi:akinci ; tdkg:status tdkg:reported .
              tdi:p1 tdkg:producedSystem tdi:akinci ; tdkg:producer tdi:baykar ; tdkg:status tdkg:reported .
              tdi:acq tdkg:recipient tdi:ukraine ; tdkg:transferredSystem tdi:tb2 ; tdkg:status tdkg:reported .
              tdi:p2 tdkg:producedSystem tdi:tb2 ; tdkg:producer tdi:baykar ; tdkg:status tdkg:implied ."""
    found = _infer("", data, [load_rule(RULES / "customers-of-maker.rq")])
    assert ("tdi:saudi", "tdkg:customerOf", "tdi:baykar") in found
    assert ("tdi:ukraine", "tdkg:customerOf", "tdi:baykar") not in found    # maker only implied


def test_every_kind_of_term_in_a_rules_solutions_reads_back_as_itself(tmp_path):
    """The rules' solutions reach the reasoner as SPARQL TSV (short forms for numbers and
    booleans, escapes in strings); each must come back as the very term the store holds."""
    from tdkg.pipeline.reason import _TermIds
    from tdkg.pipeline.terms import Interner
    xsd = "http://www.w3.org/2001/XMLSchema#"
    objects = [ox.Literal("42", datatype=ox.NamedNode(xsd + "integer")),
               ox.Literal("-7", datatype=ox.NamedNode(xsd + "integer")),
               ox.Literal("1.50", datatype=ox.NamedNode(xsd + "decimal")),
               ox.Literal("1.0E3", datatype=ox.NamedNode(xsd + "double")),
               ox.Literal("true", datatype=ox.NamedNode(xsd + "boolean")),
               ox.Literal("2019-07-12", datatype=ox.NamedNode(xsd + "date")),
               ox.Literal('tab\there, "quoted"\nand \\ a backslash'),
               ox.Literal("Türkiye", language="tr"),
               ox.Literal("x", datatype=ox.NamedNode("https://example.org/dt")),
               ox.NamedNode("https://w3id.org/tdkg/id/Baykar_Makina_–_ü"),
               ox.BlankNode("b1")]
    store = ox.Store()
    subject, predicate = ox.NamedNode("https://example.org/s"), ox.NamedNode("https://example.org/p")
    store.bulk_extend([ox.Quad(subject, predicate, o) for o in objects])
    path = tmp_path / "solutions.tsv"
    store.query("SELECT ?o WHERE { ?s ?p ?o }").serialize(str(path), ox.QueryResultsFormat.TSV)
    terms = Interner()
    ids = _TermIds(terms)
    lines = path.read_text(encoding="utf-8").split("\n")[1:-1]
    read = {terms.term(ids[line]) for line in lines}
    # as iterating over the solutions gives them: the store keeps numbers by value ("1.50"
    # comes back as 1.5), which is what the rules have always read
    assert read == {row[0] for row in store.query("SELECT ?o WHERE { ?s ?p ?o }")}
    assert read >= set(objects[4:])
    assert any(line == "1.5" for line in lines) and any(line == "-7" for line in lines)
    literals = {i for i, term in enumerate(terms.terms) if isinstance(term, ox.Literal)}
    assert ids.not_subject == literals and len(literals) == 9
    assert ids.not_predicate == literals | {terms.lookup(ox.BlankNode("b1"))}


def test_a_recursive_stratum_runs_to_its_fixpoint_before_the_next_stratum_reads_it(tmp_path):
    """Two rule files of the test's own: `reach` (stratum 1, recursive) follows a chain of
    partnerships one step per pass; `back` (stratum 2) reads its conclusions."""
    header = ("#+ summary: t\n#+ description: t\n#+ version: 1\n#+ status: weakest premise\n"
              "PREFIX tdkg: <https://w3id.org/tdkg/ontology#>\n")
    (tmp_path / "reach.rq").write_text(header + "#+ recursive: yes\nCONSTRUCT { ?a tdkg:indirectPartnerOf ?c } "
                                       "WHERE { { ?a tdkg:partnerOf ?c } UNION "
                                       "{ ?a tdkg:indirectPartnerOf ?b . ?b tdkg:partnerOf ?c } }")
    (tmp_path / "back.rq").write_text(header + "#+ stratum: 2\nCONSTRUCT { ?c tdkg:coMemberOf ?a } "
                                      "WHERE { ?a tdkg:indirectPartnerOf ?c }")
    chain = " ".join(f"tdi:n{i} tdkg:partnerOf tdi:n{i + 1} ." for i in range(4))     # n0 → … → n4
    inference = reason(_triples(STATUSES), _triples(chain), load_rules(tmp_path))
    found = {tuple(_short(inference.terms.term(x)) for x in t): d for t, d in inference.inferred.items()}
    reach = {(s, o) for s, p, o in found if p == "tdkg:indirectPartnerOf"}
    assert reach == {(f"tdi:n{i}", f"tdi:n{j}") for i in range(5) for j in range(i + 1, 5)}
    # the longest step needs four passes of its stratum, a fifth finds nothing, then stratum 2
    assert inference.rounds == 6
    longest = found[("tdi:n0", "tdkg:indirectPartnerOf", "tdi:n4")]
    assert longest.rule == "rule:reach@1"
    assert {tuple(_short(inference.terms.term(x)) for x in p) for p in longest.premises} == {
        ("tdi:n0", "tdkg:indirectPartnerOf", "tdi:n3"), ("tdi:n3", "tdkg:partnerOf", "tdi:n4")}
    back = {(s, o) for s, p, o in found if p == "tdkg:coMemberOf"}
    assert back == {(o, s) for s, o in reach}
    assert found[("tdi:n4", "tdkg:coMemberOf", "tdi:n0")].rule == "rule:back@1"
    # the recursive stratum as the last one: its store must live through every pass
    alone = reason(_triples(STATUSES), _triples(chain), [load_rule(tmp_path / "reach.rq")])
    assert alone.rounds == 5 and len(alone.inferred) == len(reach)


def test_the_inferred_graphs_text_is_what_oxigraphs_serializer_writes():
    """The build hands the store the inferred graph as text made from each term's own text;
    the scans the dumps are made from must not change by it."""
    from tdkg.pipeline.terms import Interner
    s, p = ox.NamedNode("https://w3id.org/tdkg/id/Ü?x=1#f"), ox.NamedNode("https://example.org/p")
    objects = [ox.Literal('tab\there\nline "quoted" \\ \x01 \u2028 Türkiye'),
               ox.Literal("x", language="tr"), ox.Literal("1.50", datatype=ox.NamedNode(
                   "http://www.w3.org/2001/XMLSchema#decimal")), ox.BlankNode("ab12"), s]
    triples = [ox.Triple(s, p, o) for o in objects] + [ox.Triple(ox.BlankNode("c3"), p, s)]
    terms = Interner()
    ids = terms.triples(triples)
    batches = list(terms.ntriples(ids, 2))
    assert len(batches) == 3
    assert b"".join(batches) == ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
