"""HermiT and our OWL materializer must draw the same conclusions about the named individuals.

Over the real ontology and the asserted data (the RDF/XML ``tdkg-full.owl`` that the build's
:func:`export_owl` writes) HermiT runs through owlready2, and our materializer runs with no SPARQL
rules (rules are not OWL). For the named individuals (IRIs, not blank nodes), both must give

* the same ``x rdf:type C`` for the named classes ``C`` of the ontology (both sides closed under
  the class hierarchy; owl:Thing and owl:NamedIndividual are not named classes of the ontology),
* the same ``x p y`` for the object properties and ``x p "v"`` for the datatype properties the
  ontology declares (annotation properties carry no OWL semantics and are left out).

What owlready2 does to HermiT's answer, and how it is undone here:

* it stores only the most specific inferred types (and may drop an asserted type a new one
  subsumes): types are closed under the hierarchy HermiT computed (asserted + inferred);
* it stores inferred facts in a separate ontology (``http://inferrences/``) of the same world:
  the whole world's quadstore is read;
* HermiT's ``-Y`` output, which owlready2 reads, lists a property value only under the most
  specific property (``tdkg:party`` and ``prov:wasDerivedFrom`` come back empty): values are
  closed under the property hierarchy HermiT computed;
* it does not store an inferred ``a p b`` when ``b p⁻ a`` is already known, where ``p⁻`` is
  ``p``'s declared inverse or ``p`` itself if ``p`` is symmetric: those are put back;
* its HermiT binding (0.51) infers no data property values (only its Pellet binding has
  ``infer_data_property_values``): those come from HermiT itself through the OWL API that its
  jar bundles (``OWLReasoner.getDataPropertyValues`` for each named individual and property).
  The same small Java program also asks ``getObjectPropertyValues``, and the object property
  values read through owlready2 must equal those: a check that the quirks above are undone;
* literals come back re-typed (``88`` as ``"88.0"^^xsd:decimal``, plain as xsd:string, the
  OWL API's rdf:PlainLiteral): they are compared by datatype and value, not lexical form.

Small inline fixtures, one per OWL construct the ontology uses, show that both reasoners draw
the expected conclusion and that the comparison reports it when one side lacks it.
Needs ``java`` and ``javac`` (Debian: default-jdk-headless).
"""
from __future__ import annotations

import contextlib
import dataclasses
import decimal
import itertools
import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from tdkg import namespaces as ns
from tdkg.pipeline.load import load_sources
from tdkg.pipeline.owl_export import export_owl, java_executable
from tdkg.pipeline.reason import reason

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_FILE = ROOT / "ontology" / "tdkg.ttl"
DATA_DIR = ROOT / "data" / "ttl"

RDF, RDFS, OWL, XSD = (ns.PREFIXES[p] for p in ("rdf", "rdfs", "owl", "xsd"))
TYPE = RDF + "type"
NUMERIC = {XSD + t for t in ("decimal", "integer", "int", "long", "short", "byte",
                             "nonNegativeInteger", "positiveInteger", "nonPositiveInteger",
                             "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
                             "unsignedByte", "float", "double")}
MAX_LISTED = int(os.environ.get("TDKG_MAX_LISTED", 60))


# ---- one representation for both sides --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Lit:
    """A literal compared by value: ``"88"^^xsd:decimal`` equals ``"88.0"^^xsd:decimal``."""

    datatype: str
    value: object
    lang: str = ""
    lexical: str = dataclasses.field(default="", compare=False)

    @classmethod
    def of(cls, lexical: str, datatype: str | None, lang: str | None) -> "Lit":
        if lang:
            return cls(RDF + "langString", lexical, lang.lower(), lexical)
        if datatype in (None, RDF + "PlainLiteral", XSD + "string"):
            return cls(XSD + "string", lexical, "", lexical)
        if datatype in NUMERIC:
            with contextlib.suppress(decimal.InvalidOperation):
                return cls(datatype, decimal.Decimal(lexical.strip()), "", lexical)
        if datatype == XSD + "boolean":
            return cls(datatype, lexical.strip() in ("true", "1"), "", lexical)
        return cls(datatype, lexical, "", lexical)


Term = str | Lit            # an IRI, or a literal
Fact = tuple[str, str, Term]


def from_ox(term) -> Term | None:
    if isinstance(term, ox.NamedNode):
        return term.value
    if isinstance(term, ox.Literal):
        return Lit.of(term.value, term.datatype.value, term.language)
    return None             # blank node


def from_rdflib(term) -> Term | None:
    if isinstance(term, rdflib.URIRef):
        return str(term)
    if isinstance(term, rdflib.Literal):
        return Lit.of(str(term), str(term.datatype) if term.datatype else None, term.language)
    return None


def facts_of(triples: Iterable, convert) -> set[Fact]:
    out = set()
    for t in triples:
        s, p, o = (convert(x) for x in t)
        if isinstance(s, str) and isinstance(p, str) and o is not None:
            out.add((s, p, o))
    return out


@dataclasses.dataclass
class Vocabulary:
    """The ontology's named classes and its object and datatype properties."""

    classes: set[str]
    object_props: set[str]
    data_props: set[str]
    supers: dict[str, set[str]]         # class → its named superclasses (itself included)

    @classmethod
    def of(cls, ontology: set[Fact]) -> "Vocabulary":
        declared = defaultdict(set)
        for s, p, o in ontology:
            if p == TYPE and isinstance(o, str):
                declared[o].add(s)
        classes = declared[OWL + "Class"] - {OWL + "Thing", OWL + "NamedIndividual"}
        return cls(classes, declared[OWL + "ObjectProperty"], declared[OWL + "DatatypeProperty"],
                   hierarchy(ontology, classes))

    def keeps(self, fact: Fact) -> bool:
        s, p, o = fact
        if p == TYPE:
            return o in self.classes
        if p in self.object_props:
            return isinstance(o, str)
        return p in self.data_props and isinstance(o, Lit)

    def restrict(self, facts: Iterable[Fact]) -> set[Fact]:
        return {f for f in facts if self.keeps(f)}


SUBCLASS = (RDFS + "subClassOf", OWL + "equivalentClass")
SUBPROPERTY = (RDFS + "subPropertyOf", OWL + "equivalentProperty")


def hierarchy(facts: set[Fact], terms: set[str], axioms=SUBCLASS) -> dict[str, set[str]]:
    """term → the terms above it (itself included), from the ``axioms`` (sub, equivalent)
    among ``terms``: reflexive-transitive rdfs:subClassOf / owl:equivalentClass by default."""
    sub, equivalent = axioms
    up = defaultdict(set)
    for s, p, o in facts:
        if s in terms and o in terms:
            if p == sub:
                up[s].add(o)
            elif p == equivalent:
                up[s].add(o)
                up[o].add(s)
    supers = {}
    for c in terms:
        seen, todo = {c}, [c]
        while todo:
            for d in up[todo.pop()] - seen:
                seen.add(d)
                todo.append(d)
        supers[c] = seen
    return supers


def close_types(facts: set[Fact], supers: dict[str, set[str]]) -> set[Fact]:
    closed = set(facts)
    for s, p, o in facts:
        if p == TYPE:
            closed.update((s, TYPE, d) for d in supers.get(o, ()))
    return closed


# ---- our side -----------------------------------------------------------------------------------

def our_facts(ontology: list[ox.Triple], data: list[ox.Triple], vocab: Vocabulary) -> set[Fact]:
    """Asserted + inferred, with no SPARQL rules, restricted to the vocabulary."""
    inference = reason(ontology, data, [])
    final = itertools.chain(ontology, data, inference.triples())
    return vocab.restrict(facts_of(final, from_ox))


# ---- HermiT's side ------------------------------------------------------------------------------

DATA_VALUES_JAVA = r"""
import java.io.File;
import java.io.PrintStream;
import org.semanticweb.HermiT.Configuration;
import org.semanticweb.HermiT.Reasoner;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.model.*;

/** HermiT's property values of every named individual, one per line:
 *  D individual property datatype lang text, or O individual property individual. */
public class HermitValues {
    public static void main(String[] args) throws Exception {
        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        OWLOntology ontology = manager.loadOntologyFromOntologyDocument(new File(args[0]));
        Reasoner reasoner = new Reasoner(new Configuration(), ontology);
        if (!reasoner.isConsistent()) { System.err.println("inconsistent"); System.exit(2); }
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        for (OWLNamedIndividual i : ontology.getIndividualsInSignature(true)) {
            for (OWLDataProperty p : ontology.getDataPropertiesInSignature(true))
                for (OWLLiteral v : reasoner.getDataPropertyValues(i, p))
                    out.println("D\t" + i.getIRI() + "\t" + p.getIRI() + "\t" + v.getDatatype().getIRI()
                                + "\t" + (v.hasLang() ? v.getLang() : "") + "\t" + escape(v.getLiteral()));
            for (OWLObjectProperty p : ontology.getObjectPropertiesInSignature(true))
                for (OWLNamedIndividual o : reasoner.getObjectPropertyValues(i, p).getFlattened())
                    out.println("O\t" + i.getIRI() + "\t" + p.getIRI() + "\t" + o.getIRI());
        }
        out.flush();
    }
    static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
    }
}
"""


def hermit_jar() -> Path:
    import owlready2
    return Path(owlready2.__file__).parent / "hermit" / "HermiT.jar"


@pytest.fixture(scope="session")
def values_tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with HermitValues.class, compiled against the jar owlready2 ships."""
    javac = shutil.which("javac") or pytest.fail("no javac: apt-get install default-jdk-headless")
    folder = tmp_path_factory.mktemp("hermit-values")
    (folder / "HermitValues.java").write_text(DATA_VALUES_JAVA)
    done = subprocess.run([javac, "-nowarn", "-cp", str(hermit_jar()), "-d", str(folder),
                           str(folder / "HermitValues.java")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"javac failed:\n{done.stderr}"
    return folder


def _unescape(text: str) -> str:
    table = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}
    out, i = [], 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in table:
            out.append(table[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def hermit_values(owl_file: Path, tool: Path) -> set[Fact]:
    """HermiT's object and data property values of the named individuals, via the OWL API."""
    cp = os.pathsep.join([str(tool), str(hermit_jar())])
    done = subprocess.run([java_executable(), "-cp", cp, "HermitValues", str(owl_file)],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, f"HermitValues failed:\n{done.stderr.decode()[-3000:]}"
    facts = set()
    for line in done.stdout.decode("utf-8").splitlines():
        kind, s, p, rest = line.split("\t", 3)
        if kind == "O":
            facts.add((s, p, rest))
        else:
            datatype, lang, text = rest.split("\t", 2)
            facts.add((s, p, Lit.of(_unescape(text), datatype, lang or None)))
    return facts


def hermit_facts(owl_file: Path, vocab: Vocabulary, values_tool: Path) -> set[Fact]:
    """HermiT's conclusions, restricted to the vocabulary: types and object property values
    through owlready2 (its quirks undone), data property values through the OWL API; the object
    property values are also taken through the OWL API, and the two readings must agree."""
    import owlready2

    owlready2.JAVA_EXE = java_executable()
    world = owlready2.World()
    try:
        with owl_file.open("rb") as handle:
            world.get_ontology(ns.ONTOLOGY).load(fileobj=handle)
        owlready2.sync_reasoner_hermit(world, infer_property_values=True, debug=0)
        stored = facts_of(world.as_rdflib_graph(), from_rdflib)   # every ontology of the world
        inverse = _owlready_inverses(world, vocab)
    finally:
        world.close()
    objects = _object_values(vocab.restrict(stored), vocab, inverse,
                             hierarchy(stored, vocab.object_props, SUBPROPERTY))
    via_owl_api = vocab.restrict(hermit_values(owl_file, values_tool))
    api_objects = {f for f in via_owl_api if f[1] in vocab.object_props}
    assert objects == api_objects, (
        "HermiT's object property values read through owlready2 and through the OWL API differ"
        f"\n  only owlready2:{listing(objects - api_objects)}"
        f"\n  only OWL API:{listing(api_objects - objects)}")
    types = {f for f in vocab.restrict(stored) if f[1] == TYPE}
    data = via_owl_api - api_objects
    return close_types(types, hierarchy(stored, vocab.classes)) | objects | data


def _object_values(stored: set[Fact], vocab: Vocabulary, inverse: dict[str, str],
                   supers: dict[str, set[str]]) -> set[Fact]:
    """HermiT's object property values from what owlready2 stored: HermiT reports a value only
    under the most specific property, and owlready2 drops one whose reverse it already has."""
    facts = {f for f in stored if f[1] in vocab.object_props}
    for _ in range(10):                 # the two steps feed each other; a few rounds suffice
        grown = {(s, q, o) for s, p, o in facts for q in supers.get(p, ())}
        grown |= {(o, inverse[p], s) for s, p, o in grown if p in inverse}
        if grown == facts:
            return facts
        facts = grown
    raise AssertionError("object property values did not reach a fixpoint in 10 rounds")


def _owlready_inverses(world, vocab: Vocabulary) -> dict[str, str]:
    """property → the property whose stored triples owlready2 lets stand for it, reversed
    (its declared inverse, or itself when symmetric)."""
    inverse = {}
    for iri in vocab.object_props:
        prop = world[iri]
        partner = getattr(prop, "_inverse_property", None) if prop is not None else None
        if partner:
            inverse[iri] = partner.iri
    return inverse


# ---- comparing ---------------------------------------------------------------------------------

def short(term: Term) -> str:
    if isinstance(term, Lit):
        text = repr(term.lexical)
        return f"{text}@{term.lang}" if term.lang else f"{text}^^{short(term.datatype)}"
    for prefix, iri in sorted(ns.PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if term.startswith(iri) and "/" not in term[len(iri):]:
            return f"{prefix}:{term[len(iri):]}"
    return f"<{term}>"


def listing(facts: set[Fact]) -> str:
    lines = sorted(" ".join(short(x) for x in f) for f in facts)
    shown = lines[:MAX_LISTED] + ([f"… and {len(lines) - MAX_LISTED} more"]
                                  if len(lines) > MAX_LISTED else [])
    return "".join(f"\n    {line}" for line in shown) or " none"


def difference(hermit: set[Fact], ours: set[Fact]) -> str:
    """'' when equal, else what our materializer misses and adds with respect to HermiT."""
    missing, extra = hermit - ours, ours - hermit
    if not missing and not extra:
        return ""
    return (f"our materializer and HermiT disagree ({len(hermit)} HermiT facts, {len(ours)} ours)"
            f"\n  missing from ours (HermiT infers them, we do not): {len(missing)}{listing(missing)}"
            f"\n  extra in ours (we infer them, HermiT does not): {len(extra)}{listing(extra)}")


# ---- the real ontology and data -----------------------------------------------------------------

def parse_turtle(*files: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    for f in files:
        graph.parse(f, format="turtle")
    return graph


@pytest.mark.slow
def test_hermit_and_our_materializer_agree_on_the_real_data(tmp_path, values_tool):
    data_files = sorted(DATA_DIR.glob("*.ttl"))
    assert ONTOLOGY_FILE.is_file() and data_files, "needs ontology/tdkg.ttl and data/ttl/*.ttl"
    sources = load_sources([ONTOLOGY_FILE], data_files)
    vocab = Vocabulary.of(facts_of(sources.ontology, from_ox))
    ours = our_facts(sources.ontology, sources.data, vocab)
    unclosed = close_types(ours, vocab.supers) - ours
    assert not unclosed, f"our materializer leaves out superclass memberships:{listing(unclosed)}"

    owl_file = export_owl(parse_turtle(ONTOLOGY_FILE), parse_turtle(*data_files), tmp_path)["full"]
    hermit = hermit_facts(owl_file, vocab, values_tool)

    report = difference(hermit, ours)
    if report:
        pytest.fail(report, pytrace=False)
    kinds = {"types": TYPE, "object": vocab.object_props, "data": vocab.data_props}
    counts = {k: sum(1 for f in ours if (f[1] == v if k == "types" else f[1] in v))
              for k, v in kinds.items()}
    assert all(counts.values()), f"nothing compared for some kind: {counts}"
    print(f"HermiT and ours agree on {len(ours)} facts: {counts}")


# ---- one small fixture per OWL construct the ontology uses --------------------------------------

HEADER = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in ns.PREFIXES.items()) + \
    f"<{ns.ONTOLOGY}> a owl:Ontology .\n"
DECLARATIONS = """
tdkg:A a owl:Class . tdkg:B a owl:Class .
tdkg:p a owl:ObjectProperty . tdkg:q a owl:ObjectProperty . tdkg:r a owl:ObjectProperty .
tdkg:d a owl:DatatypeProperty .
"""
CONSTRUCTS = {
    # name: (axioms, data, expected fact)
    "subClassOf": ("tdkg:A rdfs:subClassOf tdkg:B .",
                   "tdi:x a tdkg:A .",
                   "tdi:x rdf:type tdkg:B"),
    "subPropertyOf": ("tdkg:p rdfs:subPropertyOf tdkg:q .",
                      "tdi:x tdkg:p tdi:y .",
                      "tdi:x tdkg:q tdi:y"),
    "inverseOf": ("tdkg:q owl:inverseOf tdkg:p .",
                  "tdi:x tdkg:p tdi:y .",
                  "tdi:y tdkg:q tdi:x"),
    "SymmetricProperty": ("tdkg:p a owl:SymmetricProperty .",
                          "tdi:x tdkg:p tdi:y .",
                          "tdi:y tdkg:p tdi:x"),
    "chain with an inverse step": (
        "tdkg:r owl:propertyChainAxiom ( [ owl:inverseOf tdkg:p ] tdkg:q ) .",
        "tdi:fact tdkg:p tdi:x ; tdkg:q tdi:y .",
        "tdi:x tdkg:r tdi:y"),
    "domain": ("tdkg:p rdfs:domain tdkg:A .",
               "tdi:x tdkg:p tdi:y .",
               "tdi:x rdf:type tdkg:A"),
    "domain of a datatype property": ("tdkg:d rdfs:domain tdkg:A .",
                                      'tdi:x tdkg:d "12"^^xsd:integer .',
                                      "tdi:x rdf:type tdkg:A"),
    "range": ("tdkg:p rdfs:range tdkg:B .",
              "tdi:x tdkg:p tdi:y .",
              "tdi:y rdf:type tdkg:B"),
}


def expand(name: str) -> str:
    prefix, _, local = name.partition(":")
    return ns.PREFIXES[prefix] + local


def ox_triples(turtle: str) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE)]


@pytest.mark.slow
@pytest.mark.parametrize("construct", list(CONSTRUCTS))
def test_both_reasoners_apply_each_construct(construct, tmp_path, values_tool):
    axioms, data, expected_text = CONSTRUCTS[construct]
    onto_ttl, data_ttl = HEADER + DECLARATIONS + axioms, HEADER + data
    expected = tuple(expand(x) for x in expected_text.split())
    onto = ox_triples(onto_ttl)
    vocab = Vocabulary.of(facts_of(onto, from_ox))
    ours = our_facts(onto, ox_triples(data_ttl), vocab)
    owl_file = export_owl(rdflib.Graph().parse(data=onto_ttl, format="turtle"),
                          rdflib.Graph().parse(data=data_ttl, format="turtle"), tmp_path)["full"]
    hermit = hermit_facts(owl_file, vocab, values_tool)

    for name, facts in (("HermiT", hermit), ("our materializer", ours)):
        if expected not in facts:
            pytest.fail(f"{name} does not infer {expected_text}; it gives:{listing(facts)}",
                        pytrace=False)
    report = difference(hermit, ours)
    if report:
        pytest.fail(report, pytrace=False)
    # and the comparison notices when one side lacks the conclusion
    report = difference(hermit, ours - {expected})
    assert "missing from ours" in report and " ".join(map(short, expected)) in report, report


def test_literals_compare_by_value():
    assert Lit.of("88", XSD + "decimal", None) == Lit.of("88.0", XSD + "decimal", None)
    assert Lit.of("012", XSD + "integer", None) == Lit.of("12", XSD + "integer", None)
    assert Lit.of("a", RDF + "PlainLiteral", None) == Lit.of("a", XSD + "string", None)
    assert Lit.of("a", None, "EN") == Lit.of("a", RDF + "langString", "en")
    assert Lit.of("12", XSD + "integer", None) != Lit.of("12", XSD + "string", None)
