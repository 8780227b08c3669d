"""The closed vocabulary: a name the ontology does not declare, or a thing the data never types
and labels, fails the build with file, line, the name and the nearest known one; the store that
was published before keeps serving.

Most tests load the real ontology and data plus one small inline file and call the check the
build calls; the end-to-end ones run `tdkg build` on a copy of the project.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from support import PROJECT, Server, run_tdkg
from tdkg.pipeline import vocabulary
from tdkg.pipeline.build import Inputs
from tdkg.pipeline.errors import VocabularyError
from tdkg.pipeline.load import Sources, load_sources

ONTOLOGY = PROJECT / "ontology"
INPUTS = Inputs.of(ONTOLOGY, PROJECT / "data" / "ttl")


def bundled_plus(extra: list[Path] = ()) -> Sources:
    """The build's sources (ontology modules and data files), plus ``extra`` data files."""
    return load_sources(INPUTS.ontology, INPUTS.data + list(extra))
PREFIXES = """@prefix tdkg: <https://w3id.org/tdkg/ontology#> .
@prefix tdi: <https://w3id.org/tdkg/id/> .
@prefix tds: <https://w3id.org/tdkg/source/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
GOOD_DEAL = """tdi:vocabulary-test-deal a tdkg:ArmsDeal ;
    rdfs:label "test deal"@en ;
    tdkg:supplier tdi:turkiye ; tdkg:recipient tdi:pakistan ;
    tdkg:statedIn tds:doc-000 ; tdkg:status tdkg:reported .
"""


def problems_of(tmp_path: Path, turtle: str, rules: list[Path] = ()) -> list[str]:
    """The problems the check finds in the bundled sources plus ``turtle`` (as zz-test.ttl),
    as 'file:line: message' strings with the folder left out; [] when it passes."""
    extra = tmp_path / "zz-test.ttl"
    extra.write_text(turtle, encoding="utf-8")
    try:
        vocabulary.check(bundled_plus([extra]), INPUTS.shapes, rules)
    except VocabularyError as err:
        return [str(p).replace(f"{p.path.parent}/", "") for p in err.problems]
    return []


def test_the_bundled_sources_pass(tmp_path):
    assert problems_of(tmp_path, PREFIXES + GOOD_DEAL) == []


def test_a_misspelt_class_is_named_with_its_line_and_the_nearest_class(tmp_path):
    """`tdkg:ArmsDeall` used to build and publish a node of a class nobody declared."""
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL.replace("ArmsDeal ;", "ArmsDeall ;"))
    assert found == ["zz-test.ttl:5: unknown class tdkg:ArmsDeall: the ontology does not "
                     "declare it (did you mean tdkg:ArmsDeal?)"]


def test_a_misspelt_property_is_named_with_the_nearest_property(tmp_path):
    """`tdkg:supplyer` used to build silently, and no shortcut was ever derived from it."""
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL.replace("tdkg:supplier", "tdkg:supplyer"))
    assert found == ["zz-test.ttl:7: unknown property tdkg:supplyer: the ontology does not "
                     "declare it (did you mean tdkg:supplier?)"]


def test_an_unknown_individual_in_object_position_is_named(tmp_path):
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL.replace("tdkg:reported", "tdkg:reportd"))
    assert found == ["zz-test.ttl:8: unknown term tdkg:reportd: the ontology does not declare "
                     "it (did you mean tdkg:reported?)"]


def test_a_term_of_the_wrong_kind_is_named(tmp_path):
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL.replace("tdkg:recipient", "tdkg:Recipient"))
    assert found == ["zz-test.ttl:7: unknown property tdkg:Recipient: the ontology does not "
                     "declare it (did you mean tdkg:recipient?)"]
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL.replace("a tdkg:ArmsDeal",
                                                               "a tdkg:supplier"))
    assert found == ["zz-test.ttl:5: tdkg:supplier is used as a class, but the ontology "
                     "declares it as a property"]


def test_every_problem_is_reported_at_once_whatever_the_prefix_is_called(tmp_path):
    """Only the first problem used to be visible, and only under the usual prefix name."""
    turtle = PREFIXES.replace("@prefix tdkg:", "@prefix t:") + GOOD_DEAL.replace(
        "tdkg:", "t:").replace("t:ArmsDeal", "t:ArmsDeall").replace(
        "t:supplier", "t:supplyer").replace("t:reported", "t:reportd")
    found = problems_of(tmp_path, "# t:ArmsDeall in a comment is no use\n" + turtle)
    assert [f.split(": ")[0:2] for f in found] == [
        ["zz-test.ttl:6", "unknown class tdkg:ArmsDeall"],
        ["zz-test.ttl:8", "unknown property tdkg:supplyer"],
        ["zz-test.ttl:9", "unknown term tdkg:reportd"]]


def test_full_iris_and_misspelt_namespaces_are_caught(tmp_path):
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL + (
        "tdi:vocabulary-test-deal <https://w3id.org/tdkg/ontology#yeer> 2020 .\n"
        "tdi:vocabulary-test-deal a <https://w3id.org/tdkg/ontolgy#ArmsDeal> .\n"))
    assert found == [
        "zz-test.ttl:9: unknown property tdkg:yeer: the ontology does not declare it "
        "(did you mean tdkg:year?)",
        "zz-test.ttl:10: <https://w3id.org/tdkg/ontolgy#ArmsDeal> is in none of the project's "
        "namespaces (ontology#, id/, source/); is a prefix misspelt? (did you mean "
        "tdkg:ArmsDeal?)"]


def test_a_thing_used_but_never_typed_and_labelled_is_named(tmp_path):
    """A misspelt `tdi:` IRI used to make a new, nameless node instead of a link."""
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL.replace("tdi:pakistan", "tdi:pakistn")
                        + 'tdi:half-described a tdkg:State .\ntds:doc-x rdfs:label "x"@en .\n')
    assert found == [
        "zz-test.ttl:7: tdi:pakistn is used, but the data gives it no rdf:type and no "
        "rdfs:label (did you mean tdi:pakistan?)",
        "zz-test.ttl:9: tdi:half-described is used, but the data gives it no rdfs:label",
        "zz-test.ttl:10: tds:doc-x is used, but the data gives it no rdf:type"]


def test_shape_iris_belong_to_the_shapes_files(tmp_path):
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL + (
        "tdi:vocabulary-test-deal rdfs:seeAlso <https://w3id.org/tdkg/shapes#FactStatusShape> .\n"))
    assert found == ["zz-test.ttl:9: tdsh:FactStatusShape is not a shape defined in the "
                     "shapes files"]


def test_an_unknown_term_in_a_rule_is_named_with_the_rule_file_and_line(tmp_path):
    rule = tmp_path / "zz-rule.rq"
    rule.write_text("#+ summary: test\nPREFIX tdkg: <https://w3id.org/tdkg/ontology#>\n"
                    "CONSTRUCT { ?a tdkg:partnerOf ?b }\n"
                    "WHERE { ?f a tdkg:Partnershp ; tdkg:firstPartner ?a ;\n"
                    "  tdkg:secondPartnr ?b ; tdkg:status ?s FILTER (?s != tdkg:officiallyDenied)\n"
                    '  # tdkg:notATerm in a comment, "tdkg:notATerm" in a string\n'
                    '  FILTER (STR(?a) != "tdkg:notATerm") FILTER (?s != tdkg:reportd) }\n')
    found = problems_of(tmp_path, PREFIXES + GOOD_DEAL, rules=[rule])
    assert found == [
        "zz-rule.rq:4: unknown class tdkg:Partnershp: the ontology does not declare it "
        "(did you mean tdkg:Partnership?)",
        "zz-rule.rq:5: unknown term tdkg:secondPartnr: the ontology does not declare it "
        "(did you mean tdkg:secondPartner?)",
        "zz-rule.rq:7: unknown term tdkg:reportd: the ontology does not declare it "
        "(did you mean tdkg:reported?)"]


def test_terms_of_the_shapes_and_their_sparql_are_checked(tmp_path):
    shapes = tmp_path / "shapes.ttl"
    text = (ONTOLOGY / "shapes.ttl").read_text(encoding="utf-8")
    shapes.write_text(text.replace("sh:path tdkg:statedIn ;", "sh:path tdkg:statedInn ;", 1)
                      .replace("?value rdfs:label ?label }", "?value tdkg:labl ?label }", 1),
                      encoding="utf-8")
    with pytest.raises(VocabularyError) as caught:
        vocabulary.check(bundled_plus(), [shapes])
    lines = text.splitlines()
    found = [(p.line, p.message.split(":")[0] + ":" + p.message.split(":")[1])
             for p in caught.value.problems]
    assert found == [
        (next(i for i, l in enumerate(lines, 1) if "sh:path tdkg:statedIn ;" in l),
         "unknown property tdkg:statedInn"),
        (next(i for i, l in enumerate(lines, 1) if "?value rdfs:label ?label }" in l),
         "unknown term tdkg:labl")]


def test_n_triples_are_located_line_by_line(tmp_path):
    dump = tmp_path / "dump.nt"
    dump.write_text('<https://w3id.org/tdkg/id/turkiye> <http://www.w3.org/2000/01/rdf-schema#'
                    'comment> "<https://w3id.org/tdkg/ontology#partnr>" .\n'
                    "<https://w3id.org/tdkg/id/turkiye> <https://w3id.org/tdkg/ontology#partnr> "
                    "<https://w3id.org/tdkg/id/pakistan> .\n")
    with pytest.raises(VocabularyError) as caught:
        vocabulary.check(bundled_plus([dump]))
    assert [(p.path.name, p.line) for p in caught.value.problems] == [("dump.nt", 2)]
    assert "tdkg:partnr" in caught.value.problems[0].message


# --- end to end: the command line ------------------------------------------------------------


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ONTOLOGY, project / "ontology")
    shutil.copytree(PROJECT / "data" / "ttl", project / "data" / "ttl")
    return project


def test_build_refuses_a_typo_and_the_published_store_keeps_serving(scratch_state, tmp_path):
    server = Server(scratch_state)
    try:
        before = requests.get(server.url + "/healthz", timeout=10).json()["build"]
        current = (scratch_state / "current").resolve()
        data = tmp_path / "data"
        shutil.copytree(PROJECT / "data" / "ttl", data)
        (data / "zz-typo.ttl").write_text(
            PREFIXES + GOOD_DEAL.replace("ArmsDeal ;", "ArmsDeall ;").replace(
                "tdkg:supplier", "tdkg:supplyer"), encoding="utf-8")
        result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir", str(data))
        assert result.returncode == 1
        assert "zz-typo.ttl:5: unknown class tdkg:ArmsDeall" in result.stderr
        assert "(did you mean tdkg:ArmsDeal?)" in result.stderr
        assert "zz-typo.ttl:7: unknown property tdkg:supplyer" in result.stderr
        assert "(did you mean tdkg:supplier?)" in result.stderr
        assert (scratch_state / "current").resolve() == current
        assert [p.resolve() for p in (scratch_state / "builds").iterdir()] == [current]
        assert requests.get(server.url + "/healthz", timeout=10).json()["build"] == before
        assert server.ask("ASK { ?s ?p ?o }")
    finally:
        server.stop()


def test_build_refuses_an_unknown_term_in_a_rule(tmp_path):
    project = _project_copy(tmp_path)
    rule = project / "ontology" / "rules" / "indirect-partnership.rq"
    text = rule.read_text(encoding="utf-8")
    assert "tdkg:secondPartner ?b }" in text
    rule.write_text(text.replace("tdkg:secondPartner ?b }", "tdkg:secondPartnr ?b }", 1),
                    encoding="utf-8")
    line = next(i for i, l in enumerate(rule.read_text().splitlines(), 1) if "secondPartnr" in l)
    state = tmp_path / "var"
    result = run_tdkg("build", "--project-dir", str(project), "--state-dir", str(state))
    assert result.returncode == 1
    assert f"rules/indirect-partnership.rq:{line}: unknown term tdkg:secondPartnr" in result.stderr
    assert "(did you mean tdkg:secondPartner?)" in result.stderr
    assert not (state / "current").exists()


def test_the_bundled_build_runs_the_check(built_state):
    import json
    info = json.loads((built_state / "current" / "build.json").read_text())
    assert "vocabulary" in info["timings"]
    assert info["timings"]["vocabulary"] < 1.0      # seconds, for ~4,000 triples


def test_the_synthetic_benchmark_data_passes(tmp_path):
    """The benchmarks build `bench/generate.py`'s data: its documents and monetary values had
    no type or label, so the closed vocabulary refused it."""
    import subprocess
    import sys
    out = tmp_path / "10k.nt"
    subprocess.run([sys.executable, str(PROJECT / "bench" / "generate.py"), "--triples", "10k",
                    "--out", str(out)], check=True, capture_output=True, timeout=120)
    checked = vocabulary.check(load_sources(INPUTS.ontology, [out]), INPUTS.shapes, INPUTS.rules)
    assert checked["things"] > 300
