"""Interning RDF terms as small integers, so the materializer works on int triples."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import pyoxigraph as ox

Triple = tuple[int, int, int]


class Interner:
    """A two-way table between pyoxigraph terms and ids (pyoxigraph terms hash by value)."""

    def __init__(self) -> None:
        self.terms: list[object] = []
        self._ids = _Ids(self.terms)

    def intern(self, term) -> int:
        return self._ids[term]

    def id(self, iri: str) -> int:
        """The id of a named node (interned if new)."""
        return self.intern(ox.NamedNode(iri))

    def triple(self, t: ox.Triple) -> Triple:
        ids = self._ids
        return ids[t.subject], ids[t.predicate], ids[t.object]

    def triples(self, triples: Iterable[ox.Triple]) -> list[Triple]:
        ids = self._ids      # a million triples: no method call per term
        return [(ids[t.subject], ids[t.predicate], ids[t.object]) for t in triples]

    def term(self, i: int):
        return self.terms[i]

    def ntriples(self, triples: Iterable[Triple], batch: int) -> Iterator[bytes]:
        """``triples`` as N-Triples text, ``batch`` lines at a time. A term's ``str`` is the
        text Oxigraph's serializer writes for it, so each term's text is made once and reused:
        at a million triples that is several times faster than a pyoxigraph triple each."""
        texts, triples = _Texts(self.terms), iter(triples)
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


class _Ids(dict):
    """Term → id; a term not seen before gets the next id (looked up without a Python call)."""

    def __init__(self, terms: list[object]):
        super().__init__()
        self.terms = terms

    def __missing__(self, term) -> int:
        found = self[term] = len(self.terms)
        self.terms.append(term)
        return found


class _Texts(dict):
    """Term id → the term's N-Triples text, made when first asked for."""

    def __init__(self, terms: list[object]):
        super().__init__()
        self.terms = terms

    def __missing__(self, i: int) -> str:
        text = self[i] = str(self.terms[i])
        return text
