"""The README's curation walk-through, end to end, with the real ``tdkg`` command: a fictional
report (``tests/curation/example-report.txt``, the project's own words) taken through
``new-source``, ``find``, a few facts, ``diff`` (its report checked exactly against the edit),
``build --strict`` (refused while rows are todo, then published), ``builds`` and ``rollback``.

Everything runs on a scratch copy of the project and its own state folder.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from support import PROJECT, run_tdkg

from tdkg import namespaces as ns
from tdkg.coverage import read_table, split

EXAMPLE = PROJECT / "tests" / "curation" / "example-report.txt"
DOC = "doc-004"

#: the curator's new entities: none of them exists yet (the test checks with tdkg find)
ENTITIES = """
tdi:veloria a tdkg:State ;
    rdfs:label "Veloria"@en ;
    tdkg:mentionedIn tds:doc-004 .

tdi:ardic-savunma a tdkg:Company ;
    rdfs:label "Ardıç Savunma"@en ;
    tdkg:mentionedIn tds:doc-004 .

tdi:southern-sea-compact a tdkg:Alliance ;
    rdfs:label "Southern Sea Compact"@en ;
    tdkg:mentionedIn tds:doc-004 .
"""

#: three fact nodes, written from the template new-source put in the facts file
FACTS = """
tdi:f004-home-state-ardic-savunma a tdkg:HomeStateAttribution ;
    rdfs:label "Ardıç Savunma is a Turkish firm"@en ;
    tdkg:attributedCompany tdi:ardic-savunma ; tdkg:attributedState tdi:turkiye ;
    tdkg:statedIn tds:doc-004 ; tdkg:status tdkg:reported .

tdi:f004-membership-veloria-compact a tdkg:Membership ;
    rdfs:label "Veloria in the Southern Sea Compact"@en ;
    org:member tdi:veloria ; org:organization tdi:southern-sea-compact ;
    tdkg:statedIn tds:doc-004 ; tdkg:status tdkg:reported .

tdi:f004-partnership-turkiye-veloria a tdkg:Partnership ;
    rdfs:label "Türkiye and Veloria as lasting partners, in Ankara's words"@en ;
    tdkg:firstPartner tdi:turkiye ; tdkg:secondPartner tdi:veloria ;
    tdkg:cooperationField tdkg:navalField ;
    tdkg:statedIn tds:doc-004 ; tdkg:status tdkg:claimed ;
    tdkg:claimedBy tdi:turkiye .
"""
NEW_FACTS = {"f004-home-state-ardic-savunma", "f004-membership-veloria-compact",
             "f004-partnership-turkiye-veloria"}
NEW_ENTITIES = {"veloria", "ardic-savunma", "southern-sea-compact"}

#: which units of the report each fact encodes, and why the others encode none
ROWS = {4: "home-state", 7: "partnership", 9: "membership"}
REASONS = {1: "section heading", 2: "says what the report does; about the document, not its "
           "subject"}


def tdkg(*args: str, ok: bool = True):
    done = run_tdkg(*args)
    if ok:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    """A scratch copy of the project (ontology, data, queries) and its state folder, with the
    bundled data published once: the build the curator starts from."""
    root = tmp_path_factory.mktemp("curation")
    main = root / "main"
    for folder in ("ontology", "data", "queries"):
        shutil.copytree(PROJECT / folder, main / folder)
    state = root / "var"
    tdkg("build", "--project-dir", str(main), "--state-dir", str(state), "--no-owl-files")
    return main, state


def where(project) -> list[str]:
    main, state = project
    return ["--project-dir", str(main), "--state-dir", str(state)]


def current(state: Path) -> str:
    return os.readlink(state / "current")


def fill_rows(table: Path) -> None:
    """Put each fact in the rows it encodes and a reason in the rest: nothing left todo."""
    lines = table.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split("\t")
        unit = int(cells[0])
        fact = ROWS.get(unit)
        if fact is not None:
            name = next(f for f in NEW_FACTS if fact in f)
            cells[4], cells[5] = f"tdi:{name}", ""
        else:
            cells[4], cells[5] = "none", REASONS.get(unit, "the curator left it unencoded "
                                                     "in this worked example")
        out.append("\t".join(cells))
    table.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_a_new_document_from_registration_to_rollback(project):
    main, state = project
    first = current(state)

    # 1. register the document: an entry, a facts file with the template, a todo table
    done = tdkg("new-source", str(EXAMPLE), "--project-dir", str(main),
                "--title", "Veloria Turns to Turkish Shipyards", "--author", "A. N. Example",
                "--comment", "A short fictional report, the worked example of the README.")
    assert f"registered {DOC}" in done.stdout + done.stderr
    facts_file = next(p for p in (main / "data" / "ttl").glob(f"{DOC}-*.ttl")
                      if not p.name.endswith("-source.ttl"))
    table = main / "data" / "coverage" / f"{DOC}.tsv"
    units = split(EXAMPLE.read_text(encoding="utf-8"))
    assert len(read_table(table)) == len(units) and all(r.todo for r in read_table(table))

    # 2. the untouched template builds, with a warning; --strict refuses while rows are todo
    refused = tdkg("build", "--strict", *where(project), "--no-owl-files", ok=False)
    assert refused.returncode == 1 and DOC in refused.stderr and "todo" in refused.stderr
    assert current(state) == first

    # 3. look before creating: Türkiye exists (reuse it), the report's own names do not
    found = json.loads(tdkg("find", "TURKIYE", "--json", *where(project)).stdout)
    assert found["results"][0]["iri"] == ns.ID + "turkiye"
    for name in ("Veloria", "Ardıç Savunma", "Southern Sea Compact"):
        looked = tdkg("find", name, "--json", *where(project), ok=False)
        results = json.loads(looked.stdout)["results"] if looked.returncode == 0 else []
        assert not [r for r in results if r["iri"].startswith(ns.ID)], (name, results)

    # 4. the curator's facts and entities
    with (main / "data" / "ttl" / "actors.ttl").open("a", encoding="utf-8") as out:
        out.write(ENTITIES)
    with facts_file.open("a", encoding="utf-8") as out:
        out.write(FACTS)

    # 5. the diff reports exactly the edit, before anything is published
    changes = json.loads(tdkg("diff", "--json", *where(project)).stdout)
    assert current(state) == first
    added = {n["iri"].removeprefix(ns.ID) for n in changes["facts"]["added"]}
    assert added == NEW_FACTS
    assert changes["facts"]["removed"] == [] and changes["facts"]["changed"] == []
    entities = {n["iri"] for n in changes["entities"]["added"]}      # the document is one too
    assert entities == {ns.ID + e for e in NEW_ENTITIES} | {ns.SOURCE + DOC}
    turkiye = [n for n in changes["entities"]["changed"] if n["iri"] == ns.ID + "turkiye"]
    assert changes["entities"]["removed"] == [] and len(turkiye) <= 1
    gained = {tuple(t["triple"]) for t in changes["inferred"]["gained"]}
    partner = (f"<{ns.ID}turkiye>", f"<{ns.TDKG}partnerOf>", f"<{ns.ID}veloria>")
    assert partner in gained and changes["inferred"]["lost"] == []
    assert changes["summary"]["queries"]["failed"] == 0

    # 6. the rows filled in: the strict build publishes
    fill_rows(table)
    tdkg("build", "--strict", *where(project), "--no-owl-files")
    second = current(state)
    assert second != first
    store = ox.Store.read_only(str(state / second / "store"))
    assert store.query(f"ASK {{ GRAPH <{ns.GRAPH_ASSERTED}> "
                       f"{{ <{ns.ID}f004-membership-veloria-compact> ?p ?o }} }}")
    del store
    listed = json.loads(tdkg("builds", "--json", *where(project)).stdout)
    assert [b["id"] for b in listed["builds"] if b["current"]] == [Path(second).name]

    # 7. roll back: the first build is served again, and the report's facts are gone from it
    tdkg("rollback", *where(project))
    assert current(state) == first
    store = ox.Store.read_only(str(state / first / "store"))
    assert not store.query(f"ASK {{ <{ns.ID}veloria> ?p ?o }}")
