"""``tdkg diff``, ``tdkg build --dry-run`` and the changes record of a publishing build, on a
scratch copy of the project: a real build is published, then the copy's Turtle is edited (a fact
node added, one removed, one changed, a new firm whose name is close to an existing firm's) and
what diff reports is checked against the edit and against the two stores.

Builds of the seed data take seconds each, so the module shares them: one published build before
the edit, one diff and one dry run of the edit, one publishing build after it (tests after
``test_inferred_*`` see that second build published)."""
from __future__ import annotations

import collections
import json
import shutil
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
from support import PROJECT, run_tdkg

from tdkg import namespaces as ns
from tdkg.curation import diff
from tdkg.pipeline import derivations

TDI, TDKG, XSD = ns.ID, ns.TDKG, "http://www.w3.org/2001/XMLSchema#"
FACTS_FILE = "doc-000-defence-industry.ttl"
ADDED_FACT = "f000-acquisition-uzbekistan-bayraktar-test"
ADDED_RECIPIENT = "uzbekistan"
REMOVED_FACT = "f000-acquisition-djibouti-bayraktar"
REMOVED_RECIPIENT = "djibouti"
CHANGED_FACT = "f000-ranking-12th-exporter"
NEW_FIRM, NEW_FIRM_LABEL, EXISTING_FIRM = "baykar-makina-test", "Baykar Makina", "baykar"
FAST = ("--no-owl-files", "--no-downloads")     # diff reads the store and derivations only


def settings_flags(project: Path, state: Path) -> list[str]:
    return ["--project-dir", str(project), "--state-dir", str(state)]


def current(state: Path) -> Path:
    return (state / "current").resolve()


def open_store(build: Path) -> ox.Store:
    return ox.Store.read_only(str(build / "store"))


def select(store: ox.Store, query: str) -> list[dict[str, str]]:
    graphs = [ox.NamedNode(g) for g in ns.FACT_GRAPHS]
    return [{v.value: str(row[v.value]) for v in rows.variables if row[v.value] is not None}
            for rows in [store.query(query, prefixes=ns.PREFIXES, default_graph=graphs)]
            for row in rows]


def graph_triples(store: ox.Store, graph: str) -> set[tuple[str, str, str]]:
    rows = store.query(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return {(str(r["s"]), str(r["p"]), str(r["o"])) for r in rows}


def copy_project(root: Path) -> Path:
    project = root / "project"
    for part in ("ontology", "queries"):
        shutil.copytree(PROJECT / part, project / part)
    for part in ("ttl", "coverage"):
        shutil.copytree(PROJECT / "data" / part, project / "data" / part)
    return project


def _ended_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def remove_node(text: str, local: str) -> str:
    """``text`` without the Turtle statement block of ``tdi:<local>``."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"tdi:{local} a "))
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(" ."))
    return "".join(lines[:start] + lines[end + 1:])


# --- shared builds ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> dict:
    """A copy of the project with a real published build of the unchanged data."""
    root = tmp_path_factory.mktemp("diff")
    project, state = copy_project(root), root / "var"
    done = run_tdkg("build", *settings_flags(project, state), *FAST)
    assert done.returncode == 0, done.stderr
    return {"root": root, "project": project, "state": state, "first": current(state)}


@pytest.fixture(scope="module")
def edit(scratch) -> dict:
    """The edit: one fact node added, one removed, one changed (rank and label), a new firm.
    Returns what the edit is, with the old values read from the published store."""
    first = open_store(scratch["first"])
    old_rank = select(first, f"SELECT ?v WHERE {{ tdi:{CHANGED_FACT} tdkg:rank ?v }}")[0]["v"]
    old_label = select(first, f"SELECT ?v WHERE {{ tdi:{CHANGED_FACT} rdfs:label ?v }}")[0]["v"]
    assert not select(first, f"SELECT ?f WHERE {{ ?f tdkg:recipient tdi:{ADDED_RECIPIENT} ; "
                             "tdkg:transferredSystem tdi:bayraktar-drones }"), "a new fact"
    del first
    rank = int(old_rank.split('"')[1]) - 1
    label_text = f"Türkiye the {rank}th-largest arms exporter (edited for the diff test)"

    facts = scratch["project"] / "data" / "ttl" / FACTS_FILE
    text = remove_node(facts.read_text(encoding="utf-8"), REMOVED_FACT)
    block_start = text.index(f"tdi:{CHANGED_FACT} a ")
    block_end = text.index(" .\n", block_start)
    block = text[block_start:block_end]
    assert old_label in block and f"tdkg:rank {rank + 1} ;" in block   # N-Triples is Turtle
    block = block.replace(old_label, json.dumps(label_text, ensure_ascii=False) + "@en")
    block = block.replace(f"tdkg:rank {rank + 1} ;", f"tdkg:rank {rank} ;")
    text = text[:block_start] + block + text[block_end:]
    text += f"""
tdi:{ADDED_FACT} a tdkg:Acquisition ;
    rdfs:label "Uzbekistan acquires Bayraktar combat drones (a fictional fact of the diff test)"@en ;
    tdkg:supplier tdi:turkiye ; tdkg:recipient tdi:{ADDED_RECIPIENT} ;
    tdkg:transferredSystem tdi:bayraktar-drones ; tdkg:startYear 2021 ;
    tdkg:statedIn tds:doc-000 ; tdkg:status tdkg:reported .
"""
    facts.write_text(text, encoding="utf-8")
    actors = scratch["project"] / "data" / "ttl" / "actors.ttl"
    actors.write_text(actors.read_text(encoding="utf-8") + f"""
tdi:{NEW_FIRM} a tdkg:Company ; rdfs:label "{NEW_FIRM_LABEL}"@en ;
    tdkg:mentionedIn tds:doc-000 .
""", encoding="utf-8")
    new_rank = str(ox.Literal(str(rank), datatype=ox.NamedNode(XSD + "integer")))
    new_label = str(ox.Literal(label_text, language="en"))
    return {"rank": (old_rank, new_rank), "label": (old_label, new_label)}


@pytest.fixture(scope="module")
def reported(scratch, edit) -> dict:
    """``tdkg diff --json --exit-code`` of the edit against the first build."""
    done = run_tdkg("diff", *settings_flags(scratch["project"], scratch["state"]), "--json",
                    "--exit-code")
    assert done.returncode == diff.EXIT_CHANGES, done.stderr
    assert current(scratch["state"]) == scratch["first"]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def published(scratch, reported) -> dict:
    """The edit built and published for real (after the diff and dry-run tests)."""
    done = run_tdkg("build", *settings_flags(scratch["project"], scratch["state"]), *FAST)
    assert done.returncode == 0, done.stderr
    second = current(scratch["state"])
    assert second != scratch["first"] and scratch["first"].is_dir()
    return {"first": scratch["first"], "second": second, "log": done.stderr}


# --- no published build, dry run, build errors ---------------------------------------------------

def test_without_a_published_build_everything_is_added(scratch):
    changes = diff.compare(None, scratch["first"], scratch["project"] / "queries")
    store = open_store(scratch["first"])
    facts = {r["f"] for r in select(store, "SELECT DISTINCT ?f WHERE { ?f a tdkg:Fact }")}
    asserted = graph_triples(store, ns.GRAPH_ASSERTED)
    inferred = graph_triples(store, ns.GRAPH_INFERRED)
    assert changes["old"] is None and changes["new"]["id"] == scratch["first"].name
    assert changes["summary"]["facts"] == {"added": len(facts), "removed": 0, "changed": 0}
    assert {f"<{f['iri']}>" for f in changes["facts"]["added"]} == facts
    assert changes["summary"]["asserted"] == {"added": len(asserted), "removed": 0}
    assert changes["summary"]["inferred"] == {"gained": len(inferred), "lost": 0}
    typed = {s for s, p, _ in asserted if p == diff.RDF_TYPE} - facts
    assert changes["summary"]["entities"]["added"] == len(typed)
    queries = sorted(p.name for p in (scratch["project"] / "queries").glob("*.rq"))
    answered = [q["name"] for q in changes["queries"]["changed"]] + changes["queries"]["unchanged"]
    assert sorted(answered) == queries and not changes["queries"]["failed"]
    for query in changes["queries"]["changed"]:
        assert query["old_rows"] == 0 and query["added_count"] == query["new_rows"]
    assert "against nothing (no earlier build)" in diff.render_text(changes)


def test_dry_run_prints_the_changes_and_publishes_nothing(scratch, edit):
    state = scratch["state"]
    builds_before = sorted(p.name for p in (state / "builds").iterdir())
    # a draft left by a process that has ended: the next build removes it
    stale = state / "drafts" / f"20000101T000000-{_ended_pid()}-000000"
    (stale / "store").mkdir(parents=True)
    done = run_tdkg("build", "--dry-run", "--skip-validation",
                    *settings_flags(scratch["project"], state))
    assert done.returncode == 0, done.stderr
    assert current(state) == scratch["first"]
    assert sorted(p.name for p in (state / "builds").iterdir()) == builds_before
    assert not any((state / "drafts").iterdir()), "the unpublished build and the stale one"
    text = done.stdout
    assert text.startswith("Changes of the working tree (unpublished build) against ")
    assert f"against published build {scratch['first'].name}" in text
    assert "fact nodes        1 added, 1 removed, 1 changed" in text
    for heading in ("Fact nodes added (1)", "Fact nodes removed (1)", "Fact nodes changed (1)",
                    "New entities (1)", "Inferred triples gained (", "Inferred triples lost (",
                    "Queries whose answers change ("):
        assert heading in text
    assert f"+ tdi:{ADDED_FACT}" in text and f"- tdi:{REMOVED_FACT}" in text
    assert f"~ tdi:{CHANGED_FACT}" in text and f"close to tdi:{EXISTING_FIRM}" in text


def test_a_broken_turtle_file_fails_naming_file_and_line(scratch, edit):
    data = scratch["root"] / "broken-data"
    shutil.copytree(scratch["project"] / "data" / "ttl", data)
    broken = data / FACTS_FILE
    lines = broken.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith(f"tdi:{ADDED_FACT} a "))
    lines[line] = lines[line].replace(" a tdkg:Acquisition", " a tdkg:Acquisition tdkg:")
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run_tdkg("diff", *settings_flags(scratch["project"], scratch["state"]),
                    "--data-dir", str(data))
    assert done.returncode == 1
    assert f"{broken}:{line + 1}:" in done.stderr and "syntax error" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert current(scratch["state"]) == scratch["first"]
    assert (scratch["first"] / "store").is_dir()
    assert not any((scratch["state"] / "drafts").iterdir())


# --- what the diff reports ----------------------------------------------------------------------

def test_fact_nodes_added_removed_and_changed(scratch, edit, reported):
    assert reported["old"]["id"] == scratch["first"].name
    assert reported["new"]["published"] is False
    assert reported["summary"]["facts"] == {"added": 1, "removed": 1, "changed": 1}
    facts = reported["facts"]
    [added] = facts["added"]
    assert added["iri"] == TDI + ADDED_FACT
    assert added["classes"] == [TDKG + "Acquisition"]
    assert added["statedIn"] == [ns.SOURCE + "doc-000"]
    assert added["values"][TDKG + "recipient"] == [f"<{TDI}{ADDED_RECIPIENT}>"]
    [removed] = facts["removed"]
    first = open_store(scratch["first"])
    label = select(first, f"SELECT ?l WHERE {{ tdi:{REMOVED_FACT} rdfs:label ?l }}")[0]["l"]
    assert removed["iri"] == TDI + REMOVED_FACT and removed["values"][ns.PREFIXES["rdfs"] +
                                                                      "label"] == [label]
    assert removed["values"][TDKG + "recipient"] == [f"<{TDI}{REMOVED_RECIPIENT}>"]
    [changed] = facts["changed"]
    assert changed["iri"] == TDI + CHANGED_FACT
    assert changed["properties"] == {
        TDKG + "rank": {"added": [edit["rank"][1]], "removed": [edit["rank"][0]]},
        ns.PREFIXES["rdfs"] + "label": {"added": [edit["label"][1]],
                                        "removed": [edit["label"][0]]}}
    # nothing else in the asserted graph moved: the edit's triples, counted
    added_triples = sum(len(v) for v in added["values"].values())
    firm = reported["entities"]["added"][0]
    firm_triples = sum(len(v) for v in firm["values"].values())
    removed_triples = sum(len(v) for v in removed["values"].values())
    assert reported["summary"]["asserted"] == {"added": added_triples + firm_triples + 2,
                                               "removed": removed_triples + 2}


def test_a_new_entity_is_flagged_with_the_existing_one_of_a_close_name(scratch, reported):
    assert reported["summary"]["entities"] == {"added": 1, "removed": 0, "changed": 0,
                                               "close": 1}
    [firm] = reported["entities"]["added"]
    assert firm["iri"] == TDI + NEW_FIRM and firm["label"] == NEW_FIRM_LABEL
    first = open_store(scratch["first"])
    label = select(first, f"SELECT ?l WHERE {{ tdi:{EXISTING_FIRM} rdfs:label ?l }}")[0]["l"]
    close = {c["iri"]: c for c in firm["close"]}
    assert TDI + EXISTING_FIRM in close
    assert f'"{close[TDI + EXISTING_FIRM]["label"]}"@en' == label
    assert close[TDI + EXISTING_FIRM]["score"] >= diff.CLOSE_SCORE


def test_close_names_fold_case_and_diacritics_and_keep_numbers_apart():
    def score(a: str, b: str) -> float:
        return diff.similarity(diff._name(a), diff._name(b))[0]
    assert score("AKINCI", "Akıncı") == 1.0
    assert score("Baykar Makina", "Baykar") >= diff.CLOSE_SCORE
    assert score("Aselsan A.Ş.", "ASELSAN") >= diff.CLOSE_SCORE
    assert score("Roketsan", "Roketsn") >= diff.CLOSE_SCORE       # a typo
    assert score("Doc 000, footnote 1", "Doc 000, footnote 2") == 0.0
    assert score("Pakistan", "Kazakhstan") < diff.CLOSE_SCORE


def test_inferred_triples_gained_and_lost_with_their_rules(reported, published):
    first, second = open_store(published["first"]), open_store(published["second"])
    before = graph_triples(first, ns.GRAPH_INFERRED)
    after = graph_triples(second, ns.GRAPH_INFERRED)
    inferred = reported["inferred"]
    assert {tuple(e["triple"]) for e in inferred["gained"]} == after - before
    assert {tuple(e["triple"]) for e in inferred["lost"]} == before - after
    assert reported["summary"]["inferred"] == {"gained": len(after - before),
                                               "lost": len(before - after)}
    fact_type = (f"<{TDI}{ADDED_FACT}>", diff.RDF_TYPE, diff.FACT)
    assert fact_type in after - before
    assert (f"<{TDI}{REMOVED_FACT}>", diff.RDF_TYPE, diff.FACT) in before - after
    for build, kind in ((published["second"], "gained"), (published["first"], "lost")):
        explainer = derivations.Explainer(build)
        try:
            for entry in inferred[kind]:
                tree = explainer.explain(explainer.find(*entry["triple"]))
                assert entry["rule"] == tree["rule"]["id"], entry
        finally:
            explainer.close()
    per_rule = collections.Counter(e["rule"] for e in inferred["gained"])
    assert {r: v["gained"] for r, v in inferred["by_rule"].items() if v["gained"]} == per_rule


def test_query_answers_that_change_with_their_rows(scratch, reported, published):
    first, second = open_store(published["first"]), open_store(published["second"])
    expected = {}
    for path in sorted((scratch["project"] / "queries").glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        before = collections.Counter(json.dumps(r, sort_keys=True) for r in select(first, text))
        after = collections.Counter(json.dumps(r, sort_keys=True) for r in select(second, text))
        if before != after:
            expected[path.name] = (after - before, before - after)
    changed = {q["name"]: q for q in reported["queries"]["changed"]}
    assert set(changed) == set(expected) and not reported["queries"]["failed"]
    for name, (added, removed) in expected.items():
        got_added = collections.Counter(json.dumps(r, sort_keys=True) for r in changed[name]["added"])
        got_removed = collections.Counter(json.dumps(r, sort_keys=True)
                                          for r in changed[name]["removed"])
        assert (got_added, got_removed) == (added, removed), name
    buyers = changed["african-bayraktar-buyers.rq"]
    assert [r["recipient"] for r in buyers["added"]] == [f"<{TDI}{ADDED_RECIPIENT}>"]
    assert [r["recipient"] for r in buyers["removed"]] == [f"<{TDI}{REMOVED_RECIPIENT}>"]


def test_a_publishing_build_records_its_changes(reported, published):
    assert not (published["first"] / "changes.json").exists(), "the first build had no previous"
    recorded = json.loads((published["second"] / "changes.json").read_text(encoding="utf-8"))
    assert recorded["old"]["id"] == published["first"].name
    assert recorded["new"]["id"] == published["second"].name
    info = json.loads((published["second"] / "build.json").read_text())
    assert recorded["new"]["digest"] == info["digest"] and "changes" in info["timings"]
    assert f"changes against {published['first'].name}" in published["log"]

    def without_timings(changes: dict) -> dict:
        queries = {k: [{x: y for x, y in q.items() if x != "seconds"} if isinstance(q, dict)
                       else q for q in v] for k, v in changes["queries"].items()}
        return {**{k: changes[k] for k in ("summary", "facts", "entities", "inferred",
                                           "ontology")}, "queries": queries}
    assert without_timings(recorded) == without_timings(reported)
    assert diff.render_text(recorded).startswith(
        f"Changes of build {published['second'].name} against build {published['first'].name}")
    skipped = {"format": diff.FORMAT, "old": recorded["old"], "new": recorded["new"],
               "skipped": "the two builds hold too many triples"}
    assert "not computed: the two builds hold too many triples" in diff.render_text(skipped)


def test_no_changes_after_publishing_the_edit(scratch, published):
    done = run_tdkg("diff", *settings_flags(scratch["project"], scratch["state"]),
                    "--skip-validation", "--exit-code")
    assert done.returncode == 0, done.stderr
    queries = len(list((scratch["project"] / "queries").glob("*.rq")))
    assert "No changes." in done.stdout and f"0 of {queries} answers change" in done.stdout
    assert current(scratch["state"]) == published["second"]
