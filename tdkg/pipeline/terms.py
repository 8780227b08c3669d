"""Interning RDF terms as small integers, so the materializer works on int triples."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyoxigraph as ox

Triple = tuple[int, int, int]


class Interner:
    """A two-way table between pyoxigraph terms and ids (pyoxigraph terms hash by value)."""

    def __init__(self) -> None:
        self.terms: list[object] = []
        self._ids = Memo(self._new)

    def _new(self, term) -> int:
        self.terms.append(term)
        return len(self.terms) - 1

    def intern(self, term) -> int:
        return self._ids[term]

    def id(self, iri: str) -> int:
        """The id of a named node (interned if new)."""
        return self.intern(ox.NamedNode(iri))

    def triples(self, triples: Iterable[ox.Triple]) -> list[Triple]:
        ids = self._ids      # a million triples: no method call per term
        return [(ids[t.subject], ids[t.predicate], ids[t.object]) for t in triples]

    def term(self, i: int):
        return self.terms[i]

    def ntriples(self, triples: Iterable[Triple], batch: int) -> Iterator[bytes]:
        """``triples`` as N-Triples text, ``batch`` lines at a time. A term's ``str`` is the
        text Oxigraph's serializer writes for it, so each term's text is made once and reused:
        at a million triples that is several times faster than a pyoxigraph triple each."""
        texts, triples = Memo(lambda i: str(self.terms[i])), iter(triples)
        while chunk := list(itertools.islice(triples, batch)):
            yield "".join([f"{texts[s]} {texts[p]} {texts[o]} .\n" for s, p, o in chunk]).encode()

    def to_triple(self, t: Triple) -> ox.Triple:
        return ox.Triple(self.terms[t[0]], self.terms[t[1]], self.terms[t[2]])

    def is_blank(self, i: int) -> bool:
        return isinstance(self.terms[i], ox.BlankNode)

    def is_literal(self, i: int) -> bool:
        return isinstance(self.terms[i], ox.Literal)

    def is_iri(self, i: int) -> bool:
        return isinstance(self.terms[i], ox.NamedNode)

    def lookup(self, term) -> int | None:
        return self._ids.get(term)


class Memo(dict):
    """A table that makes each missing value with ``make(key)`` the first time it is asked
    for, and keeps it: a key seen before is looked up by the dict itself, without a Python
    call (millions of lookups in a large build)."""

    def __init__(self, make: Callable[[Any], Any]):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value
