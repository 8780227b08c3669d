"""The rule half of the reasoning step: versioned SPARQL CONSTRUCT files in ``ontology/rules/``.

Each file states, in its ``#+`` header, what it infers (``summary``, ``description``), its
``version`` and its ``status`` policy (how doubt in a premise carries over). The engine runs the
WHERE clause as a SELECT on Oxigraph, builds the template's triples from each solution, and
records as premises the WHERE clause's triple patterns that hold for that solution.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.plugins.sparql import prepareQuery

from .. import sparqltext
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

    @property
    def version(self) -> str:
        return self.header["version"]

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


def load_rules(folder: Path) -> list[Rule]:
    if not folder.is_dir():
        return []
    return [load_rule(path) for path in sorted(folder.glob("*.rq"))]


def load_rule(path: Path) -> Rule:
    text = path.read_text(encoding="utf-8")
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
    return Rule(path.stem, path, header, text, _as_select(text, path), template,
                [_pattern(t) for t in _positive_patterns(algebra.p)])


def _as_select(text: str, path: Path) -> str:
    """The same query with ``CONSTRUCT { … }`` replaced by ``SELECT *``."""
    toks = sparqltext.tokens(text)
    start = next((i for i, t in enumerate(toks) if t.is_word("CONSTRUCT")), None)
    if start is None or toks[start + 1].text != "{":
        raise RuleError(f"{path}: expected CONSTRUCT {{ template }} WHERE {{ … }}")
    depth, end = 0, start + 1
    for end in range(start + 1, len(toks)):
        depth += {"{": 1, "}": -1}.get(toks[end].text, 0)
        if depth == 0:
            break
    close = toks[end].start + 1
    return text[:toks[start].start] + "SELECT *" + text[close:]


def _positive_patterns(node) -> list:
    """Triple patterns that must hold for a solution: BGPs outside FILTER and MINUS."""
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
