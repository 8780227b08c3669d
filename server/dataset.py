"""The RDF dataset of a request (SPARQL 1.1 Protocol §2.1.4 and §2.2.3).

A query runs against the dataset named by ``default-graph-uri``/``named-graph-uri`` when given,
else the one its FROM/FROM NAMED clauses name, else TDKG's default dataset: the union of the
ontology, asserted and (unless inference is switched off) inferred graphs as default graph (held
by the store's own default graph since build layout 2), and every named graph. An update's ``using-graph-uri``/``using-named-graph-uri`` become USING clauses
of each of its INSERT/DELETE … WHERE operations; giving them together with USING or WITH is an error.
"""
from __future__ import annotations

from tdkg import sparql_lexer as lexer
from tdkg.pipeline.store import LAYOUT, default_graphs, layout_of  # noqa: F401 (re-exported)

from .errors import BadRequest


def query_dataset(names_dataset: bool, default: list[str], named: list[str],
                  inference: bool, layout: int = LAYOUT
                  ) -> tuple[list[str] | None, list[str] | None]:
    """(default graph, named graphs) to pass to the store; None leaves the choice to the query
    (``names_dataset``: the query has FROM or FROM NAMED) or, without FROM, to the store, whose
    own default graph is TDKG's default graph (and every named graph is named)."""
    if default or named:
        return default, named
    if names_dataset:
        return None, None
    graphs = default_graphs(inference, layout)
    return (None, None) if graphs == [""] else (graphs, None)


def add_using(text: str, toks: list[lexer.Token], using: list[str], using_named: list[str]) -> str:
    """Insert the protocol's USING clauses before the WHERE of every INSERT/DELETE operation."""
    if not using and not using_named:
        return text
    if lexer.has_word(toks, "USING", "WITH"):
        raise BadRequest("using-graph-uri/using-named-graph-uri cannot be combined with "
                         "USING or WITH in the update")
    clause = " ".join([f"USING <{g}>" for g in using] + [f"USING NAMED <{g}>" for g in using_named])
    return _insert_before(text, _modify_wheres(toks), clause + " ")


def _modify_wheres(toks: list[lexer.Token]) -> list[int]:
    """Offsets of the top-level WHERE keywords that close an INSERT/DELETE template."""
    offsets, depth, modify = [], 0, False
    for prev, tok in zip([None] + toks, toks):
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth -= 1
        elif tok.text == ";" and depth == 0:
            modify = False
        elif depth == 0 and tok.is_word("INSERT", "DELETE"):
            modify = True
        elif depth == 0 and tok.is_word("WHERE") and modify:
            if not (prev is not None and prev.is_word("DELETE")):
                offsets.append(tok.start)
            modify = False
    return offsets


def _insert_before(text: str, offsets: list[int], insert: str) -> str:
    for offset in sorted(offsets, reverse=True):
        text = text[:offset] + insert + text[offset:]
    return text
