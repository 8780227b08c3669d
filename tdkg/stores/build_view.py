"""One published build of a remote SPARQL store, seen by a query worker through the part of
pyoxigraph's ``Store`` interface the service's operations use (``query``, ``quads_for_pattern``,
``contains_named_graph``, ``named_graphs``), so that the endpoint, the pages, the explanations
and the views run unchanged over either store kind.

Every query is first parsed by Oxigraph's own parser (an empty in-memory store: parsing and
planning only, nothing is evaluated until the answer is read), so a syntax error is the same
400, with the same line and column, whichever store is behind; the remote store sees only
queries that are valid SPARQL 1.1. Answers come back as pyoxigraph's own result objects.
Writes are refused: on this kind a store changes only by publishing a build.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import msgspec
import pyoxigraph as ox

from .. import sparql_lexer as lexer
from ..namespaces import FACT_GRAPHS
from . import graphnames as names
from .errors import ExtensionRefused, ReadOnlyStore, StoreUnavailable
from .results_json import RESULTS_SHAPE
from .sparql_store import GRAPH_ACCEPT, RESULTS_JSON, QueryConnection

#: Virtuoso names blank nodes ``nodeID://b123`` in JSON results, which is not a blank node label
_VIRTUOSO_BNODE = re.compile(rb'("type"\s*:\s*"bnode"\s*,\s*"value"\s*:\s*")nodeID://')
#: and types a literal with a datatype "typed-literal" (the 2007 draft's name, not SPARQL 1.1's).
#: Neither pattern can match inside a JSON string, where every quote is escaped.
_TYPED_LITERAL = re.compile(rb'("type"\s*:\s*)"typed-literal"')
_VIRTUOSO_TYPED = (b'"type": "typed-literal"', b'"type": "literal"')


def _standard_json(body: bytes) -> bytes:
    """A store's JSON results in SPARQL 1.1's terms (Virtuoso's dialect put right)."""
    if b"nodeID://" in body:
        body = _VIRTUOSO_BNODE.sub(rb"\1", body)
    if b'"typed-literal"' in body:
        body = body.replace(*_VIRTUOSO_TYPED)     # Virtuoso's spacing: ten times the regex's speed
        if b'"typed-literal"' in body:
            body = _TYPED_LITERAL.sub(rb'\1"literal"', body)
    return body




class JsonAnswer(NamedTuple):
    """A store's answer passed through: ``kind`` is bindings or boolean."""

    kind: str
    body: bytes
    count: int


class BuildView:
    def __init__(self, connection: QueryConnection, build: str, timeout: float = 30.0):
        self.connection = connection
        self.build = build
        self.timeout = timeout
        self._parser = ox.Store()       # empty, in memory: Oxigraph's grammar, nothing else

    # --- a job at a time, which the front end may cancel ---------------------------------

    def begin(self) -> None:
        self.connection.begin()

    def cancel(self) -> None:
        """Stop the store call under way (from another thread of the worker)."""
        self.connection.cancel()

    # --- reads ---------------------------------------------------------------------------

    def query(self, text: str, base_iri: str | None = None, prefixes: dict | None = None,
              default_graph=None, named_graphs=None, use_default_graph_as_union: bool = False):
        return self._answer(*self._send(text, base_iri, prefixes, default_graph, named_graphs))

    def query_json(self, text: str, cap: int, base_iri: str | None = None,
                   prefixes: dict | None = None, default_graph=None, named_graphs=None):
        """A SELECT or ASK answered in SPARQL 1.1 Query Results JSON: the store's own answer,
        passed through (build names taken off, a store's dialect put right) when it holds at
        most ``cap`` rows, as a :class:`JsonAnswer`; a larger answer as pyoxigraph's result
        object (to be cut at the cap and written again). ``None`` for a CONSTRUCT or DESCRIBE,
        before anything is sent.

        Reading a large answer into pyoxigraph's terms and writing it again cost more than the
        store took to compute it (48 ms of 130 for an aggregate of 5,678 rows over Virtuoso);
        checking its shape and counting its rows with msgspec, without making a Python object
        per term, costs about 1 ms a megabyte (the standard library's parser: 12 ms)."""
        toks = lexer.tokens(text)
        if lexer.query_form(toks) in ("CONSTRUCT", "DESCRIBE"):
            return None
        return self.passed_through(*self._send(text, base_iri, prefixes, default_graph,
                                               named_graphs, toks), cap)

    def passed_through(self, content_type: str, body: bytes, cap: int):
        """The store's answer to a SELECT or ASK, as :meth:`query_json` returns it."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in ("application/sparql-results+json", "application/json"):
            return self._answer(content_type, body)
        body = _standard_json(names.publicize(body, self.build))
        try:
            parsed = RESULTS_SHAPE.decode(body)
        except msgspec.DecodeError as err:
            raise StoreUnavailable(f"the SPARQL store at {self.connection.url} sent an answer "
                                   f"that is not SPARQL results JSON: {err}") from None
        if parsed.boolean is not None:
            return JsonAnswer("boolean", body, 1)
        if parsed.results is None:
            raise StoreUnavailable(f"the SPARQL store at {self.connection.url} sent JSON "
                                   "results with neither bindings nor a boolean")
        if len(parsed.results.bindings) > cap:
            return self._parse_json(body)
        return JsonAnswer("bindings", body, len(parsed.results.bindings))

    def _send(self, text: str, base_iri, prefixes, default_graph, named_graphs, toks=None):
        """Check ``text`` with Oxigraph, put it in the build's graph names, send it with its
        dataset: the store's (content type, body). ``toks``: its tokens, when already made."""
        toks = lexer.tokens(text) if toks is None else toks
        try:
            local = names.localize(text, self.build, prefixes or {}, base_iri)
        except names.VendorFunctionRefused as err:
            raise ExtensionRefused(str(err)) from None
        # Oxigraph's parser and planner: a syntax error, or a function it does not know (any
        # non-standard one), stops the query here
        self._parser.query(text, base_iri=base_iri, prefixes=prefixes)
        form: list[tuple[str, str]] = [("query", local)]
        if default_graph is not None or named_graphs is not None:
            form += self._dataset(default_graph or [], named_graphs or [])
        elif not names.names_dataset(toks):
            form += self._dataset([ox.DefaultGraph()], [ox.NamedNode(g) for g in FACT_GRAPHS])
        # a graph must come back as a graph (Virtuoso would send DESCRIBE as JSON results)
        accept = GRAPH_ACCEPT if lexer.query_form(toks) in ("CONSTRUCT", "DESCRIBE") \
            else RESULTS_JSON
        return self.connection.post(form, accept, self.timeout)

    def _dataset(self, default: Iterable, named: Iterable) -> list[tuple[str, str]]:
        """Protocol parameters for a dataset of public graph names (the default graph given as
        ``DefaultGraph``), in the build's names. A dataset with no named graph still names one
        that does not exist: a store given no ``named-graph-uri`` would offer all of its own."""
        form = [("default-graph-uri", names.stored(self.build, _name(g))) for g in default]
        named = [("named-graph-uri", names.stored(self.build, _name(g))) for g in named]
        return form + (named or [("named-graph-uri", names.stored(self.build, "urn:tdkg:none"))])

    def _answer(self, content_type: str, body: bytes):
        body = names.publicize(body, self.build)
        media = content_type.split(";", 1)[0].strip().lower()
        if media in ("application/sparql-results+json", "application/json"):
            return self._parse_json(_standard_json(body))
        try:
            if media in ("application/n-triples", "text/plain", "text/turtle", "text/ntriples",
                         "application/x-turtle"):
                return [q.triple for q in ox.parse(body, format=ox.RdfFormat.TURTLE)]
        except (SyntaxError, ValueError) as err:
            raise StoreUnavailable(f"the SPARQL store at {self.connection.url} sent an answer "
                                   f"that does not parse as {media}: {err}") from None
        raise StoreUnavailable(f"the SPARQL store at {self.connection.url} answered with "
                               f"{media or 'no content type'}, which TDKG does not read")

    def _parse_json(self, body: bytes):
        try:
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except (SyntaxError, ValueError) as err:
            raise StoreUnavailable(f"the SPARQL store at {self.connection.url} sent an answer "
                                   f"that does not parse as SPARQL results JSON: {err}") from None

    def quads_for_pattern(self, subject, predicate, obj, graph_name=None) -> Iterator[ox.Quad]:
        """The matching quads of one public graph (``DefaultGraph``: TDKG's default graph)."""
        terms = {"s": subject, "p": predicate, "o": obj}
        if any(isinstance(t, ox.BlankNode) for t in terms.values() if t is not None):
            return iter(())     # a blank node of one answer means nothing to the next query
        pattern = " ".join(f"?{k}" if t is None else str(t) for k, t in terms.items())
        graph = graph_name if graph_name is not None else ox.DefaultGraph()
        free = [k for k, t in terms.items() if t is None]
        where = f"WHERE {{ GRAPH <{names.stored(self.build, _name(graph))}> {{ {pattern} }} }}"
        text = f"SELECT {' '.join(f'?{k}' for k in free)} {where}" if free \
            else f"SELECT (1 AS ?found) {where} LIMIT 1"
        rows = self._answer(*self.connection.post([("query", text)], RESULTS_JSON,
                                                  self.timeout))
        return (ox.Quad(*(row[k] if t is None else t for k, t in terms.items()), graph)
                for row in rows)

    def contains_named_graph(self, graph: ox.NamedNode) -> bool:
        return graph.value in FACT_GRAPHS

    def named_graphs(self) -> list[ox.NamedNode]:
        return [ox.NamedNode(g) for g in FACT_GRAPHS]

    # --- writes: refused -----------------------------------------------------------------

    def _read_only(self, *args, **kwargs):
        raise ReadOnlyStore("the sparql store kind is changed only by publishing a build "
                            "(`tdkg build`); SPARQL Update and Graph Store writes are refused")

    update = bulk_extend = clear_graph = remove_graph = add = remove = _read_only

    def flush(self) -> None:
        pass


def _name(graph) -> str:
    return "" if isinstance(graph, ox.DefaultGraph) else graph.value
