"""``tdkg find``: names found whatever their case and diacritics, Wikidata IDs in three spellings,
the working tree read as it is on disk (an entity added a minute ago is found, a broken file is
skipped with its line), the published build with ``--published`` ranked exactly as ``/search``
ranks it, and no match an error.

Expected resources are read from the data with pyoxigraph (labels, ``skos:exactMatch``), not
typed in.
"""
from __future__ import annotations

import json
import re
import shutil
import unicodedata
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from support import PROJECT, run_tdkg

from tdkg import namespaces as ns

DATA = PROJECT / "data" / "ttl"
WIKIDATA = "http://www.wikidata.org/entity/"
SKOS = ns.PREFIXES["skos"]


@pytest.fixture(scope="module")
def data() -> ox.Store:
    """The working tree's data, in memory."""
    store = ox.Store()
    for path in sorted(DATA.glob("*.ttl")):
        store.load(path.read_bytes(), format=ox.RdfFormat.TURTLE)
    return store


def labelled(store: ox.Store, label: str) -> str:
    rows = list(store.query(f'SELECT ?s WHERE {{ ?s <{ns.PREFIXES["rdfs"]}label> "{label}"@en }}'))
    assert len(rows) == 1, label
    return rows[0]["s"].value


def plain(text: str) -> list[str]:
    """Lower-case ASCII words (this file's own folding, so that the command's is checked)."""
    text = unicodedata.normalize("NFKD", text.replace("ı", "i").replace("İ", "I"))
    return re.findall(r"\w+", "".join(c for c in text if not unicodedata.combining(c)).lower())


def find(*args: str) -> dict:
    done = run_tdkg("find", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- names --------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, label", [
    ("turkiye", "Türkiye"), ("TÜRKIYE", "Türkiye"), ("Türkiye", "Türkiye"), ("türkıye", "Türkiye"),
    ("akinci", "Akıncı"), ("AKINCI", "Akıncı"), ("erdogan", "Recep Tayyip Erdoğan"),
])
def test_names_are_found_whatever_the_case_and_diacritics(data, query, label):
    answer = find(query)
    top = answer["results"][0]
    assert top["iri"] == labelled(data, label)
    assert top["label"] == label
    assert top["on"] == ("label" if top["matched"] == label else "alternate name")
    assert top["match"] == "exact" and plain(top["matched"]) == plain(query)
    assert "working tree" in answer["searched"]


def test_the_text_output_says_where_the_entity_is_defined(data):
    done = run_tdkg("find", "akinci")
    assert done.returncode == 0, done.stderr
    iri = labelled(data, "Akıncı")
    curie = "tdi:" + iri[len(ns.ID):]
    assert curie in done.stdout and "exact" in done.stdout
    where = re.search(r"defined\s+(\S+):(\d+)", done.stdout)
    lines = (PROJECT / where[1]).read_text(encoding="utf-8").splitlines()
    assert lines[int(where[2]) - 1].startswith(curie)


def test_alternate_names_are_found_and_said_to_be_alternate(data):
    rows = data.query(f"""SELECT ?s ?alt ?label WHERE {{ ?s <{SKOS}altLabel> ?alt ;
                          <{ns.PREFIXES['rdfs']}label> ?label }} ORDER BY ?s ?alt""")
    alt = next(r for r in rows if not set(plain(r["alt"].value)) & set(plain(r["label"].value))
               and len(r["alt"].value) > 3)
    answer = find(alt["alt"].value)
    hits = {r["iri"]: r for r in answer["results"]}
    assert hits[alt["s"].value]["on"] == "alternate name"


def test_fact_nodes_are_left_out_unless_asked_for(data):
    entities, everything = find("akinci"), find("akinci", "--facts", "--limit", "100")
    assert entities["fact_nodes_left_out"] > 0
    assert everything["total"] == entities["total"] + entities["fact_nodes_left_out"]
    assert not {r["iri"] for r in entities["results"]} - {r["iri"] for r in everything["results"]}


# --- Wikidata IDs -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def linked(data) -> dict[str, set[str]]:
    """Wikidata ID -> the resources the data links to it."""
    found: dict[str, set[str]] = {}
    for row in data.query(f"SELECT ?s ?wd WHERE {{ ?s <{SKOS}exactMatch> ?wd }}"):
        if row["wd"].value.startswith(WIKIDATA):
            found.setdefault(row["wd"].value[len(WIKIDATA):], set()).add(row["s"].value)
    assert len(found) >= 10
    return found


@pytest.mark.parametrize("form", ["{q}", "wd:{q}", "http://www.wikidata.org/entity/{q}",
                                  "https://www.wikidata.org/wiki/{q}", "{lower}"])
def test_a_wikidata_id_finds_the_resources_linked_to_it(linked, form):
    qid = sorted(linked)[len(linked) // 2]
    answer = find(form.format(q=qid, lower=qid.lower()))
    assert {r["iri"] for r in answer["results"]} == linked[qid]
    assert all(r["match"] == "wikidata" and qid in r["wikidata"] for r in answer["results"])


def test_an_unlinked_wikidata_id_is_an_error(linked):
    unused = "Q" + str(max(int(q[1:]) for q in linked) + 1)
    done = run_tdkg("find", unused)
    assert done.returncode == 1 and done.stdout == ""
    assert f"wd:{unused}" in done.stderr and "Traceback" not in done.stderr


# --- no match, bad input ------------------------------------------------------------------------

def test_no_match_is_an_error_with_a_message():
    done = run_tdkg("find", "qzxv wbyk")
    assert done.returncode == 1 and done.stdout == ""
    assert 'nothing matches "qzxv wbyk"' in done.stderr


@pytest.mark.parametrize("args", [["  "], ["--limit", "0", "turkiye"], ["…"]])
def test_bad_input_is_a_usage_error(args):
    done = run_tdkg("find", *args)
    assert done.returncode == 2, done.stderr
    assert "usage" in done.stderr and "Traceback" not in done.stderr


# --- the working tree and the published build ---------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A copy of the project with one entity more than the published build, and a broken file."""
    root = tmp_path_factory.mktemp("find") / "main"
    for folder in ("ontology", "data"):
        shutil.copytree(PROJECT / folder, root / folder)
    (root / "data" / "ttl" / "zz-new.ttl").write_text(
        "@prefix tdi: <https://w3id.org/tdkg/id/> .\n"
        "@prefix tdkg: <https://w3id.org/tdkg/ontology#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n\n"
        'tdi:veloria a tdkg:State ; rdfs:label "Republic of Veloria"@en ;\n'
        '    skos:altLabel "Velorya"@tr .\n', encoding="utf-8")
    (root / "data" / "ttl" / "zz-broken.ttl").write_text(
        "@prefix tdi: <https://w3id.org/tdkg/id/> .\n\ntdi:half-written a\n", encoding="utf-8")
    return root


def test_an_entity_added_to_the_working_tree_is_found_before_any_build(scratch, built_state):
    done = run_tdkg("find", "VELORYA", "--json", "--project-dir", str(scratch))
    assert done.returncode == 0, done.stderr
    top = json.loads(done.stdout)["results"][0]
    assert (top["iri"], top["on"], top["defined"]) == (ns.ID + "veloria", "alternate name",
                                                       "data/ttl/zz-new.ttl:6")
    broken = scratch / "data" / "ttl" / "zz-broken.ttl"
    assert re.search(rf"warning: {re.escape(str(broken))}:\d+", done.stderr)
    published = run_tdkg("find", "velorya", "--published", "--state-dir", str(built_state))
    assert published.returncode == 1 and "published build" in published.stderr


@pytest.mark.parametrize("query", ["turkiye", "AKINCI", "baykar tb2", "arms", "ERDOĞAN", "pak"])
def test_published_results_are_ranked_as_search_ranks_them(live_server, built_state, query):
    answer = find(query, "--published", "--facts", "--limit", "100",
                  "--state-dir", str(built_state))
    assert "published build" in answer["searched"] and answer["build"]
    served = requests.get(live_server.url + "/search", params={"q": query, "limit": 100},
                          timeout=60).json()
    assert answer["total"] == served["total"]
    assert [(r["iri"], r["match"], r["matched"]) for r in answer["results"]] == \
        [(r["iri"], r["match"], r["matched"]) for r in served["results"]]


def test_published_without_a_build_is_an_error(tmp_path):
    done = run_tdkg("find", "turkiye", "--published", "--state-dir", str(tmp_path / "var"))
    assert done.returncode == 1 and "no published build" in done.stderr
