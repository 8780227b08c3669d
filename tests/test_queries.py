"""The analyst questions in queries/*.rq, run against the live SPARQL endpoint.

Each query's answer is checked against what the four source documents state.
The endpoint's default graph is the union of ontology, asserted data and
inferred triples; the queries climb the class hierarchy with
rdf:type/rdfs:subClassOf* and never use the derived shortcut properties.
"""
from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"
QUERY_FILES = sorted(QUERIES.glob("*.rq"))
TDI = "https://w3id.org/tdkg/id/"
TDKG = "https://w3id.org/tdkg/ontology#"
TDS = "https://w3id.org/tdkg/source/"


def query(name: str) -> str:
    return (QUERIES / f"{name}.rq").read_text(encoding="utf-8")


def column(rows: list[dict[str, str]], var: str) -> set[str]:
    return {r[var] for r in rows if var in r}


def test_query_folder_is_not_empty():
    assert len(QUERY_FILES) >= 15


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_query_has_grlc_header_and_answers(path, live_server):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#+ summary:") and len(lines[0]) > len("#+ summary: ")
    assert lines[1].startswith("#+ description:") and len(lines[1]) > len("#+ description: ")
    assert lines[2].startswith("#+ tags:")
    assert any(line.startswith("PREFIX ") for line in lines)
    rows = live_server.select(path.read_text(encoding="utf-8"))
    assert len(rows) >= 1, f"{path.name} returned no rows"


def test_national_champions(live_server):
    rows = live_server.select(query("national-champions"))
    assert column(rows, "firmLabel") == {"Turkish Aerospace Industries", "ASELSAN", "ROKETSAN", "Baykar"}
    assert column(rows, "supporterLabel") == {"Türkiye"}
    assert column(rows, "footnoteNumber") == {"4"}
    assert column(rows, "statusLabel") == {"reported"}


def test_drone_export_market_share(live_server):
    rows = live_server.select(query("drone-export-market-share"))
    assert {float(p) for p in column(rows, "percentage")} == {65.0}
    assert column(rows, "exporterLabel") == {"Türkiye"}
    assert column(rows, "surpassedLabel") == {"China", "United States"}
    assert column(rows, "footnoteNumber") == {"18"}


def test_baghdad_pact_membership(live_server):
    rows = live_server.select(query("baghdad-pact-membership"))
    assert column(rows, "laterName") == {"CENTO"}
    joined = {r["memberLabel"]: r.get("joinYear") for r in rows}
    assert joined["Türkiye"] == "1955"
    assert joined["Pakistan"] == "1955"


def test_ukraine_acquisitions(live_server):
    rows = live_server.select(query("ukraine-acquisitions"))
    by_system = {r["system"]: r["class"] for r in rows}
    assert by_system == {
        TDI + "bayraktar-tb2": TDKG + "CombatDrone",
        TDI + "mini-bayraktar": TDKG + "ReconnaissanceDrone",
        TDI + "trlg-230": TDKG + "GuidedMultipleRocketLauncher",
        TDI + "ukraine-ew-equipment": TDKG + "ElectronicWarfareSystem",
        TDI + "bmc-kirpi": TDKG + "MRAP",
        TDI + "ukraine-mortars": TDKG + "Mortar",
        TDI + "ukraine-ammunition": TDKG + "Ammunition",
    }
    assert column(rows, "supplierLabel") == {"Türkiye"}
    assert column(rows, "fromYear") == {"2022"}


def test_kazakhstan_naval_agreement(live_server):
    rows = live_server.select(query("kazakhstan-naval-agreement"))
    assert column(rows, "agreement") == {TDI + "asfat-yda-zenit-naval-2023"}
    states = {r["partyLabel"]: r.get("stateLabel") for r in rows}
    assert states == {"Asfat": "Türkiye", "YDA Group": "Türkiye", "Uralsk Plant “Zenit” JSC": "Kazakhstan"}


def test_technology_transfer_and_local_production(live_server):
    rows = live_server.select(query("technology-transfer-and-local-production"))
    assert column(rows, "agreement") == {
        TDI + "sami-technology-transfer-2025",
        TDI + "romania-otokar-cobra-2024",
        TDI + "pakistan-milgem-deal-2018",
        TDI + "asfat-yda-zenit-naval-2023",
    }
    places = {r["agreement"]: r.get("placeLabel") for r in rows}
    assert places[TDI + "pakistan-milgem-deal-2018"] == "Karachi"
    assert places[TDI + "romania-otokar-cobra-2024"] == "Romania"
    years = {r["agreement"]: r.get("year") for r in rows}
    assert years[TDI + "sami-technology-transfer-2025"] == "2025"
    assert years[TDI + "pakistan-milgem-deal-2018"] == "2018"


def test_turkey_pakistan_mutual_support(live_server):
    rows = live_server.select(query("turkey-pakistan-mutual-support"))
    turkey_backs = {r["issue"] for r in rows if r["supporterLabel"] == "Türkiye"}
    pakistan_backs = {r["issue"] for r in rows if r["supporterLabel"] == "Pakistan"}
    assert {TDI + "kashmir", TDI + "india-pakistan-conflicts", TDI + "pakistan-western-aid-access"} <= turkey_backs
    assert pakistan_backs == {TDI + "cyprus-question", TDI + "turkiye-internal-security"}
    western_aid = [r for r in rows if r["issue"] == TDI + "pakistan-western-aid-access"]
    assert western_aid and western_aid[0].get("fromYear") == "1950" and western_aid[0].get("toYear") == "1959"


def test_deal_values_by_currency(live_server):
    rows = live_server.select(query("deal-values-by-currency"))
    totals = {r["currency"]: float(r["total"]) for r in rows}
    assert totals == {TDKG + "USD": 4_500_000_000.0, TDKG + "EUR": 857_000_000.0}


def test_african_bayraktar_buyers(live_server):
    rows = live_server.select(query("african-bayraktar-buyers"))
    assert column(rows, "recipientLabel") == {
        "Angola", "Burkina Faso", "Djibouti", "Ethiopia", "Libya", "Mali", "Niger", "Nigeria", "Somalia",
    }
    assert column(rows, "footnoteNumber") == {"15"}


def test_timeline_order(live_server):
    rows = live_server.select(query("timeline"))
    order = [r["fact"] for r in rows]
    milestones = [
        TDI + "f000-service-entry-tb2",             # TB2 introduced, 2014
        TDI + "f000-conflict-karabakh",             # Second Karabakh War, 2020
        TDI + "shusha-declaration",                 # 2021
        TDI + "f000-conflict-russo-ukrainian-war",  # February 2022
        TDI + "saudi-akinci-deal-2023",             # 2023
        TDI + "romania-otokar-cobra-2024",          # November 2024
        TDI + "sami-technology-transfer-2025",      # July 2025
    ]
    positions = [order.index(m) for m in milestones]
    assert positions == sorted(positions)
    years = {r["fact"]: (r["year"], r.get("month")) for r in rows}
    assert years[TDI + "f000-service-entry-tb2"][0] == "2014"
    assert years[TDI + "f000-conflict-russo-ukrainian-war"] == ("2022", "2")
    assert years[TDI + "romania-otokar-cobra-2024"] == ("2024", "11")
    assert years[TDI + "sami-technology-transfer-2025"] == ("2025", "7")


def test_recent_agreements_with_turkiye(live_server):
    rows = live_server.select(query("recent-agreements-with-turkiye"))
    assert column(rows, "agreement") == {
        TDI + "saudi-akinci-deal-2023",
        TDI + "asfat-yda-zenit-naval-2023",
        TDI + "romania-otokar-cobra-2024",
        TDI + "sami-technology-transfer-2025",
        TDI + "ots-defence-industry-cooperation-2025",
    }


def test_facts_citing_footnote_14(live_server):
    rows = live_server.select(query("facts-citing-footnote-14"))
    ranks = {r["measuredLabel"]: r.get("rank") for r in rows}
    assert ranks == {"United Arab Emirates": "1", "Qatar": "2", "Pakistan": "3"}
    uae = [r for r in rows if r["measuredLabel"] == "United Arab Emirates"][0]
    assert float(uae["percentage"]) == 18.0
    assert (uae["fromYear"], uae["toYear"]) == ("2015", "2019")
    assert column(rows, "url") == {
        "https://turkishminute.com/2025/03/10/turkiyes-arms-export-up-103-pct-from-previous-5-year-period-sipri1/"
    }


def test_document_authors_and_footnotes(live_server):
    rows = {r["document"]: r for r in live_server.select(query("document-authors-and-footnotes"))}
    assert set(rows) == {TDS + "doc-000", TDS + "doc-001", TDS + "doc-002", TDS + "doc-003"}
    assert rows[TDS + "doc-001"].get("creator") == "Kadri Taştan"
    assert rows[TDS + "doc-002"].get("creator") == "Drishti Gupta"
    assert "creator" not in rows[TDS + "doc-003"]
    assert "creator" not in rows[TDS + "doc-000"]
    with_footnotes = {d for d, r in rows.items() if r["hasFootnotes"] == "true"}
    assert with_footnotes == {TDS + "doc-000"}
    assert rows[TDS + "doc-000"]["footnotes"] == "29"


def test_officially_denied_claims(live_server):
    rows = live_server.select(query("officially-denied-claims"))
    denials = {r["fact"]: r["deniedByLabel"] for r in rows}
    assert denials == {
        TDI + "f000-uzbekistan-joins-shusha": "Uzbekistan",
        TDI + "f003-nuclear-dimension-denied": "Pakistan",
    }


def test_facts_by_document_and_status(live_server):
    rows = {r["document"]: r for r in live_server.select(query("facts-by-document-and-status"))}
    assert set(rows) == {TDS + "doc-000", TDS + "doc-001", TDS + "doc-002", TDS + "doc-003"}
    statuses = ("reported", "claimed", "implied", "speculative", "officiallyDenied", "curatorKnowledge")
    for doc, r in rows.items():
        assert int(r["facts"]) == sum(int(r[s]) for s in statuses), doc
        assert int(r["entities"]) > 0 and int(r["facts"]) > 0
    assert sum(int(r["officiallyDenied"]) for r in rows.values()) == 2
    assert int(rows[TDS + "doc-000"]["agreements"]) >= 6


# ---- the queries the visual views draw (/network, /timeline) ----------------------------------

def test_timeline_groups_and_statuses(live_server):
    rows = {r["fact"]: r for r in live_server.select(query("timeline"))}
    deal = rows[TDI + "saudi-akinci-deal-2023"]
    assert (deal["kind"], deal["group"], deal["status"]) == \
        (TDKG + "ArmsDeal", TDKG + "Agreement", TDKG + "reported")
    assert rows[TDI + "sami-technology-transfer-2025"]["status"] == TDKG + "claimed"
    period = rows[TDI + "f000-share-uae-2015-2019"]
    assert (period["year"], period["endYear"], period["group"]) == ("2015", "2019", TDKG + "Measurement")
    assert rows[TDI + "f000-acquisition-ukraine-tb2"]["group"] == TDKG + "Acquisition"


def test_network_nodes(live_server):
    rows = live_server.select(query("network-nodes"))
    kinds = {r["node"]: r["kind"] for r in rows}
    assert len(kinds) == len(rows), "one row per actor"
    assert kinds[TDI + "turkiye"] == kinds[TDI + "pakistan"] == TDKG + "State"
    assert kinds[TDI + "baykar"] == TDKG + "Company"
    assert kinds[TDI + "romania-mod"] == TDKG + "GovernmentBody"
    assert kinds[TDI + "nato"] == TDKG + "IntergovernmentalOrganization"
    states = {r["s"] for r in live_server.select(
        "PREFIX tdkg: <https://w3id.org/tdkg/ontology#> SELECT ?s { ?s a tdkg:State }")}
    assert states <= set(kinds)


def test_network_edges(live_server):
    rows = live_server.select(query("network-edges"))
    ids = [(r["fact"], r["from"], r["to"]) for r in rows]
    assert len(ids) == len(set(ids)), "one row per fact node and pair"
    nodes = {r["node"]: r["kind"] for r in live_server.select(query("network-nodes"))}
    ends = {r["from"] for r in rows} | {r["to"] for r in rows}
    assert ends <= set(nodes), "every end of a link is an actor of the node query"
    assert {n for n, k in nodes.items() if n not in ends} <= \
        {n for n, k in nodes.items() if k in (TDKG + "State", TDKG + "Company")}
    by_fact = {}
    for r in rows:
        by_fact.setdefault(r["fact"], []).append(r)
    deal = by_fact[TDI + "saudi-akinci-deal-2023"]
    assert [(r["kind"], r["from"], r["to"], r["year"], r["status"], r["inferred"]) for r in deal] == \
        [("trade", TDI + "turkiye", TDI + "saudi-arabia", "2023", TDKG + "reported", "false")]
    # Baykar's part in that deal is only implied, and is drawn with its own status
    baykar = by_fact[TDI + "f000-participation-baykar-saudi-deal"]
    assert [(r["from"], r["to"], r["status"]) for r in baykar] == \
        [(TDI + "baykar", TDI + "saudi-arabia", TDKG + "implied")]
    assert by_fact[TDI + "f003-nuclear-dimension-denied"][0]["status"] == TDKG + "officiallyDenied"
    assert {(r["from"], r["to"]) for r in by_fact[TDI + "f000-uzbekistan-joins-shusha"]} == \
        {(TDI + "uzbekistan", TDI + "turkiye"), (TDI + "uzbekistan", TDI + "azerbaijan")}
    # links that exist only in the inferred graph: the reasoner's derived relations
    inferred = [r for r in rows if r["inferred"] == "true"]
    assert inferred and all(r["fact"].startswith(TDI + "inferred/") for r in inferred)
    assert all(not r["fact"].startswith(TDI + "inferred/") for r in rows if r["inferred"] == "false")
    assert {r["kind"] for r in inferred} == {"state-level agreement", "customer", "indirect partnership"}
    kazakh = [r for r in inferred if r["kind"] == "state-level agreement"
              and {r["from"], r["to"]} == {TDI + "kazakhstan", TDI + "turkiye"}]
    assert len(kazakh) == 1 and kazakh[0]["year"] == "2023"
    indirect = [r for r in inferred if r["kind"] == "indirect partnership"]
    assert all(r.get("via") and int(r["derivations"]) >= 1 and "year" not in r for r in indirect)
    china = {r["status"] for r in indirect if {r["from"], r["to"]} == {TDI + "china", TDI + "turkiye"}}
    assert china == {TDKG + "reported", TDKG + "speculative"}
    assert {r["kind"] for r in rows} == {"trade", "agreement", "partnership", "rivalry", "tension",
                                        "membership", "home state", "state-level agreement",
                                        "customer", "indirect partnership"}


# ---- provenance and epistemic status: what rests on what, who says it, how firmly ----------------

SEEDS = ROOT.parent / "shared" / "seeds"


def short(iri: str) -> str:
    return "tdi:" + iri[len(TDI):] if iri.startswith(TDI) else iri


def _doc_000_scopes() -> dict[str, set]:
    """Fact node → footnote numbers covering its sentences, from the coverage table and the
    splitter (independently of the graph)."""
    from tdkg.coverage import footnote_scope, seed_files, split, tables
    scope = footnote_scope(split(seed_files(SEEDS)["000"].read_text(encoding="utf-8")))
    found: dict[str, set] = {}
    for row in tables(ROOT / "data" / "coverage")["000"]:
        for name in row.facts:
            if name.startswith("tdi:"):
                found.setdefault(name, set()).add(scope.get(row.sentence))
    return found


def test_facts_resting_on_a_footnote(live_server):
    rows = live_server.select(query("facts-resting-on-a-footnote"))
    facts = {short(r["fact"]) for r in rows}
    in_scope = {name for name, numbers in _doc_000_scopes().items() if numbers == {22}}
    assert facts == in_scope and "tdi:f000-uzbekistan-joins-shusha" in facts
    shusha = [r for r in rows if r["fact"] == TDI + "f000-uzbekistan-joins-shusha"][0]
    assert (shusha["status"], shusha["voiceLabel"]) == (TDKG + "officiallyDenied", "Turkish media circles")
    assert column(rows, "publisher") == {"Kun.uz"} and not column(rows, "author")
    assert all(r.get("workDescription") for r in rows)


def test_statements_attributed_to_voices(live_server):
    rows = live_server.select(query("statements-attributed-to-voices"))
    claimed = {r["f"] for r in live_server.select(
        "PREFIX tdkg: <%s> SELECT ?f { ?f tdkg:status tdkg:claimed }" % TDKG)}
    assert claimed <= column(rows, "fact")
    assert TDKG + "reported" not in column(rows, "status")
    by_fact = {short(r["fact"]): r for r in rows}
    sipri = by_fact["tdi:f000-ranking-12th-exporter"]
    assert (sipri["voiceLabel"], sipri["unnamed"]) == ("Stockholm International Peace Research Institute", "false")
    assert by_fact["tdi:f003-pakistan-programme-sovereign"]["voice"] == TDI + "pakistan"
    experts = by_fact["tdi:f002-intention-nuclear-learning"]
    assert (experts["unnamed"], experts["status"]) == ("true", TDKG + "speculative")
    assert by_fact["tdi:f002-analyst-quote"]["unnamed"] == "true"


def test_statements_on_unnamed_voices(live_server):
    rows = live_server.select(query("statements-on-unnamed-voices"))
    voices = {short(r["voice"]): r for r in rows}
    assert "tdi:sipri" not in voices and "tdi:pakistan" not in voices
    assert voices["tdi:unnamed-experts-002"]["statuses"] == "speculative"
    assert int(voices["tdi:unnamed-media-sources"]["statements"]) == 3   # training, assistance, facility
    assert sum(int(r["statements"]) for r in rows) >= 15


def test_speculative_statements(live_server):
    rows = live_server.select(query("speculative-statements"))
    speculative = {r["f"] for r in live_server.select(
        "PREFIX tdkg: <%s> SELECT ?f { ?f tdkg:statedIn ?d ; tdkg:status tdkg:speculative }" % TDKG)}
    assert column(rows, "fact") == speculative
    assert {TDI + "f000-assessment-china-reaction", TDI + "f002-forecast-stronger-ties",
            TDI + "f003-nuclear-pact-claim"} <= speculative
    voices = {short(r["fact"]): r.get("voiceLabel") for r in rows}
    assert voices["tdi:f003-analysts-indirect-implications"] == "unnamed security analysts (doc 003)"
    assert voices["tdi:f000-assessment-china-reaction"] is None      # the author's own possibility


def test_denied_and_negated_statements(live_server):
    rows = live_server.select(query("denied-and-negated-statements"))
    denied = {short(r["statement"]): r["byLabel"] for r in rows if r["kind"] == "officially denied"}
    assert denied == {"tdi:f000-uzbekistan-joins-shusha": "Uzbekistan",
                      "tdi:f003-nuclear-dimension-denied": "Pakistan"}
    negated = [r for r in rows if r["kind"] == "negated by the document"]
    pact = {r["how"] for r in negated if r["statement"] == TDI + "f003-nuclear-pact-claim"}
    assert pact == {"not the case", "unsubstantiated"}
    assert {r["how"] for r in negated if r["statement"] == TDI + "f002-nuclear-dimension-speculation"} == \
        {"not reported"}
    assert TDKG + "reported" not in {r["statementStatus"] for r in negated}


def test_statements_in_tension(live_server):
    rows = live_server.select(query("statements-in-tension"))
    assert len(rows) >= 9
    for r in rows:
        if r["visibleIn"] == TDS + "curator":
            assert r["firstDocument"] != r["secondDocument"] and r["tensionStatus"] == TDKG + "curatorKnowledge"
        else:
            assert r["firstDocument"] == r["secondDocument"] == r["visibleIn"]
    pairs = {(short(r["first"]), short(r["second"])) for r in rows}
    assert ("tdi:f000-rank-kazakhstan-principal-market", "tdi:f000-share-uae-2015-2019") in pairs
    assert ("tdi:f003-nuclear-pact-claim", "tdi:f003-no-formal-nuclear-pact") in pairs


def test_cited_works_and_publishers(live_server):
    rows = {r["work"].rsplit("/", 1)[-1]: r for r in live_server.select(query("cited-works-and-publishers"))}
    assert len(rows) == 28                       # 29 footnotes, 14 and 17 cite one work
    minute = rows["work-turkish-minute-2025-arms-exports"]
    assert set(minute["footnotes"].split(", ")) == {"14", "17"} and "author" not in minute
    assert rows["work-politico-2025-spain-nato"]["publisher"] == "Politico"
    assert "author" not in rows["work-oryx-2022-stalwart-ally"]
    assert rows["work-kardas-rsdi-defence-industry"]["author"] == "Saban Kardas"
    on_22 = live_server.select(query("facts-resting-on-a-footnote"))
    assert int(rows["work-kun-uz-2025-uzbekistan-refutes"]["facts"]) == len({r["fact"] for r in on_22})
    assert all(r.get("description") for r in rows.values())


def test_footnotes_citing_other_subjects(live_server):
    rows = live_server.select(query("footnotes-citing-other-subjects"))
    fits = {r["number"]: r["fit"] for r in rows}
    assert fits["6"] == TDKG + "workOnOtherSubject" and fits["26"] == TDKG + "workOnOtherSubject"
    karabakh = {r.get("fact") for r in rows if r["number"] == "6"}
    assert TDI + "f000-conflict-karabakh" in karabakh
    assert all("Idlib" in r["workDescription"] for r in rows if r["number"] == "6")


def test_authors_own_statements_doc_000(live_server):
    rows = live_server.select(query("authors-own-statements-doc-000"))
    tensions = {short(r["fact"]) for r in rows if r["class"] == TDKG + "StatementTension"}
    expected = {name for name, numbers in _doc_000_scopes().items() if numbers == {None}}
    assert {short(r["fact"]) for r in rows} - tensions == expected
    assert {"tdi:f000-partnership-turkiye-azerbaijan-naval", "tdi:f000-assessment-eurasian-frameworks",
            "tdi:f000-assessment-engine-gap"} <= expected


def test_implied_statements(live_server):
    rows = live_server.select(query("implied-statements"))
    implied = {r["f"] for r in live_server.select(
        "PREFIX tdkg: <%s> SELECT ?f { ?f tdkg:statedIn ?d ; tdkg:status tdkg:implied }" % TDKG)}
    assert column(rows, "fact") == implied
    assert TDI + "f000-membership-turkiye-nato" in implied       # mentioned in passing
    assert TDI + "f001-membership-turkiye-nato" not in implied   # stated: "as a NATO member state"
    assert all(r["reading"] for r in rows)


def test_statements_from_media_reports(live_server):
    rows = {short(r["fact"]): r for r in live_server.select(query("statements-from-media-reports"))}
    sami = rows["tdi:sami-technology-transfer-2025"]
    assert (sami["outletLabel"], sami["year"], sami["month"], sami["footnoteNumber"]) == \
        ("Saudi media", "2025", "7", "13")
    assert (rows["tdi:f000-training-uzbekistan"]["year"], rows["tdi:f000-training-uzbekistan"]["month"]) == ("2025", "1")
    assert "tdi:f000-ranking-12th-exporter" not in rows          # SIPRI is a research institute


def test_inferences_on_doubtful_premises(live_server):
    rows = live_server.select(query("inferences-on-doubtful-premises"))
    assert TDKG + "reported" not in column(rows, "status")
    assert all(r["status"] == r["premiseStatus"] for r in rows)
    saudi = [r for r in rows if r["kind"] == TDKG + "StateLevelAgreementRelation"
             and "Saudi Arabia" in r["relates"]]
    assert saudi and {short(r["premise"]) for r in saudi} == {"tdi:f000-home-state-sami"}
