"""The analyst's model stays documented: ontology/README.md names every property of the ontology,
gives the roles of every fact class, says what draws every shortcut and inferred property, and
its status table (and the README's) match the ontology."""
from __future__ import annotations

import re

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS

from support import PROJECT
from tdkg import namespaces as ns
from tdkg.pipeline.rules import load_rules

ONTOLOGY = rdflib.Graph().parse(PROJECT / "ontology" / "tdkg.ttl")
PAGE = (PROJECT / "ontology" / "README.md").read_text(encoding="utf-8")
README = (PROJECT / "README.md").read_text(encoding="utf-8")
TDKG = rdflib.Namespace(ns.TDKG)


def local(iri) -> str:
    return str(iri)[len(ns.TDKG):]


def mentioned(name: str, text: str) -> bool:
    return re.search(r"`(?:tdkg:)?%s`" % re.escape(name), text) is not None


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^#{1,3} ", text[start + len(heading):], re.M)
    return text[start:start + len(heading) + (following.start() if following else len(text))]


def table_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]


PROPERTIES = sorted({local(s) for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
                     for s in ONTOLOGY.subjects(RDF.type, kind) if str(s).startswith(ns.TDKG)})


@pytest.mark.parametrize("name", PROPERTIES)
def test_every_property_of_the_ontology_is_on_the_page(name):
    assert mentioned(name, PAGE), f"tdkg:{name} is not documented in ontology/README.md"


def test_every_fact_class_has_its_roles_in_the_one_table():
    facts = {local(c) for c in ONTOLOGY.transitive_subjects(RDFS.subClassOf, TDKG.Fact)
             if str(c).startswith(ns.TDKG)} - {"Fact"}
    rows = table_rows(section(PAGE, "## Modelling pattern: fact nodes"))
    first_column = " ".join(r[0] for r in rows)
    missing = sorted(c for c in facts if not mentioned(c, first_column))
    assert len(facts) > 30 and not missing, missing


def _shortcut_table() -> dict[str, str]:
    rows = table_rows(section(PAGE, "### Shortcut and inferred properties"))
    return {name: " ".join(row[1:]) for row in rows[1:] for name in re.findall(r"`(?:tdkg:)?(\w+)`", row[0])}


def test_every_shortcut_of_the_ontology_says_what_draws_it():
    table = _shortcut_table()
    defined = {local(s) for s in ONTOLOGY.subjects(OWL.propertyChainAxiom, None)} | \
              {local(s) for s in ONTOLOGY.subjects(OWL.inverseOf, None) if str(s).startswith(ns.TDKG)}
    assert {"countryOfOrigin", "partnerOf", "inTensionWith", "partyTo"} <= defined
    for name in defined:
        assert name in table, f"tdkg:{name} is missing from the shortcut table"
        assert "chain" in table[name] or "inverse" in table[name], name


@pytest.mark.parametrize("rule", load_rules(PROJECT / "ontology" / "rules"), ids=lambda r: r.name)
def test_every_property_a_rule_draws_is_in_the_table_with_that_rule(rule):
    table = _shortcut_table()
    drawn = {p.value for _, p, _ in rule.template if isinstance(p, ox.NamedNode)} - {str(RDF.type)}
    assert drawn
    for iri in drawn:
        name = local(iri)
        assert name in table, f"{rule.path.name} draws tdkg:{name}, which is not in the table"
        assert rule.path.name in table[name] or "every rule" in table[name], (name, rule.path.name)


def test_the_status_table_matches_the_ontology():
    strengths = {local(s): int(o) for s, o in ONTOLOGY.subject_objects(TDKG.strength)}
    rows = table_rows(section(PAGE, "## Epistemic status"))
    documented = {re.search(r"`tdkg:(\w+)`", r[0]).group(1): int(r[1]) for r in rows[1:]}
    assert documented == strengths


def test_the_readme_describes_the_six_statuses_and_the_voice():
    knowledge = section(README, "## The knowledge")
    for status in TDKG.reported, TDKG.claimed, TDKG.implied, TDKG.curatorKnowledge, \
            TDKG.speculative, TDKG.officiallyDenied:
        label = str(ONTOLOGY.value(status, RDFS.label))
        assert label in knowledge, f"the README's knowledge section does not describe '{label}'"
    assert "`tdkg:claimedBy`" in knowledge and "`tdkg:status`" in knowledge
