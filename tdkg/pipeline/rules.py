"""The rule half of the reasoning step: versioned SPARQL CONSTRUCT files in ``ontology/rules/``.

Each file states, in its ``#+`` header, what it infers (``summary``, ``description``), its
``version`` and its ``status`` policy (how doubt in a premise carries over), and may give a
``stratum`` (default 1: it reads the asserted facts and their OWL consequences; a rule that reads
conclusions of stratum-1 rules belongs to stratum 2, and so on) and ``recursive: yes`` when it
reads its own stratum's conclusions and must be repeated to a fixpoint. The engine runs the
WHERE clause as a SELECT on Oxigraph, builds the template's triples from each solution, and
records as premises the WHERE clause's triple patterns that hold for that solution.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pyoxigraph as ox

from .. import sparql_lexer
from .errors import BuildError

HEADER = re.compile(r"^#\+\s*(\w+):\s*(.*)$")
Pattern = tuple[object, object, object]     # ox terms, or variable names as str


class RuleError(BuildError):
    """A rule file that cannot be used: names the file and what is wrong."""


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    path: Path
    header: dict[str, str]
    text: str
    select: str
    template: list[Pattern]
    premises: list[Pattern]
    reads: frozenset[tuple[str, str | None]] | None   # (predicate, class for rdf:type); None: anything

    @property
    def version(self) -> str:
        return self.header["version"]

    @property
    def stratum(self) -> int:
        return int(self.header.get("stratum", "1").split()[0])

    @property
    def recursive(self) -> bool:
        return self.header.get("recursive", "no").lower() in ("yes", "true")

    @property
    def id(self) -> str:
        return f"rule:{self.name}@{self.version}"

    def conclusions(self, row: ox.QuerySolution) -> list[ox.Triple]:
        return [t for t in (_instantiate(p, row) for p in self.template) if t is not None]

    def premise_triples(self, row: ox.QuerySolution) -> list[ox.Triple]:
        return [t for t in (_instantiate(p, row) for p in self.premises) if t is not None]


def _instantiate(pattern: Pattern, row: ox.QuerySolution) -> ox.Triple | None:
    terms = []
    for part in pattern:
        value = row[part] if isinstance(part, str) else part
        if value is None:
            return None
        terms.append(value)
    try:
        return ox.Triple(*terms)
    except TypeError:
        return None     # e.g. a literal bound where a subject must be


def header_of(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        match = HEADER.match(line.strip())
        if match:
            fields[match.group(1)] = match.group(2).strip()
    return fields


#: what a parsed rule depends on besides its text: this module
PARSER_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def load_rules(folder: Path, parsed: dict | None = None) -> list[Rule]:
    """The rules of ``folder``. ``parsed`` is what :func:`parsed_rules` gave for an earlier
    build: a rule whose text (and this module) did not change since is taken from it rather
    than parsed again (rdflib's SPARQL parser needs about a second to load and 0.1–0.3 s per
    rule, most of a small build)."""
    if not folder.is_dir():
        return []
    known = (parsed or {}).get(PARSER_VERSION, {})
    rules = []
    for path in sorted(folder.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        entry = known.get(_digest(text))
        rules.append(_from_json(path, text, entry) if entry else load_rule(path, text))
    return rules


def parsed_rules(rules: list[Rule]) -> dict:
    """The rules as JSON, for :func:`load_rules` of a later build."""
    return {PARSER_VERSION: {_digest(rule.text): _to_json(rule) for rule in rules}}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _to_json(rule: Rule) -> dict:
    return {"header": rule.header, "select": rule.select,
            "template": [[_term_json(x) for x in p] for p in rule.template],
            "premises": [[_term_json(x) for x in p] for p in rule.premises],
            "reads": None if rule.reads is None else sorted([p, c] for p, c in rule.reads)}


def _from_json(path: Path, text: str, entry: dict) -> Rule:
    reads = entry["reads"]
    return Rule(path.stem, path, entry["header"], text, entry["select"],
                [tuple(_json_term(x) for x in p) for p in entry["template"]],
                [tuple(_json_term(x) for x in p) for p in entry["premises"]],
                None if reads is None else frozenset((p, c) for p, c in reads))


def _term_json(term) -> object:
    if isinstance(term, str):
        return term             # a variable's name
    if isinstance(term, ox.NamedNode):
        return {"iri": term.value}
    if isinstance(term, ox.BlankNode):
        return {"bnode": term.value}
    return {"literal": term.value, "language": term.language, "datatype": term.datatype.value}


def _json_term(value):
    if isinstance(value, str):
        return value
    if "iri" in value:
        return ox.NamedNode(value["iri"])
    if "bnode" in value:
        return ox.BlankNode(value["bnode"])
    if value["language"]:
        return ox.Literal(value["literal"], language=value["language"])
    return ox.Literal(value["literal"], datatype=ox.NamedNode(value["datatype"]))


def load_rule(path: Path, text: str | None = None) -> Rule:
    from rdflib.plugins.sparql import prepareQuery  # slow to load: only when a rule changed

    text = path.read_text(encoding="utf-8") if text is None else text
    header = header_of(text)
    missing = {"summary", "description", "version", "status"} - set(header)
    if missing:
        raise RuleError(f"{path}: header lacks {', '.join(sorted(missing))}")
    try:
        algebra = prepareQuery(text).algebra
    except Exception as err:    # rdflib raises pyparsing errors of several types
        raise RuleError(f"{path}: not valid SPARQL: {err}") from None
    if algebra.name != "ConstructQuery":
        raise RuleError(f"{path}: a rule must be a CONSTRUCT query")
    template = [_pattern(t) for t in algebra.template]
    if any(isinstance(x, ox.BlankNode) for p in template for x in p):
        raise RuleError(f"{path}: use minted IRIs, not blank nodes, in the template")
    premises = [_pattern(t) for t in _positive_patterns(algebra.p)]
    used = sorted({x for p in template + premises for x in p if isinstance(x, str)})
    return Rule(path.stem, path, header, text, _as_select(text, path, used), template, premises,
                _reads(algebra.p))


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _reads(node) -> frozenset[tuple[str, str | None]] | None:
    """What the WHERE clause can match, FILTER (NOT) EXISTS included: (predicate, None) or
    (rdf:type, class); None when a pattern's predicate is a variable or a path."""
    import rdflib

    reads = set()
    for s, p, o in _all_patterns(node):
        if not isinstance(p, rdflib.URIRef):
            return None
        reads.add((str(p), str(o) if str(p) == RDF_TYPE and isinstance(o, rdflib.URIRef)
                   else None))
    return frozenset(reads)


def _all_patterns(node) -> list:
    """Every triple pattern anywhere in an algebra tree."""
    if isinstance(node, (list, tuple)):
        return [t for item in node for t in _all_patterns(item)]
    if not isinstance(node, dict):
        return []
    name = getattr(node, "name", None)
    found = list(node.get("triples") or []) if name == "BGP" else []
    if name == "TriplesBlock":      # inside FILTER (NOT) EXISTS rdflib leaves the parse tree:
        for flat in node.get("triples") or []:      # flat lists of terms, three per triple
            found += [tuple(flat[i:i + 3]) for i in range(0, len(flat) - 2, 3)]
    for key, value in node.items():
        if key != "triples":
            found += _all_patterns(value)
    return found


def _as_select(text: str, path: Path, variables: list[str]) -> str:
    """The same query with ``CONSTRUCT { … }`` replaced by ``SELECT`` of ``variables`` (those
    the template and the premises use: fewer terms to bring into Python per solution)."""
    toks = sparql_lexer.tokens(text)
    start = next((i for i, t in enumerate(toks) if t.is_word("CONSTRUCT")), None)
    if start is None or toks[start + 1].text != "{":
        raise RuleError(f"{path}: expected CONSTRUCT {{ template }} WHERE {{ … }}")
    depth, end = 0, start + 1
    for end in range(start + 1, len(toks)):
        depth += {"{": 1, "}": -1}.get(toks[end].text, 0)
        if depth == 0:
            break
    close = toks[end].start + 1
    projection = " ".join("?" + v for v in variables) or "*"
    return text[:toks[start].start] + "SELECT " + projection + text[close:]


def _positive_patterns(node) -> list:
    """Triple patterns that must hold for a solution: BGPs outside FILTER and MINUS."""
    import rdflib

    if not hasattr(node, "name"):
        return []
    if node.name == "BGP":
        return [t for t in node.triples if all(isinstance(x, rdflib.term.Node) for x in t)]
    if node.name == "Minus":
        return _positive_patterns(node.p1)
    found = []
    for key in ("p", "p1", "p2"):
        if key in node and node[key] is not None:
            found += _positive_patterns(node[key])
    return found


def _pattern(triple) -> Pattern:
    return tuple(_term(x) for x in triple)


def _term(node):
    import rdflib

    if isinstance(node, rdflib.Variable):
        return str(node)
    if isinstance(node, rdflib.URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, rdflib.BNode):
        return ox.BlankNode(str(node))
    if isinstance(node, rdflib.Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype))) if node.datatype \
            else ox.Literal(str(node))
    raise RuleError(f"unsupported term in a rule pattern: {node!r}")
