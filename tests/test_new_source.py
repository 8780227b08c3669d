"""``tdkg new-source``: a new document's entry, facts file and coverage table, made by the real
command on a scratch copy of the project; the build with the untouched template (warnings about
the ``todo`` rows, ``--strict`` refusing), the template filled in, and every refusal leaving the
project exactly as it was.

Expected values come from the data and the text, not typed in: the next number from the
documents the copied data declares, row counts from :func:`tdkg.coverage.split`, the digest
from hashlib.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from support import PROJECT, run_tdkg

from tdkg import namespaces as ns
from tdkg.coverage import TODO, read_table, split
from tdkg.curation import todo
from tdkg.curation.new_source import check_options
from tdkg.curation.templates import PLACEHOLDERS
from tdkg.settings import Settings

EXAMPLE = PROJECT / "tests" / "curation" / "example-report.txt"
SHARED = PROJECT.parent / "shared"
RDF_TYPE = ox.NamedNode(ns.PREFIXES["rdf"] + "type")
OPTIONS = {"--title": "Veloria Turns to Turkish Shipyards", "--author": "A. N. Example",
           "--publisher": "TDKG test desk", "--date": "2024-05-06",
           "--url": "https://example.org/reports/veloria",
           "--licence": "https://creativecommons.org/licenses/by/4.0/",
           "--comment": "A short fictional report the project wrote for its tests."}


def flags(options: dict[str, str]) -> list[str]:
    return [part for key, value in options.items() for part in (key, value)]


def copy_project(root: Path) -> Path:
    """``root/main`` with the project's ontology, data and queries, and ``root/shared`` pointing
    at the real ``../shared`` (so the seed texts are where new-source looks for them)."""
    main = root / "main"
    for folder in ("ontology", "data", "queries"):
        shutil.copytree(PROJECT / folder, main / folder)
    (root / "shared").symlink_to(SHARED)
    return main


def new_source(project: Path, path: Path, *extra: str, options: dict | None = None):
    return run_tdkg("new-source", str(path), "--project-dir", str(project),
                    *flags(OPTIONS if options is None else options), *extra)


def snapshot(project: Path) -> dict[str, str]:
    """Every file under the project with a digest of its content."""
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file()}


def parse(path: Path) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(path.read_bytes(), format=ox.RdfFormat.TURTLE)]


def next_number(project: Path) -> str:
    """One more than the highest tds:doc-NNN the data types as a tdkg:Document."""
    numbers = []
    for path in (project / "data" / "ttl").glob("*.ttl"):
        for t in parse(path):
            m = re.fullmatch(re.escape(ns.SOURCE) + r"doc-(\d+)", t.subject.value)
            if m and t.predicate == RDF_TYPE and t.object.value == ns.TDKG + "Document":
                numbers.append(int(m.group(1)))
    return f"{max(numbers) + 1:03d}"


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> dict:
    """One registration of the example report, with every option, on a scratch copy."""
    project = copy_project(tmp_path_factory.mktemp("new-source"))
    expected = next_number(project)
    done = new_source(project, EXAMPLE, "--json")
    assert done.returncode == 0, done.stderr
    return {"project": project, "report": json.loads(done.stdout), "number": expected}


# --- what it creates ----------------------------------------------------------------------------

def test_the_document_gets_the_next_free_number_and_three_new_files(registered):
    report, project, number = registered["report"], registered["project"], registered["number"]
    assert report["document"] == f"doc-{number}"
    assert set(report["files"]) == {"entry", "facts", "coverage"}
    assert report["files"]["entry"] == f"data/ttl/doc-{number}-source.ttl"
    assert report["files"]["coverage"] == f"data/coverage/doc-{number}.tsv"
    assert re.fullmatch(rf"data/ttl/doc-{number}-[a-z0-9-]+\.ttl", report["files"]["facts"])
    for path in report["files"].values():
        assert (project / path).is_file(), path
    assert report["sha256"] == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert report["not_recorded"] == []


def test_the_entry_records_what_was_given_and_the_text_digest(registered):
    project, number = registered["project"], registered["number"]
    triples = parse(project / registered["report"]["files"]["entry"])
    doc = ox.NamedNode(f"{ns.SOURCE}doc-{number}")
    values: dict[str, list] = {}
    for t in triples:
        if t.subject == doc:
            values.setdefault(t.predicate.value, []).append(t.object)
    dcterms, tdkg = ns.PREFIXES["dcterms"], ns.TDKG

    def one(iri: str) -> str:
        assert len(values.get(iri, [])) == 1, (iri, values.get(iri))
        return values[iri][0].value
    assert one(ns.PREFIXES["rdf"] + "type") == tdkg + "Document"
    assert one(ns.PREFIXES["rdfs"] + "label") == f"Doc {number}: {OPTIONS['--title']}"
    assert one(dcterms + "title") == OPTIONS["--title"]
    assert one(dcterms + "creator") == OPTIONS["--author"]
    assert one(tdkg + "bylineNote") == f"By {OPTIONS['--author']}"
    assert one(dcterms + "publisher") == OPTIONS["--publisher"]
    assert one(tdkg + "dateAsGiven") == OPTIONS["--date"]
    assert one(tdkg + "publicationYear") == OPTIONS["--date"][:4]
    assert one("https://schema.org/url") == OPTIONS["--url"]
    assert values[dcterms + "license"] == [ox.NamedNode(OPTIONS["--licence"])]
    assert one(ns.PREFIXES["rdfs"] + "comment") == OPTIONS["--comment"]
    units = split(EXAMPLE.read_text(encoding="utf-8"))
    has_footnotes = any(u.markers or u.reference for u in units)
    assert one(tdkg + "hasFootnotes") == str(has_footnotes).lower()
    digest = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert one(ns.PREFIXES["owl"] + "versionInfo") == f"sha256:{digest}"
    assert {t.subject for t in triples} == {doc}, "footnote stubs must stay commented out"


def test_no_sentence_of_the_text_is_copied_into_the_project(registered):
    project, report = registered["project"], registered["report"]
    written = "\n".join((project / p).read_text(encoding="utf-8") for p in report["files"].values())
    for unit in split(EXAMPLE.read_text(encoding="utf-8")):
        assert unit.text not in written, unit.index


def test_the_facts_file_is_prefixes_and_comments_only(registered):
    path = registered["project"] / registered["report"]["files"]["facts"]
    assert parse(path) == []
    text = path.read_text(encoding="utf-8")
    declared = dict(re.findall(r"^@prefix (\w+):\s+<([^>]+)> \.$", text, re.MULTILINE))
    assert declared and all(ns.PREFIXES[p] == iri for p, iri in declared.items())
    body = [line for line in text.splitlines() if line and not line.startswith("@prefix")]
    assert body and all(line.startswith("#") for line in body)
    kinds = set(re.findall(r"^# tdi:\S+ a (tdkg:\w+) ;", text, re.MULTILINE))
    assert {"tdkg:Assessment", "tdkg:ArmsDeal", "tdkg:Acquisition", "tdkg:Partnership",
            "tdkg:Membership", "tdkg:Rivalry", "tdkg:HomeStateAttribution", "tdkg:Denial",
            "tdkg:NegativeStatement", "tdkg:StatementTension"} <= kinds
    assert "tdkg:claimedBy" in text and "tdkg:citation" in text


def test_the_coverage_table_has_one_todo_row_per_unit_of_the_splitter(registered):
    units = split(EXAMPLE.read_text(encoding="utf-8"))
    rows = read_table(registered["project"] / registered["report"]["files"]["coverage"])
    assert len(rows) == len(units) == registered["report"]["units"]["units"]
    assert [(r.sentence, r.paragraph, r.kind, r.markers) for r in rows] == \
        [(u.index, u.paragraph, u.kind, u.markers) for u in units]
    assert all(r.todo and r.facts == () and r.reason == TODO for r in rows)
    settings = Settings(project_dir=registered["project"])
    assert todo.pending_rows(settings) == {f"doc-{registered['number']}": len(units)}


# --- the build ----------------------------------------------------------------------------------

def test_a_build_with_the_untouched_template_passes_and_warns_strict_refuses(registered, tmp_path):
    project, number = registered["project"], registered["number"]
    state = tmp_path / "var"
    units = len(split(EXAMPLE.read_text(encoding="utf-8")))
    done = run_tdkg("build", "--project-dir", str(project), "--state-dir", str(state),
                    "--no-owl-files", "--no-downloads")
    assert done.returncode == 0, done.stderr
    assert f"doc-{number}: {units} coverage row(s) still marked todo" in done.stderr
    published = (state / "current").resolve()
    db = ox.Store.read_only(str(published / "store"))
    doc = f"<{ns.SOURCE}doc-{number}>"
    assert db.query(f"ASK {{ GRAPH ?g {{ {doc} a <{ns.TDKG}Document> }} }}")
    stated = db.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?f <{ns.TDKG}statedIn> {doc} }} }}")
    assert int(next(iter(stated))["n"].value) == 0
    del db
    strict = run_tdkg("build", "--strict", "--project-dir", str(project), "--state-dir", str(state))
    assert strict.returncode == 1
    assert f"doc-{number}" in strict.stderr.splitlines()[-1]
    assert (state / "current").resolve() == published, "a refused build publishes nothing"


def test_the_template_filled_in_builds(tmp_path):
    """Uncomment every Turtle line of both files (the ``# `` lines), put real entities of the
    graph in place of the placeholders: the build passes, with one fact node per template."""
    project = copy_project(tmp_path)
    done = new_source(project, EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert "tdkg find" in done.stdout
    number = re.search(r"registered doc-(\d+)", done.stdout)[1]
    footnote = str(min(m for u in split(EXAMPLE.read_text(encoding="utf-8")) for m in u.markers))
    values = {"slug": "x", "label": "x label", "paraphrase": "x in other words",
              "state": "turkiye", "other-state": "pakistan", "company": "baykar",
              "organisation": "nato", "system": "akinci", "entity": "turkiye",
              "other-entity": "pakistan", "voice": "saudi-media", "fact": f"f{number}-deal-x",
              "other-fact": f"f{number}-assessment-x", "year": "2024", "amount": "1000000",
              "publisher": "x publisher", "date": "2024", "url": "https://example.org/x",
              "n": footnote, "Q-id": "Q43"}
    assert set(values) == set(PLACEHOLDERS)
    facts = 0
    created = sorted((project / "data" / "ttl").glob(f"doc-{number}-*.ttl"))
    assert len(created) == 2
    for path in created:
        lines = [line.removeprefix("# ")
                 for line in path.read_text(encoding="utf-8").splitlines()]
        lines = [line if line.startswith("#") else
                 re.sub(r"«([^»]+)»", lambda m: values[m[1]], line) for line in lines]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        facts += sum(1 for t in parse(path) if t.predicate.value == ns.TDKG + "statedIn")
    assert facts >= 10
    state = tmp_path / "var"
    built = run_tdkg("build", "--project-dir", str(project), "--state-dir", str(state),
                     "--no-owl-files", "--no-downloads")
    assert built.returncode == 0, built.stderr
    db = ox.Store.read_only(str((state / "current").resolve() / "store"))
    rows = db.query(f"SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE {{ GRAPH <{ns.GRAPH_ASSERTED}> "
                    f"{{ ?f <{ns.TDKG}statedIn> <{ns.SOURCE}doc-{number}> }} }}")
    assert int(next(iter(rows))["n"].value) == facts


# --- refusals: nothing written ------------------------------------------------------------------

@pytest.fixture()
def project(tmp_path) -> Path:
    return copy_project(tmp_path)


def refused(project: Path, path: Path, *extra: str, options: dict | None = None,
            status: int = 1) -> str:
    before = snapshot(project)
    done = new_source(project, path, *extra, options=options)
    assert done.returncode == status, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert snapshot(project) == before, "a refused new-source must write nothing"
    return done.stderr


def test_missing_options_are_one_usage_error_listing_all(project):
    message = refused(project, EXAMPLE, options={}, status=2)
    for needed in ("--label", "--comment", "--no-byline"):
        assert needed in message


def test_bad_option_values_are_one_usage_error_naming_each(project):
    bad = {"--date": "15/01/2024", "--url": "ftp://example.org/x", "--slug": "Not A Slug",
           "--licence": "https://example.org/a licence", "--publisher": "  "}
    message = refused(project, EXAMPLE, options={**OPTIONS, **bad}, status=2)
    for option, value in bad.items():
        assert option in message and (value.strip() == "" or repr(value) in message), option


@pytest.mark.parametrize("value, problem", [
    ("2024-1-05", "give YYYY"), ("2024-13-01", "no such date"), ("2023-02-29", "no such date"),
    ("1850", "between"), ("2024-05-06T10:00", "give YYYY"), ("2024", None), ("2024-02", None),
    ("2024-02-29", None),
])
def test_dates_are_checked_as_calendar_dates(value, problem):
    """The date check of the command, on its own (the command's status 2 is tested above)."""
    args = argparse.Namespace(**{k[2:]: v for k, v in OPTIONS.items()}, label=None, byline=None,
                              slug=None, no_byline=False)
    args.author, args.date = [OPTIONS["--author"]], value
    options, problems = check_options(args, datetime.date(2025, 1, 1))
    if problem is None:
        assert problems == [] and options.year == int(value[:4])
    else:
        assert options is None and len(problems) == 1 and problem in problems[0], problems


def test_a_date_in_the_future_is_refused(project):
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert "future" in refused(project, EXAMPLE, options={**OPTIONS, "--date": tomorrow}, status=2)


def test_no_byline_with_an_author_is_a_usage_error(project):
    refused(project, EXAMPLE, "--no-byline", status=2)


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"), (b"", "empty"), (b"  \n\n\t\n", "empty"),
    (b"A heading\nTwo words caf\xe9 here.\n", ":2:"), (b"Text with a \x00 inside.\n", "NUL"),
])
def test_unusable_files_are_refused(project, tmp_path, content, expected):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    message = refused(project, path)
    assert str(path) in message and expected in message


def test_a_folder_is_refused(project, tmp_path):
    assert "folder" in refused(project, tmp_path)


def test_the_same_text_is_not_registered_twice(project, tmp_path):
    first = new_source(project, EXAMPLE)
    assert first.returncode == 0, first.stderr
    number = re.search(r"registered (doc-\d+)", first.stdout)[1]
    message = refused(project, EXAMPLE, options={**OPTIONS, "--url": "https://example.org/other"})
    assert number in message and "same text" in message
    other = tmp_path / "other.txt"
    other.write_text("A different text about nothing in particular.\n", encoding="utf-8")
    message = refused(project, other)
    assert number in message and OPTIONS["--url"] in message


def test_a_seed_document_is_already_registered(project):
    seed = max((SHARED / "seeds").glob("[0-9][0-9][0-9]_*.txt"))
    message = refused(project, seed)
    assert f"doc-{seed.name[:3]}" in message


def test_an_existing_target_file_is_refused(project):
    number = next_number(project)
    table = project / "data" / "coverage" / f"doc-{number}.tsv"
    table.write_text("left over\n", encoding="utf-8")
    assert str(table) in refused(project, EXAMPLE)


def test_a_data_file_that_does_not_parse_is_named_with_its_line(project):
    broken = project / "data" / "ttl" / "zz-broken.ttl"
    broken.write_text("@prefix tdi: <https://w3id.org/tdkg/id/> .\n\ntdi:x tdi:y .\n",
                      encoding="utf-8")
    assert f"{broken}:3" in refused(project, EXAMPLE)


def test_an_unreadable_coverage_table_is_named_with_its_line(project):
    table = project / "data" / "coverage" / "doc-000.tsv"
    lines = table.read_text(encoding="utf-8").splitlines()
    lines[4] = "five\t" + lines[4].split("\t", 1)[1]
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(todo.CoverageTableError, match=re.escape(f"{table}:5:")):
        todo.pending_rows(Settings(project_dir=project))


def test_a_text_inside_the_project_is_registered_with_a_warning(project):
    inside = project / "report.txt"
    shutil.copy(EXAMPLE, inside)
    done = new_source(project, inside)
    assert done.returncode == 0, done.stderr
    assert f"warning: {inside} is inside the project folder" in done.stderr
