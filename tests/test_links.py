"""Names and links: Wikidata matches exactly the checked list, as annotations; alternate names."""
from __future__ import annotations

from support import PROJECT

QIDS = PROJECT.parent / "shared" / "wikidata-qids.tsv"
PREFIXES = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX tdi: <https://w3id.org/tdkg/id/>
"""


def _checked_qids() -> set[str]:
    lines = [l for l in QIDS.read_text().splitlines() if l.strip() and not l.startswith("#")]
    return {l.split("\t")[1] for l in lines}


def test_wikidata_links_are_exactly_the_checked_items(live_server):
    rows = live_server.select(PREFIXES + "SELECT ?q WHERE { ?x skos:exactMatch ?q }")
    linked = {r["q"].rsplit("/", 1)[-1] for r in rows}
    assert linked == _checked_qids()
    assert all(r["q"].startswith("http://www.wikidata.org/entity/Q") for r in rows)


def test_exact_match_is_an_annotation_so_no_reasoner_merges_with_wikidata(live_server):
    assert live_server.ask(PREFIXES + "ASK { skos:exactMatch a owl:AnnotationProperty }")
    assert not live_server.ask(PREFIXES + "ASK { skos:exactMatch a owl:ObjectProperty }")


def test_alternate_names_with_language_tags(live_server):
    turkiye = {(r["n"], r["lang"]) for r in live_server.select(PREFIXES + """
        SELECT ?n (lang(?n) AS ?lang) WHERE { tdi:turkiye skos:altLabel ?n }""")}
    assert ("Turkey", "en") in turkiye and all(lang for _, lang in turkiye)
    tb2 = {r["n"] for r in live_server.select(PREFIXES + "SELECT ?n WHERE { tdi:bayraktar-tb2 skos:altLabel ?n }")}
    assert {"TB2", "TB-2"} <= tb2
