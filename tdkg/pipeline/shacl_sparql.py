"""SHACL validation compiled to SPARQL and run on an in-memory Oxigraph store (the "fast" engine).

Each top-level shape (a shape with a target) becomes one SELECT query per constraint component,
returning one row per validation result: the focus node and, where SHACL reports one, the value.
Targets follow SHACL's "SHACL instance" rule over the data graph (``sh:targetClass C`` reaches
every node typed with C or with a class reaching C by ``rdfs:subClassOf*``), and so does
``sh:class``. Shapes used inside ``sh:or``, ``sh:and``, ``sh:not``, ``sh:node`` and nested
``sh:property`` compile to a pattern that matches exactly when a node *violates* the shape, used
inside ``EXISTS`` filters. SPARQL-based constraints (``sh:sparql`` with ``sh:select``) run as
written, with the shape's targets joined in for ``$this``.

Only the SHACL features listed in :data:`SUPPORTED` compile; anything else raises
:class:`Unsupported` while the shapes are read, so that the caller can use the reference engine
(pyshacl) instead of getting a different answer. Oxigraph keeps typed literals in canonical form
("5.0"^^xsd:decimal is stored as 5); reported literal values are mapped back to the form the
source used, and a value that an XSD datatype does not accept is judged the way pyshacl (rdflib)
judges it.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import pickle
import re
import threading
from collections.abc import Iterable

import pyoxigraph as ox
import rdflib
from rdflib import RDF, RDFS
from rdflib.collection import Collection

from .ntriples import split_blank_lines


class _Namespace(str):
    """``NS.name`` and ``NS["name"]`` as rdflib IRIs, made once (rdflib.Namespace makes a new
    one on each access, which costs a tenth of a second over the shapes)."""

    def __getattr__(self, name: str) -> rdflib.URIRef:
        if name.startswith("__"):
            raise AttributeError(name)
        term = self.__dict__[name] = rdflib.URIRef(str(self) + name)
        return term

    def __getitem__(self, name: str) -> rdflib.URIRef:   # type: ignore[override]
        return getattr(self, name)


SH = _Namespace("http://www.w3.org/ns/shacl#")
XSD = _Namespace("http://www.w3.org/2001/XMLSchema#")
PARAMETERS = {
    # constraint parameters this engine compiles
    SH.minCount, SH.maxCount, SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.hasValue,
    SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive, SH.pattern, SH.flags,
    SH["not"], SH["and"], SH["or"], SH.node, SH.property, SH.disjoint, SH.sparql,
    # and what else a shape may say
    SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.path,
    SH.message, SH.severity, SH.name, SH.description, SH.deactivated, RDF.type, RDFS.label,
    RDFS.comment,
}
SUPPORTED = sorted(str(p).rsplit("#", 1)[1] for p in PARAMETERS if str(p).startswith(str(SH)))
COMPONENT = {
    SH.minCount: "MinCount", SH.maxCount: "MaxCount", SH["class"]: "Class",
    SH.datatype: "Datatype", SH.nodeKind: "NodeKind", SH["in"]: "In", SH.hasValue: "HasValue",
    SH.minInclusive: "MinInclusive", SH.maxInclusive: "MaxInclusive",
    SH.minExclusive: "MinExclusive", SH.maxExclusive: "MaxExclusive", SH.pattern: "Pattern",
    SH["not"]: "Not", SH["and"]: "And", SH["or"]: "Or", SH.node: "Node",
    SH.disjoint: "Disjoint", SH.sparql: "SPARQL",
}
#: the value-type components: each value node is checked on its own (one result per bad value)
VALUE_TYPE = [SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.minInclusive, SH.maxInclusive,
              SH.minExclusive, SH.maxExclusive, SH["not"], SH["and"], SH["or"], SH.node]
COMPARISON = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">",
              SH.maxExclusive: "<"}
NODE_KIND = {
    SH.IRI: "isIRI({v})", SH.BlankNode: "isBlank({v})", SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isBlank({v}) || isIRI({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
#: ``?x p* C`` (C a constant) in a query becomes this marker; :func:`resolve_closures` spells it
#: out as ``VALUES ?x { ... }`` (or, where ?x is bound by the same group, ``FILTER (?x IN (...))``)
#: with the nodes the store gives for ``?x p* C``, computed once: the same solutions, but
#: Oxigraph evaluates a path with a fixed end again for each binding, which costs much more
CLOSURE = "@@closure {kind} {var} <{p}> <{c}>@@"
CLOSURE_MARK = re.compile(r"@@closure (values|in) (\S+) <([^>]+)> <([^>]+)>@@")
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


def instance(var: str, cls, kind: str, fresh: str) -> str:
    """The pattern "``var`` is a SHACL instance of ``cls``" (rdf:type/rdfs:subClassOf*)."""
    return (f"{var} {RDF_TYPE} {fresh} . "
            + CLOSURE.format(kind=kind, var=fresh, p=RDFS.subClassOf, c=cls))
#: datatypes whose literals Oxigraph checks (and stores in canonical form); a literal of one of
#: these that Oxigraph cannot cast is ill-formed to Oxigraph, and rdflib is asked for the verdict
CASTABLE = {XSD[n] for n in ("integer", "decimal", "double", "float", "boolean", "dateTime",
                             "date", "time")}


class Unsupported(Exception):
    """The shapes use a SHACL feature this engine does not compile."""


@dataclasses.dataclass(frozen=True)
class Check:
    """One compiled query: the rows are validation results of one component of one shape."""

    shape: rdflib.term.Node
    component: str            # the sh:...ConstraintComponent IRI
    path: rdflib.term.Node | None
    query: str
    has_value: bool           # the query binds ?value
    value_is_focus: bool      # SHACL reports the focus node itself as the value
    severity: rdflib.term.Node
    message: str | None
    datatype: rdflib.term.Node | None = None   # sh:datatype checks re-judge ill-formed values
    #: several value-type components in one query: (component, datatype) for each, whose
    #: verdicts the rows carry as ?b0, ?b1, ... (true: the value fails that component)
    parts: tuple = ()


@dataclasses.dataclass(frozen=True)
class Result:
    focus: ox.NamedNode | ox.BlankNode | ox.Literal
    path: str | None
    value: ox.NamedNode | ox.BlankNode | ox.Literal | None
    component: str
    shape: str
    severity: str
    message: str | None


def term(node: rdflib.term.Node) -> str:
    """An rdflib term in SPARQL syntax."""
    if isinstance(node, rdflib.URIRef):
        return f"<{node}>"
    if isinstance(node, rdflib.Literal):
        return node.n3()
    raise Unsupported(f"a blank node ({node}) where a shape needs an IRI or a literal")


class Compiler:
    """Reads a shapes graph and makes the queries."""

    def __init__(self, shapes: rdflib.Graph):
        self.g = shapes
        self._vars = itertools.count()
        self.checks: list[Check] = []
        self.top: list[rdflib.term.Node] = []
        for shape in sorted(self._top_level_shapes(), key=str):
            if self.g.value(shape, SH.deactivated) == rdflib.Literal(True):
                continue
            self.top.append(shape)
            self.checks.extend(self._compile_top(shape))

    # -- reading the shapes graph -------------------------------------------------------------
    def _top_level_shapes(self) -> set[rdflib.term.Node]:
        targets = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
        found = {s for p in targets for s in self.g.subjects(p, None)}
        for shape in itertools.chain(self.g.subjects(RDF.type, SH.NodeShape),
                                     self.g.subjects(RDF.type, SH.PropertyShape)):
            if (shape, RDF.type, RDFS.Class) in self.g or \
                    (shape, RDF.type, rdflib.OWL.Class) in self.g:
                raise Unsupported(f"implicit class target of {shape}")
        for shape in found:
            self._check_supported(shape)
        return found

    def _check_supported(self, shape) -> None:
        for p, o in self.g.predicate_objects(shape):
            if p not in PARAMETERS:
                raise Unsupported(f"{p} (on shape {shape})")
        severity = self.g.value(shape, SH.severity)
        if severity not in (None, SH.Violation, SH.Warning, SH.Info):
            raise Unsupported(f"severity {severity}")

    def _list(self, node) -> list:
        return list(Collection(self.g, node))

    def _var(self, stem: str = "v") -> str:
        return f"?{stem}{next(self._vars)}"

    def path(self, node) -> str:
        return render_path(self.g, node)

    def _message(self, shape, constraint=None) -> str | None:
        for source in (constraint, shape):
            if source is not None:
                messages = sorted(self.g.objects(source, SH.message),
                                  key=lambda m: (getattr(m, "language", None) != "en", str(m)))
                if messages:
                    return str(messages[0])
        return None

    def _targets(self, shape, this: str) -> str:
        parts = []
        for c in self.g.objects(shape, SH.targetClass):
            parts.append("{ " + instance(this, c, "values", self._var("class")) + " }")
        nodes = list(self.g.objects(shape, SH.targetNode))
        if nodes:
            parts.append(f"{{ VALUES {this} {{ {' '.join(term(n) for n in nodes)} }} }}")
        for p in self.g.objects(shape, SH.targetSubjectsOf):
            parts.append(f"{{ {this} {term(p)} [] }}")
        for p in self.g.objects(shape, SH.targetObjectsOf):
            parts.append(f"{{ [] {term(p)} {this} }}")
        if len(parts) == 1:
            return parts[0]
        return "{ SELECT DISTINCT " + this + " WHERE { " + " UNION ".join(parts) + " } }"

    # -- the condition a single value fails ---------------------------------------------------
    def bad_value(self, p, o, v: str) -> str:
        """A SPARQL expression, true when the value node ``v`` fails constraint ``p o``."""
        if p == SH["class"]:
            return "NOT EXISTS { " + instance(v, o, "in", self._var("class")) + " }"
        if p == SH.datatype:
            if o == RDF.langString:
                return f"!(isLiteral({v}) && lang({v}) != \"\")"
            ok = f"isLiteral({v}) && lang({v}) = \"\" && sameTerm(datatype({v}), {term(o)})"
            if o in CASTABLE:
                ok += f" && COALESCE(isLiteral({term(o)}({v})), false)"
            return f"!({ok})"
        if p == SH.nodeKind:
            if o not in NODE_KIND:
                raise Unsupported(f"sh:nodeKind {o}")
            return "!" + NODE_KIND[o].format(v=v)
        if p == SH["in"]:
            members = self._list(o)
            if not members:
                return "true"
            return "!(" + " || ".join(f"sameTerm({v}, {term(m)})" for m in members) + ")"
        if p in COMPARISON:
            return f"!COALESCE({v} {COMPARISON[p]} {term(o)}, false)"
        if p == SH["not"]:
            return f"NOT EXISTS {{ {self.violation(o, v)} }}"
        if p == SH.node:
            return f"EXISTS {{ {self.violation(o, v)} }}"
        if p == SH["and"]:
            return "(" + " || ".join(f"EXISTS {{ {self.violation(s, v)} }}"
                                     for s in self._list(o)) + ")"
        if p == SH["or"]:
            return "(" + " && ".join(f"EXISTS {{ {self.violation(s, v)} }}"
                                     for s in self._list(o)) + ")"
        raise Unsupported(str(p))

    def _pattern(self, shape, v: str) -> list[str]:
        flags = self.g.value(shape, SH.flags)
        out = []
        for pattern in self.g.objects(shape, SH.pattern):
            args = f"STR({v}), {term(rdflib.Literal(str(pattern)))}"
            if flags is not None:
                args += f", {term(rdflib.Literal(str(flags)))}"
            out.append(f"(isBlank({v}) || !REGEX({args}))")
        return out

    def _value_conditions(self, shape, v: str) -> list[tuple[rdflib.term.Node, str]]:
        """(parameter, expression true when ``v`` fails it) for each value-type constraint."""
        out = []
        for p in VALUE_TYPE:
            for o in self.g.objects(shape, p):
                out.append((p, self.bad_value(p, o, v)))
        out.extend((SH.pattern, e) for e in self._pattern(shape, v))
        return out

    # -- a pattern matching when a node violates a shape (for nested shapes) ------------------
    def violation(self, shape, x: str) -> str:
        self._check_supported(shape)
        alternatives = []
        path_node = self.g.value(shape, SH.path)
        if path_node is None:
            for _, cond in self._value_conditions(shape, x):
                alternatives.append(f"FILTER ({cond})")
            for h in self.g.objects(shape, SH.hasValue):
                alternatives.append(f"FILTER (!sameTerm({x}, {term(h)}))")
            for q in self.g.objects(shape, SH.disjoint):
                alternatives.append(f"{x} {term(q)} {x}")
        else:
            path = self.path(path_node)
            v = self._var()
            conditions = [cond for _, cond in self._value_conditions(shape, v)]
            if conditions:
                alternatives.append(f"{x} {path} {v} . FILTER ({' || '.join(conditions)})")
            for n in self.g.objects(shape, SH.minCount):
                alternatives.append(self._fewer_than(x, path, int(n)))
            for n in self.g.objects(shape, SH.maxCount):
                alternatives.append(self._more_than(x, path, int(n)))
            for h in self.g.objects(shape, SH.hasValue):
                alternatives.append(f"FILTER NOT EXISTS {{ {x} {path} {term(h)} }}")
            for q in self.g.objects(shape, SH.disjoint):
                w = self._var()
                alternatives.append(f"{x} {path} {w} . {x} {term(q)} {w}")
        for nested in self.g.objects(shape, SH.property):
            alternatives.append(self.violation(nested, x))
        if any(True for _ in self.g.objects(shape, SH.sparql)):
            raise Unsupported(f"sh:sparql inside a nested shape ({shape})")
        if not alternatives:
            return "FILTER (false)"
        return " UNION ".join(f"{{ {a} }}" for a in alternatives)

    def _distinct_values(self, x: str, path: str, n: int) -> str:
        """A pattern binding ``n`` pairwise different values of ``x``'s path."""
        if n > 4:
            raise Unsupported(f"cardinality {n} (more than 3)")
        vs = [self._var() for _ in range(n)]
        triples = " . ".join(f"{x} {path} {v}" for v in vs)
        different = [f"!sameTerm({a}, {b})" for a, b in itertools.combinations(vs, 2)]
        return triples + (f" . FILTER ({' && '.join(different)})" if different else "")

    def _fewer_than(self, x: str, path: str, n: int) -> str:
        if n <= 0:
            return "FILTER (false)"
        return f"FILTER NOT EXISTS {{ {self._distinct_values(x, path, n)} }}"

    def _more_than(self, x: str, path: str, n: int) -> str:
        return f"FILTER EXISTS {{ {self._distinct_values(x, path, n + 1)} }}"

    # -- the queries of a top-level shape -----------------------------------------------------
    def _compile_top(self, shape) -> list[Check]:
        this = "?this"
        targets = self._targets(shape, this)
        severity = self.g.value(shape, SH.severity) or SH.Violation
        path_node = self.g.value(shape, SH.path)
        path = self.path(path_node) if path_node is not None else None
        checks = []

        def add(parameter, body, has_value, value_is_focus, datatype=None, message=None,
                component=None):
            select = f"SELECT DISTINCT {this}" + (" ?value" if has_value else "")
            checks.append(Check(
                shape, component or str(SH[COMPONENT[parameter] + "ConstraintComponent"]),
                path_node, f"{select} WHERE {{ {targets} {body} }}", has_value,
                value_is_focus, severity, message or self._message(shape), datatype))

        value_conditions = self._value_conditions(shape, "?value")
        values = f"BIND ({this} AS ?value)" if path is None else f"{this} {path} ?value ."
        for p, cond in value_conditions[:1] if len(value_conditions) == 1 else []:
            datatype = self.g.value(shape, SH.datatype) if p == SH.datatype else None
            add(p, f"{values} FILTER ({cond})", True, path is None, datatype)
        if len(value_conditions) > 1:
            # one pass over the value nodes for all of them, each verdict computed once
            flags = [f"?b{i}" for i in range(len(value_conditions))]
            binds = " ".join(f"BIND (({cond}) AS {f})"
                             for (_, cond), f in zip(value_conditions, flags))
            add(value_conditions[0][0],
                f"{values} {binds} FILTER ({' || '.join(flags)})", True, path is None)
            checks[-1] = dataclasses.replace(
                checks[-1], query=checks[-1].query.replace(
                    " ?value WHERE {", " ?value " + " ".join(flags) + " WHERE {", 1),
                parts=tuple((str(SH[COMPONENT[p] + "ConstraintComponent"]),
                             self.g.value(shape, SH.datatype) if p == SH.datatype else None)
                            for p, _ in value_conditions))
        if path is None:
            for h in self.g.objects(shape, SH.hasValue):
                add(SH.hasValue, f"FILTER (!sameTerm({this}, {term(h)}))", True, True)
                checks[-1] = dataclasses.replace(
                    checks[-1], query=checks[-1].query.replace(
                        "?value WHERE {", "(?this AS ?value) WHERE {", 1))
            for q in self.g.objects(shape, SH.disjoint):
                add(SH.disjoint, f"{this} {term(q)} {this} . BIND ({this} AS ?value)", True, True)
        else:
            for n in self.g.objects(shape, SH.minCount):
                add(SH.minCount, self._fewer_than(this, path, int(n)), False, False)
            for n in self.g.objects(shape, SH.maxCount):
                add(SH.maxCount, self._more_than(this, path, int(n)), False, False)
            for h in self.g.objects(shape, SH.hasValue):
                add(SH.hasValue, f"FILTER NOT EXISTS {{ {this} {path} {term(h)} }}", False, False)
            for q in self.g.objects(shape, SH.disjoint):
                add(SH.disjoint, f"{this} {path} ?value . {this} {term(q)} ?value", True, False)
        for nested in self.g.objects(shape, SH.property):
            self._check_supported(nested)
            raise Unsupported(f"sh:property {nested} on a top-level shape (results of its own)")
        for constraint in self.g.objects(shape, SH.sparql):
            checks.append(self._sparql(shape, constraint, targets, severity))
        return checks

    def _sparql(self, shape, constraint, targets: str, severity) -> Check:
        for p in self.g.predicates(constraint, None):
            if p not in (RDF.type, SH.message, SH.prefixes, SH.select, SH.deactivated,
                         SH.severity):
                raise Unsupported(f"{p} on a SPARQL constraint of {shape}")
        select = self.g.value(constraint, SH.select)
        if select is None:
            raise Unsupported(f"a SPARQL constraint of {shape} without sh:select")
        text = str(select)
        declared = {str(self.g.value(d, SH.prefix)): str(self.g.value(d, SH.namespace))
                    for src in self.g.objects(constraint, SH.prefixes)
                    for d in self.g.objects(src, SH.declare)}
        prefixes = "".join(f"PREFIX {k}: <{v}>\n" for k, v in declared.items())
        # the outer group gets the targets joined in, which binds $this as pre-binding would,
        # as long as $this is not used inside a sub-select (whose variables are its own)
        outer = re.search(r"\bWHERE\s*\{", text, re.IGNORECASE)
        head = text[:outer.start()] if outer else ""
        if (outer is None or not re.match(r"\s*SELECT\s", head, re.IGNORECASE)
                or any(re.search(r"[$?]this\b", sub) for sub in _subselects(text[outer.end():]))
                or re.search(r"\$PATH\b|[$?](currentShape|shapesGraph)\b", text)):
            raise Unsupported(f"the SPARQL constraint of {shape} (needs per-node pre-binding)")
        projected = set(re.findall(r"[$?](\w+)", head))
        if "this" not in projected:
            raise Unsupported(f"the SPARQL constraint of {shape} does not select $this")
        body = rewrite_closures(text[outer.end():], declared, self._var)
        query = (prefixes + head.replace("$this", "?this") + "WHERE { " + targets + " "
                 + body.replace("$this", "?this"))
        has_value = "value" in projected
        return Check(shape, str(SH.SPARQLConstraintComponent), None, query, has_value,
                     not has_value, severity, self._message(shape, constraint))


_TERM = r"(?:<[^<>\s]+>|[A-Za-z][\w.-]*:[\w-]*|:[\w-]*)"
_VAR = r"[?$]\w+"
#: a whole triple pattern ``?x p* C`` or ``?x a/p* C`` (C a constant): after "{" or ".", and
#: before "." or "}", so that it is not part of a predicate-object list
_CLOSURE_TRIPLE = re.compile(
    rf"(?<=[{{.])(\s*)({_VAR})\s+(?:(a|{_TERM})/)?({_TERM})\*\s+({_TERM})(?=\s*[.}}])")


def rewrite_closures(text: str, prefixes: dict[str, str], fresh) -> str:
    """``?x p* C`` and ``?x rdf:type/p* C`` triple patterns of a SPARQL query as closure
    markers (see :data:`CLOSURE`); anything else is left as written."""
    def iri(t: str) -> str | None:
        if t.startswith("<"):
            return t[1:-1]
        prefix, _, local = t.partition(":")
        return prefixes[prefix] + local if prefix in prefixes else None

    def replace(m: re.Match) -> str:
        space, var, first, path, cls = m.groups()
        p, c = iri(path), iri(cls)
        typed = first is None or first == "a" or iri(first) == str(RDF.type)
        if p is None or c is None or not typed:
            return m.group(0)
        if first is None:
            kind = "in" if _bound_beside(text, m.start(), m.end(), var) else "values"
            return space + CLOSURE.format(kind=kind, var=var, p=p, c=c)
        t = fresh("class")      # bound right here, so a filter on it is the same
        return (f"{space}{var} {RDF_TYPE} {t} . "
                + CLOSURE.format(kind="in", var=t, p=p, c=c))
    return _CLOSURE_TRIPLE.sub(replace, text)


def _bound_beside(text: str, start: int, end: int, var: str) -> bool:
    """Whether ``var`` occurs in a triple pattern of the group holding ``text[start:end]``
    outside that span (not in a nested group nor in parentheses): then a FILTER on it gives the
    same solutions as the VALUES table, and Oxigraph evaluates it faster."""
    depth, i = 0, start - 1
    while i >= 0 and not (text[i] == "{" and depth == 0):
        depth += {"}": 1, "{": -1}.get(text[i], 0)
        i -= 1
    depth, j = 0, end
    while j < len(text) and not (text[j] == "}" and depth == 0):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    if i < 0 or j >= len(text):
        return False
    outside, depth = [], 0
    for k in itertools.chain(range(i + 1, start), range(end, j)):
        ch = text[k]
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif depth == 0:
            outside.append(ch)
        if k == start - 1:
            outside.append(" ")
    return re.search(rf"(?<![\w?$]){re.escape(var)}(?!\w)", "".join(outside)) is not None


def render_path(g: rdflib.Graph, node) -> str:
    """A SHACL property path (in graph ``g``) as a SPARQL property path."""
    if isinstance(node, rdflib.URIRef):
        return f"<{node}>"
    if (node, RDF.first, None) in g:
        return "(" + "/".join(render_path(g, p) for p in Collection(g, node)) + ")"
    for p, op in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"),
                  (SH.oneOrMorePath, "{}+"), (SH.zeroOrOnePath, "{}?")):
        inner = g.value(node, p)
        if inner is not None:
            return "(" + op.format(render_path(g, inner)) + ")"
    alternatives = g.value(node, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(render_path(g, p) for p in Collection(g, alternatives)) + ")"
    raise Unsupported(f"the property path {node}")


def _subselects(body: str) -> Iterable[str]:
    """The text of each nested ``{ SELECT ... }`` (up to its matching brace)."""
    for m in re.finditer(r"\{\s*SELECT\b", body, re.IGNORECASE):
        depth, i = 0, m.start()
        for i in range(m.start(), len(body)):
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            if depth == 0:
                break
        yield body[m.start():i + 1]


# -- running ----------------------------------------------------------------------------------
#: datatypes Oxigraph stores as values, so that it may write them back in another form; for two
#: of them a literal already in canonical form is recognised cheaply
NATIVE = {str(XSD[n]) for n in (
    "boolean", "float", "double", "decimal", "integer", "dateTime", "time", "date",
    "gYearMonth", "gYear", "gMonthDay", "gDay", "gMonth", "duration", "yearMonthDuration",
    "dayTimeDuration", "dateTimeStamp", "byte", "short", "int", "long", "unsignedByte",
    "unsignedShort", "unsignedInt", "unsignedLong", "positiveInteger", "negativeInteger",
    "nonPositiveInteger", "nonNegativeInteger")}
CANONICAL = {
    str(XSD.integer): re.compile(r"-?(0|[1-9][0-9]*)"),
    str(XSD.decimal): re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?"),
}


class Collapsed(Unsupported):
    """Two literals of one subject and predicate that Oxigraph stores as one (5 and 05)."""


@dataclasses.dataclass
class Rewritten:
    """Literals Oxigraph stores in another form than the sources wrote: (subject, stored form)
    → the written forms, and stored form → written forms (for values found elsewhere)."""

    by_subject: dict = dataclasses.field(default_factory=dict)
    by_value: dict = dataclasses.field(default_factory=dict)

    def originals(self, focus, value) -> list:
        if not isinstance(value, ox.Literal) or not self.by_value:
            return [value]
        forms = self.by_subject.get((focus, value))
        if forms is None:
            forms = self.by_value.get(value)
            if forms is None or len(forms) != 1:
                return [value]
        return sorted(forms, key=str)


#: the object of an N-Triples line (as pyoxigraph writes them): a literal of a datatype that
#: Oxigraph stores as a value, unless its lexical form is already canonical (integer, decimal)
_SUSPECT = re.compile(
    rb'"(?!-?(?:0|[1-9][0-9]*)"\^\^<http://www\.w3\.org/2001/XMLSchema#integer>)'
    rb'(?!-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?"\^\^<http://www\.w3\.org/2001/XMLSchema#decimal>)'
    rb'[^"\\\n]*(?:\\.[^"\\\n]*)*"\^\^<http://www\.w3\.org/2001/XMLSchema#(?:'
    + "|".join(sorted(n.rsplit("#", 1)[1] for n in NATIVE)).encode() + rb')> \.$',
    re.MULTILINE)


def _suspect_lines(text: bytes) -> bytes:
    lines = []
    for m in _SUSPECT.finditer(text):
        lines.append(text[text.rfind(b"\n", 0, m.start()) + 1:m.end()])
    return b"\n".join(lines)


def load_store(*graphs: Iterable[ox.Triple]) -> tuple[ox.Store, Rewritten]:
    """An in-memory store holding the triples, and what Oxigraph rewrote on the way in.
    Raises :class:`Collapsed` when two written literals became one stored triple.

    The triples go in as N-Triples written by pyoxigraph (faster than making a Quad of each in
    Python); the same text is searched for literals that Oxigraph may store in another form."""
    text = ox.serialize(itertools.chain(*graphs), format=ox.RdfFormat.N_TRIPLES)
    store = ox.Store()
    blank, rest = split_blank_lines(text)
    if blank:
        # Store.load renames blank nodes; the results must name them as the sources do
        store.bulk_extend(q for q in ox.parse(blank, format=ox.RdfFormat.N_TRIPLES))
    store.load(rest, format=ox.RdfFormat.N_TRIPLES, lenient=True)
    rewritten = Rewritten()
    lines = _suspect_lines(text)
    if not lines:
        return store, rewritten
    suspects = [q.triple for q in ox.parse(lines, format=ox.RdfFormat.N_TRIPLES)]
    scratch = ox.Store()
    scratch.bulk_extend(ox.Quad(ox.NamedNode(f"urn:x:{i}"), t.predicate, t.object)
                        for i, t in enumerate(suspects))
    stored = {int(q.subject.value[6:]): q.object for q in scratch}
    written: dict = {}
    for i, t in enumerate(suspects):
        if stored[i] != t.object:
            written.setdefault((t.subject, t.predicate, stored[i]), set()).add(t.object)
    if written:     # which of them were also written in canonical form (not a suspect line)
        subjects = {s for s, _, _ in written}
        for triples in graphs:
            for t in triples:
                if t.subject in subjects:
                    forms = written.get((t.subject, t.predicate, t.object))
                    if forms is not None:
                        forms.add(t.object)
    for (s, p, value), forms in written.items():
        if len(forms) > 1:
            raise Collapsed(f"{s} {p}: {sorted(map(str, forms))} are one value to Oxigraph")
        rewritten.by_subject.setdefault((s, value), set()).update(forms)
        rewritten.by_value.setdefault(value, set()).update(forms)
    return store, rewritten


def resolve_closures(queries: list[str], store: ox.Store) -> list[str]:
    """The queries with each closure marker spelt out from the store."""
    wanted = sorted({(m.group(3), m.group(4)) for q in queries
                     for m in CLOSURE_MARK.finditer(q)})
    nodes: dict[tuple[str, str], list[str]] = {}
    for p, c in wanted:
        nodes[(p, c)] = sorted({str(row["x"]) for row in store.query(
            f"SELECT ?x WHERE {{ ?x <{p}>* <{c}> }}")})

    def spell(m: re.Match) -> str:
        kind, var, found = m.group(1), m.group(2), nodes[(m.group(3), m.group(4))]
        if kind == "in":
            return f"FILTER ({var} IN ({', '.join(found)}))"
        return f"VALUES {var} {{ {' '.join(found)} }}"
    return [CLOSURE_MARK.sub(spell, q) for q in queries]


#: from this many triples on, the queries are shared with one forked child process
PARALLEL_MIN = 200_000


def run(compiler: Compiler, store: ox.Store, rewritten: Rewritten,
        workers: int = 1) -> list[Result]:
    """Every validation result. With ``workers`` 2 the queries are shared between this process
    and a forked copy of it (the store's memory is shared copy-on-write), which halves the
    time of this step on two free cores."""
    queries = resolve_closures([c.query for c in compiler.checks], store)
    jobs = list(zip(compiler.checks, queries))
    rows = _rows_parallel(store, jobs) if workers > 1 else None
    if rows is None:
        rows = [_rows(store, check, query) for check, query in jobs]
    results: list[Result] = []
    paths = {}
    for (check, _), found in zip(jobs, rows):
        if check.path is not None and check.path not in paths:
            paths[check.path] = compiler.path(check.path)
        parts = check.parts or ((check.component, check.datatype),)
        for focus, value, flags in found:
            if not check.has_value:
                value = focus if check.value_is_focus else None
            for i, (component, datatype) in enumerate(parts):
                if check.parts and not flags[i]:
                    continue
                if datatype is not None and not _ill_typed(value, datatype):
                    continue
                for original in rewritten.originals(focus, value):
                    results.append(Result(
                        focus, paths.get(check.path), original, component, str(check.shape),
                        str(check.severity), check.message))
    return results


def _rows(store: ox.Store, check: Check, query: str) -> list[tuple]:
    """(focus, value, verdicts) for each solution of one check's query."""
    n = len(check.parts)
    return [(row["this"], row["value"] if check.has_value else None,
             tuple(row[f"b{i}"].value == "true" for i in range(n)))
            for row in store.query(query)]


def _rows_parallel(store: ox.Store, jobs: list) -> list | None:
    """The rows of every job, about half of them computed by a forked child; None when a child
    cannot be used here (no fork, or other threads running, which a fork would not copy)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    weight = [10 if check.component == str(SH.SPARQLConstraintComponent) else 1
              for check, _ in jobs]
    mine, theirs, load = [], [], [0, 0]
    for i in sorted(range(len(jobs)), key=lambda i: -weight[i]):
        side = 0 if load[0] <= load[1] else 1
        (mine if side == 0 else theirs).append(i)
        load[side] += weight[i]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:        # the child: its share of the queries, pickled into the pipe
        code = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump([_rows(store, *jobs[i]) for i in theirs], out,
                            protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    rows: list = [None] * len(jobs)
    try:
        for i in mine:
            rows[i] = _rows(store, *jobs[i])
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if status == 0 and data:
        for i, found in zip(theirs, pickle.loads(data)):
            rows[i] = found
    for i in theirs:        # a child that failed: its share here
        if rows[i] is None:
            rows[i] = _rows(store, *jobs[i])
    return rows


def _ill_typed(value, datatype) -> bool:
    """pyshacl's verdict on a value Oxigraph found not to be a well-formed ``datatype`` literal
    (rdflib's check differs at the margins: it accepts " 5" as an xsd:integer)."""
    if not isinstance(value, ox.Literal) or value.language \
            or value.datatype.value != str(datatype):
        return True
    if datatype not in CASTABLE:
        return False        # the query calls only castable types ill-formed
    return bool(rdflib.Literal(value.value, datatype=rdflib.URIRef(value.datatype.value)).ill_typed)
