"""OWL checks of the real ontology and data, through the RDF/XML that the build exports.

* the OWL API (Debian's ``libowlapi-java``, driven by ``tests/owl/OwlCheck.java``) must parse
  both files with no error and no unparsed triple, find no OWL 2 DL profile violation, and
  find an ``rdfs:label`` on every term of the TDKG namespace;
* HermiT (shipped with owlready2, run on Debian's java) must find ontology + data consistent;
* and both checks must be able to fail: small inline fixtures show that they do.

Needs ``java`` and ``javac`` (Debian: default-jdk-headless) and libowlapi-java.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import OWL, RDF

from tdkg import namespaces as ns
from tdkg.pipeline.owl_export import (HermitInconsistencyError, export_owl, java_executable,
                                     run_hermit)

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_FILE = ROOT / "ontology" / "tdkg.ttl"
DATA_DIR = ROOT / "data" / "ttl"
CHECKER = Path(__file__).parent / "owl" / "OwlCheck.java"
JAVA_DIR = Path("/usr/share/java")
#: the OWL API modules OwlCheck needs and the libraries they load; all come with libowlapi-java
JARS = ["owlapi-api", "owlapi-apibinding", "owlapi-impl", "owlapi-parsers", "guava", "caffeine",
        "commons-io", "commons-rdf-api", "hppcrt", "xz", "jsr305", "atinject-jsr330-api",
        "slf4j-api", "slf4j-nop"]

PREFIXES = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in ns.PREFIXES.items())
SMALL_ONTOLOGY = PREFIXES + """
<https://w3id.org/tdkg/ontology> a owl:Ontology ; rdfs:label "fixture" .
tdkg:Company a owl:Class ; rdfs:label "company"@en ; owl:disjointWith tdkg:System .
tdkg:System a owl:Class ; rdfs:label "system"@en .
tdkg:founded a owl:DatatypeProperty ; rdfs:label "founded"@en .
"""


# ---- the Java checker ---------------------------------------------------------------------

def classpath() -> str:
    jars = [JAVA_DIR / f"{name}.jar" for name in JARS]
    missing = [j.name for j in jars if not j.exists()]
    if missing:
        pytest.fail(f"missing {missing} in {JAVA_DIR}: apt-get install libowlapi-java")
    return os.pathsep.join(map(str, jars))


def compile_checker(cache_root: Path) -> Path:
    """OwlCheck's classes, compiled once per source and classpath, in ``cache_root``."""
    cp = classpath()
    jars = "".join(str(Path(j).resolve()) for j in cp.split(os.pathsep))  # versioned names
    key = hashlib.sha256(CHECKER.read_bytes() + jars.encode()).hexdigest()[:16]
    classes = cache_root / f"owlcheck-{key}"
    if (classes / "OwlCheck.class").exists():
        return classes
    javac = shutil.which("javac") or pytest.fail("no javac: apt-get install default-jdk-headless")
    build = Path(tempfile.mkdtemp(dir=cache_root))
    done = subprocess.run([javac, "-nowarn", "-d", str(build), "-cp", cp, str(CHECKER)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"javac failed on {CHECKER}:\n{done.stderr}"
    try:
        os.replace(build, classes)
    except OSError:  # another run compiled it first
        shutil.rmtree(build)
    return classes


@pytest.fixture(scope="session")
def owl_check(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], dict]:
    """A function: path of an RDF/XML file -> OwlCheck's JSON report as a dict."""
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("owlcheck") if cache else tmp_path_factory.mktemp("owlcheck")
    cp = f"{compile_checker(Path(root))}{os.pathsep}{classpath()}"

    def check(path: Path) -> dict:
        done = subprocess.run([java_executable(), "-cp", cp, "OwlCheck", str(path)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"OwlCheck crashed on {path}:\n{done.stderr}"
        return json.loads(done.stdout)
    return check


# ---- the real ontology and data, exported ---------------------------------------------------

def parse_turtle(*files: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    for f in files:
        graph.parse(f, format="turtle")
    return graph


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert ONTOLOGY_FILE.is_file(), f"{ONTOLOGY_FILE} is missing: the OWL checks need it"
    data = parse_turtle(*sorted(DATA_DIR.glob("*.ttl")))
    return export_owl(parse_turtle(ONTOLOGY_FILE), data, tmp_path_factory.mktemp("owl"))


def bullets(items: list[str]) -> str:
    return "".join(f"\n  - {item}" for item in items)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ontology", "full"])
def test_owl_api_finds_a_clean_owl2_dl_ontology(owl_check, exported, which):
    report = owl_check(exported[which])
    for key, problem in [("parseErrors", "OWL API cannot load it"),
                         ("missingImports", "unloadable owl:imports"),
                         ("unparsedTriples", "unparsed triples"),
                         ("dlViolations", "OWL 2 DL violations"),
                         ("unlabelled", "tdkg terms without rdfs:label")]:
        assert report[key] == [], f"{exported[which].name}: {problem}:{bullets(report[key])}"


@pytest.mark.slow
def test_protege_opens_the_ontology_from_its_url(owl_check, exported, live_server):
    """Protégé's "open from URL": the OWL API fetches /ontology with its own Accept header and
    must get the same clean OWL 2 DL ontology as the exported file."""
    report = owl_check(live_server.url + "/ontology")
    for key in ("parseErrors", "missingImports", "unparsedTriples", "dlViolations", "unlabelled"):
        assert report[key] == [], f"/ontology: {key}:{bullets(report[key])}"
    assert report["axiomCount"] == owl_check(exported["ontology"])["axiomCount"]


def test_full_export_is_one_ontology(exported):
    assert list(DATA_DIR.glob("*.ttl")), f"no data in {DATA_DIR}: nothing to merge"
    full = rdflib.Graph().parse(exported["full"], format="xml")
    ontology = rdflib.Graph().parse(exported["ontology"], format="xml")
    assert list(full.subjects(RDF.type, OWL.Ontology)) == [rdflib.URIRef(ns.ONTOLOGY)]
    ground = [t for t in ontology if not any(isinstance(n, rdflib.BNode) for n in t)]
    assert len(full) > len(ontology) and all(t in full for t in ground)


@pytest.mark.slow
def test_hermit_finds_ontology_and_data_consistent(exported):
    run_hermit(exported["full"])


# ---- the checks can fail --------------------------------------------------------------------

def inline(turtle: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=PREFIXES + turtle, format="turtle")


def export_inline(tmp_path: Path, ontology: str, data: str) -> dict[str, Path]:
    return export_owl(inline(ontology), inline(data), tmp_path)


def test_a_data_header_merges_into_the_ontology_header(tmp_path):
    data = """<https://w3id.org/tdkg/data> a owl:Ontology ; rdfs:label "data" ;
                owl:imports <https://w3id.org/tdkg/ontology> , <https://example.org/other> .
              tdi:x a tdkg:Company ."""
    full = rdflib.Graph().parse(export_inline(tmp_path, SMALL_ONTOLOGY, data)["full"])
    header = rdflib.URIRef(ns.ONTOLOGY)
    assert list(full.subjects(RDF.type, OWL.Ontology)) == [header]
    assert list(full.objects(header, OWL.imports)) == [rdflib.URIRef("https://example.org/other")]
    assert (rdflib.URIRef(ns.ID + "x"), RDF.type, rdflib.URIRef(ns.TDKG + "Company")) in full


@pytest.mark.slow
def test_owl_api_reports_dl_violations_and_missing_labels(owl_check, tmp_path):
    data = """tdi:x a tdkg:Company ; tdkg:founded "1975"^^xsd:gYear ; tdkg:untyped tdi:y .
              tdkg:Unlabelled a owl:Class ."""
    report = owl_check(export_inline(tmp_path, SMALL_ONTOLOGY, data)["full"])
    violations = "\n".join(report["dlViolations"])
    assert "gYear" in violations and "tdkg/ontology#untyped" in violations, violations
    assert "Class https://w3id.org/tdkg/ontology#Unlabelled" in report["unlabelled"]


@pytest.mark.slow
def test_hermit_names_the_clash(tmp_path):
    files = export_inline(tmp_path, SMALL_ONTOLOGY, "tdi:x a tdkg:Company , tdkg:System .")
    with pytest.raises(HermitInconsistencyError, match=r"id/x is both .*#Company and .*#System"):
        run_hermit(files["full"])


@pytest.mark.slow
def test_hermit_names_unsatisfiable_classes(tmp_path):
    both = "tdkg:Both a owl:Class ; rdfs:label 'both' ; rdfs:subClassOf tdkg:Company, tdkg:System."
    files = export_inline(tmp_path, SMALL_ONTOLOGY + both, "tdi:x a tdkg:Company .")
    with pytest.raises(HermitInconsistencyError, match="unsatisfiable classes: .*#Both$"):
        run_hermit(files["full"])
