"""A runner for the W3C SPARQL 1.1 query-evaluation tests (``sparql11/<folder>/manifest.ttl``).

Each ``mf:QueryEvaluationTest`` (and ``mf:CSVResultFormatTest``) names a query, the files of its
default graph (``qt:data``) and of its named graphs (``qt:graphData``) and the expected answer
(``mf:result``: SPARQL results in XML, JSON, CSV or TSV, a result set written in RDF, or a graph).
Every data file is loaded once into a named graph called by the file's own IRI (``file:///…``),
which is also the IRI a relative graph name in a query or a result file resolves to. A test then
chooses its dataset with the protocol's ``default-graph-uri``/``named-graph-uri`` (an absent graph
when it has no data, so that nothing else leaks in), unless the query names its own with FROM.
The query is sent with a ``BASE`` of its own file, as the suite means it to be read.

Answers are compared as the suite means them: solutions as multisets (in order when the query
ends with ORDER BY), blank nodes up to a consistent renaming, graphs up to isomorphism, literals
by RDF term equality (language tags ignore case). CSV, which loses datatypes, is compared as text
cells, header included. The same tests can run in-process on pyoxigraph (:func:`run_in_process`),
to tell the engine's deviations from the endpoint's.
"""
from __future__ import annotations

import csv
import dataclasses
import decimal
import io
import math
import os
import re
from pathlib import Path

import pyoxigraph as ox
import rdflib
import requests
from rdflib import Namespace
from rdflib.collection import Collection
from rdflib.namespace import RDF

SUITE = Path(os.environ.get("TDKG_W3C_TESTS", "/work/shared/w3c-sparql11-tests")) / "sparql11"
FOLDERS = ("aggregates", "bind", "bindings", "construct", "exists", "functions", "grouping",
           "negation", "project-expression", "property-path", "subquery", "csv-tsv-res",
           "json-res")
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
#: a graph no test loads: the default graph of a test without qt:data
EMPTY_GRAPH = "urn:x-tdkg:w3c:empty"
KINDS = {MF.QueryEvaluationTest: "eval", MF.CSVResultFormatTest: "eval",
         MF.NegativeSyntaxTest11: "negative-syntax"}
RESULTS = {".srx": ("application/sparql-results+xml", ox.QueryResultsFormat.XML),
           ".srj": ("application/sparql-results+json", ox.QueryResultsFormat.JSON),
           ".tsv": ("text/tab-separated-values", ox.QueryResultsFormat.TSV),
           ".csv": ("text/csv", None)}
XSD = "http://www.w3.org/2001/XMLSchema#"
DECIMALS = {"decimal", "integer", "long", "int", "short", "byte", "nonNegativeInteger",
            "positiveInteger", "nonPositiveInteger", "negativeInteger", "unsignedLong",
            "unsignedInt", "unsignedShort", "unsignedByte"}
GRAPH_ACCEPT = "application/n-triples"
_FROM = re.compile(r"\bFROM\b", re.IGNORECASE)
_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class EvalTest:
    id: str                             # folder/local name
    kind: str                           # "eval" or "negative-syntax"
    name: str
    query: Path
    data: tuple[Path, ...] = ()
    graph_data: tuple[Path, ...] = ()
    result: Path | None = None

    @property
    def text(self) -> str:
        """The query as sent: with its own file as BASE."""
        return f"BASE <{iri(self.query)}>\n" + self.query.read_text(encoding="utf-8")

    @property
    def names_dataset(self) -> bool:
        return bool(_FROM.search(_code(self.query.read_text(encoding="utf-8"))))

    @property
    def ordered(self) -> bool:
        """True when the outer query ends with ORDER BY (after its last closing brace)."""
        code = _code(self.query.read_text(encoding="utf-8"))
        return bool(_ORDER_BY.search(code[code.rfind("}"):]))

    @property
    def files(self) -> tuple[Path, ...]:
        return self.data + self.graph_data


def iri(path: Path) -> str:
    return path.resolve().as_uri()


def _code(text: str) -> str:
    """The query without comments and string contents (enough to find keywords)."""
    text = re.sub(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"",
                  '""', text, flags=re.DOTALL)
    return re.sub(r"<[^<>\s]*>|#[^\n]*", " ", text)


# --- reading the manifests ---------------------------------------------------------------------

def load_tests(folders: tuple[str, ...] = FOLDERS) -> list[EvalTest]:
    return [test for folder in folders for test in _manifest(SUITE / folder / "manifest.ttl")]


def _manifest(path: Path) -> list[EvalTest]:
    graph = rdflib.Graph().parse(path, format="turtle", publicID=iri(path))
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    tests = []
    for entry in Collection(graph, graph.value(manifest, MF.entries)):
        kind = KINDS.get(graph.value(entry, RDF.type))
        if kind is None:
            continue
        action = graph.value(entry, MF.action)
        local = str(entry).rpartition("#")[2]
        test_id = f"{path.parent.name}/{local}"
        name = str(graph.value(entry, MF.name))
        if kind == "negative-syntax":
            tests.append(EvalTest(test_id, kind, name, _path(action)))
            continue
        tests.append(EvalTest(
            test_id, kind, name, _path(graph.value(action, QT.query)),
            tuple(sorted(_path(d) for d in graph.objects(action, QT.data))),
            tuple(sorted(_path(d) for d in graph.objects(action, QT.graphData))),
            _path(graph.value(entry, MF.result))))
    return tests


def _path(node) -> Path:
    return Path(str(node).removeprefix("file://"))


# --- answers -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Solutions:
    variables: tuple[str, ...]
    rows: list[dict[str, object]]       # variable -> pyoxigraph term


@dataclasses.dataclass
class Table:
    """CSV: a header and rows of text cells (the format keeps no term types)."""
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclasses.dataclass
class Graph:
    triples: list[ox.Triple]


Answer = bool | Solutions | Table | Graph


def parse_results(data: bytes, media_type: str) -> Answer:
    media_type = media_type.split(";")[0].strip()
    if media_type == "text/csv":
        return _table(data.decode("utf-8"))
    fmt = ox.QueryResultsFormat.from_media_type(media_type)
    if fmt is not None:
        return _answer(ox.parse_query_results(data, format=fmt))
    rdf = ox.RdfFormat.from_media_type(media_type)
    if rdf is None:
        raise ValueError(f"unexpected Content-Type {media_type!r}")
    return Graph([q.triple for q in ox.parse(data, format=rdf)])


def _answer(parsed) -> Answer:
    if isinstance(parsed, ox.QueryBoolean):
        return bool(parsed)
    variables = tuple(v.value for v in parsed.variables)
    return Solutions(variables, [{v: s[v] for v in variables if s[v] is not None}
                                 for s in parsed])


def _table(text: str) -> Table:
    rows = [tuple(r) for r in csv.reader(io.StringIO(text))]
    return Table(rows[0] if rows else (), rows[1:])


def expected(test: EvalTest) -> Answer:
    path = test.result
    suffix = path.suffix
    if suffix == ".csv":
        return _table(path.read_text(encoding="utf-8"))
    if suffix in RESULTS:
        return _answer(ox.parse_query_results(path=path, format=RESULTS[suffix][1]))
    triples = [q.triple for q in ox.parse(path=path, base_iri=iri(path))]
    sets = [t.subject for t in triples if t.predicate.value == str(RDF.type)
            and t.object.value == RS + "ResultSet"]
    return _result_set(triples, sets[0]) if sets else Graph(triples)


def _result_set(triples: list[ox.Triple], top) -> Answer:
    """A result set written in RDF (the DAWG result-set vocabulary)."""
    out: dict = {}
    for t in triples:
        out.setdefault((t.subject, t.predicate.value), []).append(t.object)

    def values(node, name: str) -> list:
        return out.get((node, RS + name), [])
    if values(top, "boolean"):
        return values(top, "boolean")[0].value == "true"
    variables = tuple(v.value for v in values(top, "resultVariable"))
    rows = []
    for solution in values(top, "solution"):
        index = values(solution, "index")
        row = {values(b, "variable")[0].value: values(b, "value")[0]
               for b in values(solution, "binding")}
        rows.append((int(index[0].value) if index else 0, row))
    rows.sort(key=lambda pair: pair[0])
    return Solutions(variables, [row for _, row in rows])


# --- running a test ------------------------------------------------------------------------------

def accept(test: EvalTest) -> str:
    """The media type to ask for: the expected file's own format; JSON for a result set in RDF,
    N-Triples for a graph."""
    suffix = test.result.suffix
    if suffix in RESULTS:
        return RESULTS[suffix][0]
    return f"application/sparql-results+json, {GRAPH_ACCEPT};q=0.9"


def dataset_params(test: EvalTest) -> list[tuple[str, str]]:
    if test.names_dataset:
        return []
    default = [iri(p) for p in test.data] or [EMPTY_GRAPH]
    named = [iri(p) for p in test.graph_data]
    return [("default-graph-uri", g) for g in default] + [("named-graph-uri", g) for g in named]


def run_over_http(endpoint: str, test: EvalTest, session: requests.Session) -> Answer:
    """POST the query directly (application/sparql-query) with its dataset in the URL."""
    response = session.post(endpoint, params=dataset_params(test), timeout=30,
                            data=test.text.encode("utf-8"),
                            headers={"Content-Type": "application/sparql-query",
                                     "Accept": accept(test)})
    if response.status_code != 200:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:300]}")
    return parse_results(response.content, response.headers.get("Content-Type", ""))


def load_store(store: ox.Store, tests: list[EvalTest]) -> int:
    """Load every data file of ``tests`` into the graph named by its IRI; the number of files."""
    files = sorted({f for t in tests if t.kind == "eval" for f in t.files})
    for path in files:
        store.load(path=path, base_iri=iri(path), to_graph=ox.NamedNode(iri(path)))
    return len(files)


def run_in_process(store: ox.Store, test: EvalTest) -> Answer:
    """The same test on pyoxigraph directly, with the same dataset."""
    args = {}
    if not test.names_dataset:
        args["default_graph"] = [ox.NamedNode(iri(p)) for p in test.data] or []
        args["named_graphs"] = [ox.NamedNode(iri(p)) for p in test.graph_data]
    answer = store.query(test.text, **args)
    if isinstance(answer, ox.QueryTriples):
        return Graph(list(answer))
    if test.result.suffix == ".csv":
        return _table(answer.serialize(format=ox.QueryResultsFormat.CSV).decode("utf-8"))
    return _answer(answer)


# --- comparing answers ---------------------------------------------------------------------------

def compare(test: EvalTest, want: Answer, got: Answer) -> str | None:
    """None when ``got`` is the answer the suite expects, else what differs."""
    if isinstance(want, bool) or isinstance(got, bool):
        return None if want is got else f"expected boolean {want}, got {got}"
    if type(want) is not type(got):
        return f"expected {type(want).__name__}, got {type(got).__name__}"
    if isinstance(want, Graph):
        return None if _canonical(want) == _canonical(got) else (
            f"graphs differ: expected {len(want.triples)} triples, got {len(got.triples)}")
    if isinstance(want, Table):
        return _compare_tables(want, got, test.ordered)
    if set(want.variables) != set(got.variables):
        return f"variables differ: expected {sorted(want.variables)}, got {sorted(got.variables)}"
    if len(want.rows) != len(got.rows):
        return f"expected {len(want.rows)} solutions, got {len(got.rows)}"
    rows_w = [{k: _key(v) for k, v in r.items()} for r in want.rows]
    rows_g = [{k: _key(v) for k, v in r.items()} for r in got.rows]
    if not _match(rows_w, rows_g, {}, test.ordered):
        return "solutions differ" + (" (in order)" if test.ordered else "")
    return None


def _key(term) -> tuple:
    if isinstance(term, ox.BlankNode):
        return ("bnode", term.value)
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        return ("literal", _value(term.value, datatype), datatype, (term.language or "").lower())
    if isinstance(term, ox.Triple):
        return ("triple", _key(term.subject), _key(term.predicate), _key(term.object))
    return ("iri", term.value)


def _value(lexical: str, datatype: str) -> object:
    """The value of a numeric or boolean literal (SPARQL fixes the value of a computed number,
    not its lexical form), else the lexical form itself."""
    local = datatype.removeprefix(XSD)
    if local == datatype:
        return lexical
    try:
        if local in DECIMALS:
            return decimal.Decimal(lexical.strip())
        if local in ("double", "float"):
            number = float(lexical.strip())
            return "NaN" if math.isnan(number) else number
        if local == "boolean":
            return {"true": True, "1": True, "false": False, "0": False}[lexical.strip()]
    except (ArithmeticError, ValueError, KeyError):
        pass
    return lexical


def _canonical(graph: Graph) -> set:
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in graph.triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return {tuple(_key(x) for x in (q.subject, q.predicate, q.object)) for q in dataset}


def _fits(want: dict, got: dict, mapping: dict) -> dict | None:
    """``mapping`` extended so that row ``got`` is row ``want`` with blank nodes renamed."""
    if want.keys() != got.keys():
        return None
    extended = dict(mapping)
    used = set(extended.values())
    for var, w in want.items():
        g = got[var]
        if w[0] != "bnode" or g[0] != "bnode":
            if w != g:
                return None
        elif w[1] in extended:
            if extended[w[1]] != g[1]:
                return None
        elif g[1] in used:
            return None
        else:
            extended[w[1]] = g[1]
            used.add(g[1])
    return extended


def _match(want: list[dict], got: list[dict], mapping: dict, ordered: bool,
           budget: list[int] | None = None) -> bool:
    """Is there one renaming of blank nodes that makes ``got`` the (multi)set ``want``?
    Backtracking, bounded by a step budget (the suite's answers are small)."""
    budget = budget if budget is not None else [200_000]
    if not want:
        return True
    budget[0] -= 1
    if budget[0] < 0:
        return False
    first, rest = want[0], want[1:]
    candidates = [0] if ordered else range(len(got))
    for i in candidates:
        extended = _fits(first, got[i], mapping)
        if extended is not None and _match(rest, got[:i] + got[i + 1:], extended, ordered,
                                           budget):
            return True
    return False


def _compare_tables(want: Table, got: Table, ordered: bool) -> str | None:
    if want.header != got.header:
        return f"CSV header differs: expected {want.header}, got {got.header}"
    rows_w = [{h: _cell(c) for h, c in zip(want.header, r)} for r in want.rows]
    rows_g = [{h: _cell(c) for h, c in zip(got.header, r)} for r in got.rows]
    if len(rows_w) != len(rows_g) or not _match(rows_w, rows_g, {}, ordered):
        return "CSV rows differ"
    return None


def _cell(text: str) -> tuple:
    return ("bnode", text[2:]) if text.startswith("_:") else ("text", text)
