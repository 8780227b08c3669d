"""Serializers for query answers, with a cap on the number of rows or triples.

Implements SPARQL 1.1 Query Results JSON, XML, CSV and TSV for solutions (written here because
the cap must stop the iteration part-way, which pyoxigraph's own serializer cannot), and delegates
booleans and RDF graphs to pyoxigraph's serializers. The writers build text, not objects, and
write each distinct term of an answer once (answers repeat terms row after row); the JSON writer
takes about 1.2 times as long as pyoxigraph's own serializer, where building dicts for
``json.dumps`` took 2.5 times as long (measured in process on the 8,452 rows of the seed
store's default graph).

An answer from the embedded store in JSON, the endpoint's default, is written by pyoxigraph's
own serializer first (:func:`native_json`), into a buffer that holds at most
``NATIVE_JSON_BUDGET`` bytes; its rows are then counted, and cut at the cap, without a Python
object per term. Only an answer that outgrows the buffer is evaluated again and written here.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable

import pyoxigraph as ox

from tdkg.namespaces import PREFIXES
from tdkg.stores.results_json import RESULTS_SHAPE

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RESULTS_FORMAT = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
                  "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}
RDF_FORMAT = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
              "jsonld": ox.RdfFormat.JSON_LD, "rdfxml": ox.RdfFormat.RDF_XML}


def take(items: Iterable, cap: int) -> tuple[list, bool]:
    """At most ``cap`` items, and whether there were more."""
    head = list(itertools.islice(items, cap + 1))
    return head[:cap], len(head) > cap


def solutions(answer: ox.QuerySolutions, fmt: str, cap: int) -> tuple[bytes, int, bool]:
    names = [v.value for v in answer.variables]
    rows, truncated = take(answer, cap)
    body = WRITERS[fmt](names, rows, truncated)
    return body.encode("utf-8"), len(rows), truncated


#: bytes of SPARQL JSON that pyoxigraph's serializer may write before :func:`native_json` gives
#: up (8 MiB: 10,000 rows of about 800 bytes; the benchmark aggregate's 706 rows take 118 KB)
NATIVE_JSON_BUDGET = 8 * 1024 * 1024


class _Overflow(Exception):
    """The answer outgrew the buffer it was written to."""


class _Bounded:
    """A binary output for pyoxigraph's serializers that holds at most ``budget`` bytes."""

    def __init__(self, budget: int):
        self.parts: list[bytes] = []
        self.size, self.budget = 0, budget

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.budget:
            raise _Overflow
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def native_json(answer: ox.QuerySolutions, cap: int,
                budget: int | None = None) -> tuple[bytes, int, bool] | None:
    """SPARQL 1.1 Query Results JSON written by pyoxigraph's own serializer, as
    :func:`solutions` returns it: (body, rows, truncated). Rows past ``cap`` are cut from the
    text, and the answer then says it was truncated, as :func:`write_json`'s does. ``None`` when
    the answer outgrew ``budget`` bytes (default ``NATIVE_JSON_BUDGET``): ``answer`` is then
    partly read, and the query must be evaluated again for :func:`solutions` to write it.

    For the 706 rows of the benchmark's aggregate, 1 to 2 ms less than :func:`solutions` (in
    process, 100k store), most of it the Python object made for every term."""
    names = [v.value for v in answer.variables]
    out = _Bounded(NATIVE_JSON_BUDGET if budget is None else budget)
    try:
        answer.serialize(out, format=ox.QueryResultsFormat.JSON)
    except _Overflow:
        return None
    body = b"".join(out.parts)
    rows = RESULTS_SHAPE.decode(body).results.bindings
    if len(rows) <= cap:
        return body, len(rows), False
    head, tail = _json_envelope(names, True)
    return head.encode() + b",".join(bytes(row) for row in rows[:cap]) + tail.encode(), cap, True


def _cached(write: Callable[[object], str]) -> Callable[[object], str]:
    """``write`` with a memo per answer: an answer repeats its terms (predicates, classes,
    subjects across rows), and each is written once; ``None`` (unbound) is never looked up."""
    memo: dict = {}

    def cached(term):
        text = memo.get(term)
        if text is None:
            text = memo[term] = write(term)
        return text
    return cached


def boolean(answer: ox.QueryBoolean, fmt: str) -> bytes:
    return answer.serialize(format=RESULTS_FORMAT[fmt])


def graph(triples: Iterable[ox.Triple], fmt: str, cap: int) -> tuple[bytes, int, bool]:
    head, truncated = take(triples, cap)
    prefixes = PREFIXES if fmt in ("turtle", "rdfxml") else None
    return ox.serialize(head, format=RDF_FORMAT[fmt], prefixes=prefixes), len(head), truncated


def _json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {k: _json_term(getattr(term, k))
                                            for k in ("subject", "predicate", "object")}}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != XSD_STRING:
        out["datatype"] = term.datatype.value
    return out


def escape(text: str) -> str:
    """XML character data (as xml.sax.saxutils.escape, whose import pulls in urllib and email:
    several MB in every query worker)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    """A double-quoted XML attribute value."""
    return '"' + escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace(
        "\r", "&#13;").replace("\t", "&#9;") + '"'


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


#: a JSON string literal for a str (the C function behind json.dumps(ensure_ascii=False), called
#: directly: the encoder object's own call costs more than the escaping of a short string)
_string = json.encoder.encode_basestring


def _json_text(term) -> str:
    if isinstance(term, ox.NamedNode):
        return '{"type":"uri","value":' + _string(term.value) + "}"
    if isinstance(term, ox.Literal):
        value = '{"type":"literal","value":' + _string(term.value)
        if term.language:
            return value + ',"xml:lang":' + _string(term.language) + "}"
        if term.datatype.value != XSD_STRING:
            return value + ',"datatype":' + _string(term.datatype.value) + "}"
        return value + "}"
    return _encode(_json_term(term))


def write_json(names: list[str], table: Iterable[Iterable], truncated: bool) -> str:
    """SPARQL 1.1 Query Results JSON, written as text: each distinct term is encoded once."""
    term = _cached(_json_text)
    keys = [_string(n) + ":" for n in names]
    bindings = ",".join(
        "{" + ",".join(k + term(t) for k, t in zip(keys, row) if t is not None) + "}"
        for row in table)
    head, tail = _json_envelope(names, truncated)
    return head + bindings + tail


def _json_envelope(names: list[str], truncated: bool) -> tuple[str, str]:
    """What SPARQL JSON writes before and after its rows (with TDKG's ``truncated`` flag)."""
    return ('{"head":{"vars":' + _encode(names) + '},"results":{"bindings":[',
            ']},"truncated":true}' if truncated else "]}}")


def _xml_term(term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Triple):
        parts = "".join(f"<{k}>{_xml_term(getattr(term, k))}</{k}>"
                        for k in ("subject", "predicate", "object"))
        return f"<triple>{parts}</triple>"
    if term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
    if term.datatype.value != XSD_STRING:
        return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
    return f"<literal>{escape(term.value)}</literal>"


def write_xml(names: list[str], table: Iterable[Iterable], truncated: bool) -> str:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">',
           "<head>" + "".join(f"<variable name={quoteattr(n)}/>" for n in names) + "</head>",
           "<results>"]
    term = _cached(_xml_term)
    opens = [f"<binding name={quoteattr(n)}>" for n in names]
    for row in table:
        cells = "".join(o + term(t) + "</binding>" for o, t in zip(opens, row) if t is not None)
        out.append(f"<result>{cells}</result>")
    out.append("</results></sparql>\n")
    if truncated:
        out.insert(1, "<!-- truncated: more results exist than the endpoint's cap -->")
    return "\n".join(out)


def _csv_value(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.Triple):
        return str(term)
    return term.value


def write_csv(names: list[str], table: Iterable[Iterable], truncated: bool) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(names)
    writer.writerows([_csv_value(t) for t in row] for row in table)
    return buf.getvalue()


def _tsv_value(term) -> str:
    if term is None:
        return ""
    return str(term).replace("\t", "\\t")


def write_tsv(names: list[str], table: Iterable[Iterable], truncated: bool) -> str:
    term = _cached(_tsv_value)
    lines = ["\t".join("?" + n for n in names)]
    lines += ["\t".join("" if t is None else term(t) for t in row) for row in table]
    return "\n".join(lines) + "\n"


WRITERS = {"json": write_json, "xml": write_xml, "csv": write_csv, "tsv": write_tsv}
