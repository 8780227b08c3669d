"""Compacted JSON-LD (JSON-LD 1.1 API, §6 "Compaction Algorithms") from RDF triples, with the
project's context (:func:`context_of`, written as ``context.jsonld`` by the downloads step).

The dumps and the resource documents use it: classes become ``"@type": "ArmsDeal"``, properties
short keys (``"supplier": "tdi:turkiye"``, ``"year": "2023"``, ``"label": "…"``), and the context
is linked by its URL (:data:`CONTEXT_URL`), not copied into every document.

Why not pyld's ``compact()``: it needs about 8 s for the four dumps of the bundled data (4.7 s
for the 8,500 triples of the complete one: its CURIE search walks the whole context for every
IRI), and the build's budget for compaction is 0.2 s. This module implements the part of the
algorithm the project's context needs — simple and expanded term definitions with ``@id``,
``@type`` (a datatype or ``@id``), ``@language`` and ``@container: @language`` — and refuses a
context that uses anything else. The tests compare its output with pyld's on the per-graph dumps,
a resource document and a fixture of corner cases: the two agree value for value.

RDF to JSON-LD follows the API's "Serialize RDF as JSON-LD" (§8.4) without native types:
``rdf:type`` with an IRI or blank node object becomes ``@type``; ``xsd:string`` literals lose their
datatype; other literals keep theirs; lexical forms stay strings.
"""
from __future__ import annotations

import heapq
import io
import itertools
import json
import operator
import re
from collections.abc import Iterable, Iterator
from typing import IO

import pyoxigraph as ox

from . import namespaces as ns

#: where the context is published (the server answers it at /context.jsonld)
CONTEXT_URL = ns.BASE + "context.jsonld"
#: the HTTP Link header that names the context (JSON-LD 1.1 §6.1), for JSON-LD answers
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = XSD + "string"
#: characters a simple term's IRI must end with to serve as a prefix (JSON-LD 1.1, §4.2.2)
GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
#: term definition keys this compactor understands
KNOWN_KEYS = {"@id", "@type", "@language", "@container"}


#: annotation terms of the context; the data's labels are English, alternative labels also Turkish
LANGUAGE_TERMS = {
    "label": {"@id": "rdfs:label", "@language": "en"},
    "comment": {"@id": "rdfs:comment", "@language": "en"},
    "prefLabel": {"@id": "skos:prefLabel", "@language": "en"},
    "definition": {"@id": "skos:definition", "@language": "en"},
    "altLabel": {"@id": "skos:altLabel", "@container": "@language"},
}


class UnsupportedContext(ValueError):
    """The context uses a JSON-LD feature this compactor does not implement."""


# --- the project's context ---------------------------------------------------------------------

CONTEXT_QUERY = f"""SELECT ?term ?kind ?range WHERE {{
  GRAPH <{ns.GRAPH_ONTOLOGY}> {{
    ?term <{RDF_TYPE}> ?kind .
    FILTER (isIRI(?term) && STRSTARTS(STR(?term), "{ns.TDKG}"))
    OPTIONAL {{ ?term <{RDFS}range> ?range }}
  }}
}}"""


def context_of(store: ox.Store) -> dict:
    """The context document made from the store's ontology graph: every term of the ontology's
    namespace by its local name; object properties take IRIs (``"@type": "@id"``), datatype
    properties their declared XSD range, classes and individuals stand for their IRI; labels
    and definitions are English."""
    kinds: dict[str, set[str]] = {}
    ranges: dict[str, set[str]] = {}
    for row in store.query(CONTEXT_QUERY):
        term = row["term"].value
        kinds.setdefault(term, set()).add(row["kind"].value)
        if row["range"] is not None and isinstance(row["range"], ox.NamedNode):
            ranges.setdefault(term, set()).add(row["range"].value)
    context: dict[str, object] = dict(ns.PREFIXES)
    for term in sorted(kinds):
        local = term.removeprefix(ns.TDKG)
        if not local or local in context or local in LANGUAGE_TERMS or local.startswith("@"):
            continue
        compact = "tdkg:" + local
        if OWL + "ObjectProperty" in kinds[term]:
            context[local] = {"@id": compact, "@type": "@id"}
        elif OWL + "DatatypeProperty" in kinds[term]:
            xsd = sorted(r for r in ranges.get(term, ()) if r.startswith(XSD))
            context[local] = ({"@id": compact, "@type": "xsd:" + xsd[0].removeprefix(XSD)}
                              if len(xsd) == 1 else {"@id": compact})
        else:
            context[local] = compact
    context.update(LANGUAGE_TERMS)
    return {"@context": context}


# --- RDF to JSON-LD -----------------------------------------------------------------------------

def node_objects(triples: Iterable[ox.Triple], first: str | None = None) -> list[dict]:
    """The triples as expanded JSON-LD node objects, one per subject, ordered by subject
    (``first``, then IRIs, then blank nodes); values keep the order the triples come in."""
    nodes: dict[str, dict] = {}
    for triple in triples:
        subject = _id(triple.subject)
        node = nodes.get(subject)
        if node is None:
            node = nodes[subject] = {"@id": subject}
        obj = triple.object
        predicate = triple.predicate.value
        if predicate == RDF_TYPE and not isinstance(obj, ox.Literal):
            node.setdefault("@type", []).append(_id(obj))
        else:
            node.setdefault(predicate, []).append(_value(obj))
    order = sorted(nodes, key=lambda s: (s != first, s.startswith("_:"), s))
    return [nodes[s] for s in order]


def _id(term) -> str:
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    raise ValueError(f"JSON-LD 1.1 has no syntax for the RDF-star term {term}")


def _value(term) -> dict:
    if not isinstance(term, ox.Literal):
        return {"@id": _id(term)}
    return _literal_value(term.value, term.language, term.datatype.value)


def _literal_value(lexical: str, language: str | None, datatype: str) -> dict:
    if language:           # JSON-LD processors lower-case language tags (API §5.1.2)
        return {"@value": lexical, "@language": language.lower()}
    if datatype == XSD_STRING:
        return {"@value": lexical}
    return {"@value": lexical, "@type": datatype}


def _row(triple: ox.Triple) -> tuple:
    """A triple as a row of :meth:`Compactor.rows`."""
    obj = triple.object
    if type(obj) is ox.Literal:
        return (_id(triple.subject), triple.predicate.value, None,
                (obj.value, obj.language, obj.datatype.value))
    return _id(triple.subject), triple.predicate.value, _id(obj), None


_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ESCAPED = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'",
            "\\": "\\"}


def _unescape(match: re.Match) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _ESCAPED[match.group(3)]


def ntriples_rows(lines: Iterable[str]) -> Iterator[tuple]:
    """Rows of :meth:`Compactor.rows` from the lines of N-Triples as Oxigraph writes them
    (``<s> <p> <o> .``, one space apart, no comments): parsing the text here is several times
    faster than making a pyoxigraph term of every subject, predicate and object, which was
    most of the time of compacting a million triples. IRIs and blank node names hold no space
    or escape in N-Triples; a literal's lexical form has its escapes undone."""
    for line in lines:
        subject, predicate, obj = line.split(" ", 2)
        if subject[0] == "<":
            subject = subject[1:-1]
        elif subject[0] != "_":
            raise ValueError(f"not a subject of N-Triples as Oxigraph writes it: {line!r}")
        obj = obj.rstrip()[:-2]                         # " ." and the line's end
        first = obj[0]
        if obj.startswith("<<"):
            raise ValueError(f"JSON-LD 1.1 has no syntax for the RDF-star term {obj}")
        if first == "<":
            yield subject, predicate[1:-1], obj[1:-1], None
        elif first == "_":
            yield subject, predicate[1:-1], obj, None
        else:
            end = obj.rindex('"')                       # nothing after it holds a quote
            lexical, tail = obj[1:end], obj[end + 1:]
            if "\\" in lexical:
                lexical = _ESCAPE.sub(_unescape, lexical)
            if not tail:
                literal = (lexical, None, XSD_STRING)
            elif tail[0] == "@":
                literal = (lexical, tail[1:], RDF_LANG_STRING)
            else:
                literal = (lexical, None, tail[3:-1])  # ^^<datatype>
            yield subject, predicate[1:-1], None, literal


class Compactor:
    """Compaction of expanded node objects with one context (the dict under ``@context``)."""

    def __init__(self, context: dict):
        self.terms: dict[str, dict] = {}
        self.prefixes: list[tuple[str, str]] = []
        for term, definition in context.items():
            self.terms[term] = self._define(term, definition, context)
        self.inverse = self._inverse()
        self._iris: dict[tuple[str, bool], str] = {}
        self._keys: dict[tuple, str] = {}

    # --- the active context ------------------------------------------------------------------

    def _define(self, term: str, definition, context: dict) -> dict:
        if isinstance(definition, str):
            iri = _expand(definition, context)
            if iri.endswith(GEN_DELIMS):
                self.prefixes.append((term, iri))
            return {"@id": iri}
        if not isinstance(definition, dict) or not set(definition) <= KNOWN_KEYS \
                or "@id" not in definition:
            raise UnsupportedContext(f"term {term!r}: {definition!r}")
        mapping = {"@id": _expand(definition["@id"], context)}
        if "@type" in definition:
            kind = definition["@type"]
            if kind in ("@vocab", "@none", "@json") or (kind.startswith("@") and kind != "@id"):
                raise UnsupportedContext(f"term {term!r}: @type {kind}")
            mapping["@type"] = kind if kind == "@id" else _expand(kind, context)
        if "@language" in definition:
            mapping["@language"] = definition["@language"]
        if "@container" in definition:
            if definition["@container"] != "@language":
                raise UnsupportedContext(f"term {term!r}: @container {definition['@container']}")
            mapping["@container"] = "@language"
        return mapping

    def _inverse(self) -> dict:
        """IRI → container → {"@type": {…: term}, "@language": {…: term}}: the inverse context
        (§4.3), built from the shortest, then lexicographically least, term up."""
        inverse: dict[str, dict] = {}
        for term in sorted(self.terms, key=lambda t: (len(t), t)):
            mapping = self.terms[term]
            entry = inverse.setdefault(mapping["@id"], {}).setdefault(
                mapping.get("@container", "@none"), {"@type": {}, "@language": {}})
            if "@type" in mapping:
                entry["@type"].setdefault(mapping["@type"], term)
            elif "@language" in mapping:
                entry["@language"].setdefault(mapping["@language"] or "@null", term)
            else:
                entry["@language"].setdefault("@none", term)
                entry["@type"].setdefault("@none", term)
        return inverse

    # --- IRI compaction (§6.2) ----------------------------------------------------------------

    def iri(self, iri: str, vocab: bool) -> str:
        """A term (``vocab`` only), else the shortest compact IRI, else the IRI itself."""
        key = (iri, vocab)
        found = self._iris.get(key)
        if found is None:
            found = self._iris[key] = self._compact_iri(iri, vocab)
        return found

    def _compact_iri(self, iri: str, vocab: bool) -> str:
        if vocab:
            term = self._select(iri, ("@none",), "@type", ("@id", "@none"))
            if term is not None:
                return term
        return self._compact_iri_without_term(iri)

    def _compact_iri_without_term(self, iri: str) -> str:
        candidates = [f"{prefix}:{iri[len(base):]}" for prefix, base in self.prefixes
                      if iri.startswith(base) and iri != base]
        candidates = [c for c in candidates if c not in self.terms]
        if candidates:
            return min(candidates, key=lambda c: (len(c), c))
        if any(iri.startswith(prefix + ":") for prefix, _ in self.prefixes):
            raise ValueError(f"the IRI {iri} would read as a compact IRI")
        return iri

    def _select(self, iri: str, containers: tuple[str, ...], kind: str,
                preferred: tuple[str, ...]) -> str | None:
        """Term selection (§6.2.2) among the terms for ``iri``."""
        by_container = self.inverse.get(iri)
        if by_container is None:
            return None
        for container in containers:
            entry = by_container.get(container)
            if entry is None:
                continue
            for value in preferred:
                if value in entry[kind]:
                    return entry[kind][value]
        return None

    def key(self, predicate: str, value: dict) -> str:
        """The key for one value of ``predicate``: the term that fits the value best."""
        if "@id" in value:
            shape: tuple = ("@id",)
        elif "@language" in value:
            shape = ("@language", value["@language"])
        elif "@type" in value:
            shape = ("@type", value["@type"])
        else:
            shape = ("@value",)
        cache_key = (predicate, shape)
        found = self._keys.get(cache_key)
        if found is None:
            found = self._keys[cache_key] = self._key(predicate, shape)
        return found

    def _key(self, predicate: str, shape: tuple) -> str:
        if shape[0] == "@id":
            term = self._select(predicate, ("@none",), "@type", ("@id", "@none"))
        elif shape[0] == "@language":
            term = self._select(predicate, ("@language", "@none"), "@language",
                                (shape[1], "@none"))
        elif shape[0] == "@type":
            term = self._select(predicate, ("@none",), "@type", (shape[1], "@none"))
        else:
            term = self._select(predicate, ("@none", "@language"), "@language",
                                ("@null", "@none"))
        # no term fits this value: a compact IRI, even where a term fits other values
        return term if term is not None else self._compact_iri_without_term(predicate)

    # --- node and value compaction (§6.1) -----------------------------------------------------

    def nodes(self, triples: Iterable[ox.Triple], first: str | None = None) -> list[dict]:
        """The triples as compacted node objects: what compacting :func:`node_objects` gives,
        made in one pass. Keys come in the order ``@id``, ``@type``, then alphabetical."""
        return self.rows(map(_row, triples), first)

    def rows(self, rows: Iterable[tuple], first: str | None = None) -> list[dict]:
        """The same from rows ``(subject, predicate, node, literal)`` (:func:`_row`,
        :func:`ntriples_rows`): subject and node are IRIs or ``_:`` blank node names, the
        predicate an IRI, and a literal object is ``(lexical form, language or None,
        datatype IRI)`` with node None.

        How a value is written depends only on its predicate and, for a literal, its language
        or datatype, for a node on the node: that rule is worked out once and reused."""
        nodes: dict = {}
        self._collect(rows, nodes)
        return [node for _, node in self._ordered(nodes, first)]

    def _collect(self, rows: Iterable[tuple], nodes: dict) -> None:
        """Each row's value added to its subject's node in ``nodes`` (not yet finished)."""
        rules: dict = {}
        for subject, predicate, obj, literal in rows:
            node = nodes.get(subject)
            if node is None:
                node = nodes[subject] = {"@id": subject, "@type": []}
            if obj is None:
                lexical, language, datatype = literal
                signature = (predicate, language, None if language else datatype)
                rule = rules.get(signature)
                if rule is None:
                    rule = rules[signature] = self._literal_rule(predicate, literal)
                key, form = rule
                if form is None:
                    _add(node, key, lexical)
                elif type(form) is str:     # a language map: form is the map's key
                    _add(node.setdefault(key, {}), form, lexical)
                else:
                    _add(node, key, {**form, "@value": lexical})
                continue
            signature = (predicate, obj)
            rule = rules.get(signature)
            if rule is None:
                rule = rules[signature] = self._node_rule(predicate, obj)
            key, iri, as_object = rule
            if key == "@type":
                node["@type"].append(iri)
            else:
                _add(node, key, {"@id": iri} if as_object else iri)

    def keyed_rows(self, rows: Iterable[tuple]) -> list[tuple[tuple, dict]]:
        """:meth:`rows` with each node's place in the order (its sort key), for
        :meth:`merged`."""
        nodes: dict = {}
        self._collect(rows, nodes)
        return self._ordered(nodes, None)

    def _ordered(self, nodes: dict, first: str | None) -> list[tuple[tuple, dict]]:
        order = sorted(((n["@id"] != first, n["@id"].startswith("_:"), n["@id"]), n)
                       for n in nodes.values())
        return [(key, self._finish(node)) for key, node in order]

    def merged(self, documents: list[list[tuple[tuple, dict]]]) -> Iterator[dict]:
        """The nodes of the union of graphs that share no triple, from each graph's
        :meth:`keyed_rows` in the order the graphs' triples would be read: what compacting
        all their triples at once gives, node for node, without compacting them again."""
        merged = heapq.merge(*documents, key=operator.itemgetter(0))    # stable: graph order
        for _, group in itertools.groupby(merged, key=operator.itemgetter(0)):
            node = next(group)[1]
            for _, other in group:
                node = self._merge(node, other)
            yield node

    def _merge(self, a: dict, b: dict) -> dict:
        """One subject's finished nodes of two graphs (``a``'s triples read first) as one."""
        out = {"@id": a["@id"]}
        types = _values(a.get("@type")) + _values(b.get("@type"))
        if types:
            out["@type"] = types[0] if len(types) == 1 else types
        for key in sorted((a.keys() | b.keys()) - {"@id", "@type"}):
            if key not in a or key not in b:
                out[key] = a[key] if key in a else b[key]
            elif self.terms.get(key, _NO_TERM).get("@container") == "@language":
                languages = dict(a[key])
                for language, value in b[key].items():
                    languages[language] = _joined(languages[language], value) \
                        if language in languages else value
                out[key] = languages
            else:
                out[key] = _joined(a[key], b[key])
        return out

    def _literal_rule(self, predicate: str, literal: tuple) -> tuple:
        """(key, form): form None writes the lexical form alone, a string puts it in that
        entry of a language map, a dict is the value object without its ``@value``."""
        value = _literal_value(*literal)
        key = self.key(predicate, value)
        mapping = self.terms.get(key, _NO_TERM)
        if mapping.get("@container") == "@language":
            return key, value.get("@language") or "@none"
        compacted = self.value(mapping, value)
        if not isinstance(compacted, dict):
            return key, None
        return key, {k: v for k, v in compacted.items() if k != "@value"}

    def _node_rule(self, predicate: str, obj: str) -> tuple:
        """(key, compacted IRI, whether it is written as ``{"@id": …}``)."""
        if predicate == RDF_TYPE:
            return "@type", self.iri(obj, vocab=True), False
        value = {"@id": obj}
        key = self.key(predicate, value)
        compacted = self.value(self.terms.get(key, _NO_TERM), value)
        if isinstance(compacted, dict):
            return key, compacted["@id"], True
        return key, compacted, False

    def _finish(self, node: dict) -> dict:
        out = {"@id": self.iri(node.pop("@id"), vocab=False)}
        types = node.pop("@type")
        if types:
            out["@type"] = types[0] if len(types) == 1 else types
        for key in sorted(node):
            out[key] = node[key]
        return out

    def value(self, mapping: dict, value: dict):
        """A value as the term ``mapping`` (empty: no term) lets it be written."""
        kind = mapping.get("@type")
        if "@id" in value:
            iri = self.iri(value["@id"], vocab=False)
            return iri if kind == "@id" else {"@id": iri}
        if "@type" in value and value["@type"] == kind:
            return value["@value"]
        if "@language" in value and value["@language"] == mapping.get("@language"):
            return value["@value"]
        if len(value) == 1:
            return value["@value"]
        if "@type" in value:
            return {"@type": self.iri(value["@type"], vocab=True), "@value": value["@value"]}
        return {"@language": value["@language"], "@value": value["@value"]}


_NO_TERM: dict = {}


def _add(target: dict, key: str, value) -> None:
    if key not in target:
        target[key] = value
    elif isinstance(target[key], list):
        target[key].append(value)
    else:
        target[key] = [target[key], value]


def _values(value) -> list:
    """A compacted entry's values as a list (one value stands alone, several are a list)."""
    return [] if value is None else value if isinstance(value, list) else [value]


def _joined(a, b) -> list:
    """Two entries' values, ``a``'s first: always several, so a list."""
    return _values(a) + _values(b)


def _expand(value: str, context: dict) -> str:
    """A compact IRI of the context (``xsd:string``) as the IRI it stands for."""
    prefix, colon, rest = value.partition(":")
    if colon and not rest.startswith("//") and isinstance(context.get(prefix), str):
        return context[prefix] + rest
    return value


def compact(triples: Iterable[ox.Triple], context: dict, first: str | None = None,
            context_url: str = CONTEXT_URL) -> dict:
    """The triples as one compacted document: ``{"@context": context_url, "@graph": [...]}``,
    nodes ordered by subject (``first`` first). ``context`` is the context document's
    ``@context`` dict, which ``context_url`` serves."""
    return {"@context": context_url, "@graph": Compactor(context).nodes(triples, first)}


def compact_ntriples(lines: Iterable[str], context: dict,
                     context_url: str = CONTEXT_URL) -> dict:
    """:func:`compact` of the triples of N-Triples text as Oxigraph writes it (the dumps are
    made from such files), read line by line (:func:`ntriples_rows`)."""
    return {"@context": context_url, "@graph": Compactor(context).rows(ntriples_rows(lines))}


def dump(document: dict, stream: IO[str]) -> None:
    """Write a compacted document as UTF-8 JSON, one node per line, so that the dumps stay
    readable and line-diffable without being indented throughout."""
    dump_nodes(document["@context"], document["@graph"], stream)


def dump_nodes(context_url: str, nodes: Iterable[dict], stream: IO[str]) -> None:
    """:func:`dump` of the document ``{"@context": context_url, "@graph": nodes}``, the nodes
    written as they come (from :meth:`Compactor.merged`, say)."""
    stream.write('{"@context": ' + json.dumps(context_url) + ',\n "@graph": [\n')
    separator = "  "
    for node in nodes:
        stream.write(separator + json.dumps(node, ensure_ascii=False))
        separator = ",\n  "
    stream.write("]}\n" if separator == "  " else "\n]}\n")


def relink(body: bytes, context_url: str) -> bytes:
    """A document :func:`dump` wrote, with its context named by ``context_url`` instead of the
    canonical URL: the server names its own ``/context.jsonld``, so that a client reading from
    any deployment (or from 127.0.0.1) resolves the context where it got the document."""
    head = b'{"@context": ' + json.dumps(CONTEXT_URL).encode()
    if not body.startswith(head):
        return body
    return b'{"@context": ' + json.dumps(context_url).encode() + body[len(head):]


def context_link(context_url: str = CONTEXT_URL) -> str:
    """The ``Link`` header value naming ``context_url`` as a document's context."""
    return f'<{context_url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def dumps(document: dict) -> bytes:
    stream = io.StringIO()
    dump(document, stream)
    return stream.getvalue().encode("utf-8")
