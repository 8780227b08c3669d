"""Where a source file uses each IRI: Turtle, N-Triples and SPARQL text to (IRI, line, role).

The closed-vocabulary check (:mod:`.vocabulary`) learns *what* a file uses from its parsed
triples; this module finds *where*, for the few terms that are wrong, and reads the SPARQL rules,
which are not triples. It runs the SPARQL lexer of :mod:`tdkg.sparql_lexer` over the text:
Turtle borrows SPARQL's terminals for IRIs, prefixed names, strings and comments (Turtle 1.1,
§6.5), so comments and string contents never count as uses. Prefixed names are resolved with
the ``@prefix``/``PREFIX`` and ``@base``/``BASE`` directives in force where they occur.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from urllib.parse import urljoin

from .. import sparql_lexer

CLASS, PROPERTY, TERM = "class", "property", "term"      # what a position asks for
RDF_TYPE_IRI = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def term_uses(text: str, prefixes: dict[str, str] | None = None) -> Iterator[tuple[str, int, str]]:
    """(IRI, offset, role) for every IRI and prefixed name of Turtle, N-Triples or SPARQL text,
    resolved with the prefix and base directives met so far (``prefixes`` are assumed before).
    The role is a guess from the neighbouring tokens (CLASS after ``a``, PROPERTY in a
    predicate's place, TERM otherwise): good enough to pick a line and a hint, never to fail."""
    names, base = dict(prefixes or {}), None
    toks = _tokens(text)
    i = 0
    while i < len(toks):
        word = toks[i].text.lower().lstrip("@") if toks[i].kind in ("word", "langtag") else ""
        nxt = toks[i + 1:i + 3]
        if word == "prefix" and [t.kind for t in nxt] == ["pname", "iri"]:
            names[nxt[0].text[:-1]] = _absolute(nxt[1].text[1:-1], base)
            i += 3
        elif word == "base" and nxt and nxt[0].kind == "iri":
            base = _absolute(nxt[0].text[1:-1], base)
            i += 2
        else:
            iri = _resolve(toks, i, names, base)
            if iri is not None:
                yield iri, toks[i].start, _role(toks, i)
            i += 1


def _tokens(text: str) -> list[sparql_lexer.Token]:
    """The lexer's tokens (Turtle's ``@prefix`` reads as a language tag, handled above); text it
    cannot read yields none: this module only locates uses, it never decides."""
    try:
        return sparql_lexer.tokens(text)
    except sparql_lexer.LexError:
        return []


def _absolute(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base and ":" not in iri else iri


def _resolve(toks: list[sparql_lexer.Token], i: int, names: dict[str, str],
             base: str | None) -> str | None:
    tok = toks[i]
    if tok.kind == "iri":
        return _absolute(tok.text[1:-1], base)
    if tok.kind != "pname":
        return None
    prefix, _, local = tok.text.partition(":")
    if prefix not in names:
        return None
    return names[prefix] + re.sub(r"\\(.)", r"\1", local)


TYPE_TOKENS = {"a", "rdf:type", f"<{RDF_TYPE_IRI}>"}
PREDICATE_AFTER = {";", "[", "|", "/"}
STATEMENT_START = {".", "{", "}"}


def _role(toks: list[sparql_lexer.Token], i: int) -> str:
    prev = toks[i - 1].text if i else ""
    if prev in TYPE_TOKENS:
        return CLASS
    if prev in PREDICATE_AFTER or (i >= 1 and toks[i - 1].kind in ("iri", "pname", "var")
                                   and (i < 2 or toks[i - 2].text in STATEMENT_START)):
        return PROPERTY
    return TERM


class Lines:
    """Offsets to 1-based line numbers."""

    def __init__(self, text: str):
        self.starts = [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int | None) -> int | None:
        return None if offset is None else bisect.bisect_right(self.starts, offset) + 1


def file_uses(path: Path, inner: dict[str, str] | None = None,
              wanted: Collection[str] = ()) -> Iterator[tuple[str, int, str]]:
    """(IRI, line, role) of every use in a source file. N-Triples is read line by line (one
    statement a line, no prefixes), so a large dump is never held as tokens all at once; when
    a few IRIs are ``wanted``, only lines that contain one of them are tokenized."""
    if path.suffix == ".nt":
        needles = [f"<{w}>" for w in wanted] if len(set(wanted)) <= 64 else []
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if needles and not any(n in line for n in needles):
                    continue
                for iri, _, role in term_uses(line):
                    yield iri, number, role
        return
    text = path.read_text(encoding="utf-8")
    lines = Lines(text)
    for iri, offset, role in _all_uses(text, inner):
        yield iri, lines.line(offset), role


def _all_uses(text: str, inner: dict[str, str] | None) -> Iterator[tuple[str, int, str]]:
    """``term_uses`` of a file, and with ``inner`` prefixes also of the SPARQL in its strings."""
    yield from term_uses(text)
    if inner is None:
        return
    for tok in _tokens(text):
        if tok.kind == "string":
            quote = 3 if tok.text[:3] in ('"""', "'''") else 1
            for iri, offset, role in term_uses(tok.text[quote:-quote], inner):
                yield iri, tok.start + quote + offset, role
