"""Finding resources by name: the matching that ``/search`` (:mod:`tdkg.server.search`) and
``tdkg find`` (:mod:`tdkg.curation.find`) share, with no Flask and no store in it.

Names are ``rdfs:label`` and ``skos:altLabel`` values. Matching ignores case and diacritics
(``turkiye``, ``TURKIYE`` and ``türkiye`` all find Türkiye, ``akinci`` finds Akıncı): both sides
are folded by :func:`fold`. A resource matches when every word of the query is the beginning of
some word of one of its names, or when the folded query occurs anywhere in a name (queries of
three characters or more). Results are ranked exact name first, then names that begin with the
query, then word-prefix matches, then substring matches; ties by label, then IRI.

An :class:`Index` is built from :class:`Statement` values (subject, predicate, object), whatever
they were read from: the server reads them with one SELECT through its query workers, ``tdkg
find`` from the working tree's Turtle or the published store.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

from . import namespaces as ns

MIN_SUBSTRING = 3           # shorter queries only match at the start of words
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_ALT = "http://www.w3.org/2004/02/skos/core#altLabel"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#: the predicates an index reads
INDEXED = (RDFS_LABEL, SKOS_ALT, RDF_TYPE)

#: letters that NFKD does not take apart into a base letter and marks (after casefold)
LETTERS = str.maketrans({"ı": "i", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "æ": "ae",
                         "œ": "oe", "ß": "ss", "þ": "th", "ħ": "h", "ŀ": "l", "ĸ": "k",
                         "ŧ": "t", "ŋ": "n", "ʼ": "'"})
_WORD = re.compile(r"\w+")

#: match kinds, best first; the order of this tuple is the ranking
KINDS = ("exact", "prefix", "word-prefix", "substring")


def fold(text: str) -> str:
    """Case- and diacritic-free form: NFKD, combining marks dropped, casefolded, letters mapped."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare.casefold().translate(LETTERS))


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits; punctuation separates)."""
    return _WORD.findall(fold(text))


class Statement(NamedTuple):
    """One triple as an index reads it: ``kind`` is the object's kind, ``uri``, ``literal`` or
    ``bnode`` (as in SPARQL JSON results), ``lang`` a literal's language tag."""

    subject: str
    predicate: str
    value: str
    kind: str
    lang: str = ""


@dataclasses.dataclass(frozen=True)
class Name:
    iri: str
    text: str
    is_label: bool
    words: tuple[str, ...]
    joined: str             # the folded words joined by single spaces


@dataclasses.dataclass
class Index:
    names: list[Name]
    labels: dict[str, str]          # IRI -> preferred rdfs:label
    types: dict[str, list[str]]     # IRI -> class IRIs

    def label(self, iri: str) -> str:
        return self.labels.get(iri) or _local_name(iri)


def _local_name(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/#"))[-1] or iri


def _label_rank(lang: str) -> int:
    return 0 if lang == "en" else 1 if lang.startswith("en-") else 2 if lang == "" else 3


def build_index(statements: Iterable[Statement]) -> Index:
    """The index of the names and types among ``statements`` (other predicates are ignored)."""
    names: dict[tuple[str, str], Name] = {}      # one entry per (IRI, name); a label wins
    best_label: dict[str, tuple] = {}
    types: dict[str, set[str]] = {}
    for s, p, value, kind, lang in statements:
        if p == RDF_TYPE:
            if kind == "uri":
                types.setdefault(s, set()).add(value)
            continue
        if p not in INDEXED or kind != "literal" or not value.strip():
            continue
        text = " ".join(value.split())
        is_label = p == RDFS_LABEL
        if is_label:
            key = (_label_rank(lang.lower()), text)
            if s not in best_label or key < best_label[s]:
                best_label[s] = key
        if is_label or (s, text) not in names:
            folded = tuple(words(text))
            names[(s, text)] = Name(s, text, is_label, folded, " ".join(folded))
    return Index(list(names.values()), {s: key[1] for s, key in best_label.items()},
                 {s: sorted(t) for s, t in types.items()})


def _match(name: Name, query_words: list[str], joined: str) -> int | None:
    """The rank (index into KINDS) of ``name`` for the query, or None if it does not match."""
    if not query_words:
        return None
    if name.joined == joined:
        return 0
    if name.joined.startswith(joined):
        return 1
    if all(any(w.startswith(q) for w in name.words) for q in query_words):
        return 2
    if len(joined) >= MIN_SUBSTRING and joined in name.joined:
        return 3
    return None


def search(index: Index, query: str) -> list[dict]:
    """Every matching resource once (with its best-matching name), ranked."""
    query_words = words(query)
    joined = " ".join(query_words)
    best: dict[str, tuple] = {}
    for name in index.names:
        rank = _match(name, query_words, joined)
        if rank is None:
            continue
        key = (rank, not name.is_label, len(name.text), name.text)
        if name.iri not in best or key < best[name.iri][0]:
            best[name.iri] = (key, name)
    ranked = sorted(best.values(), key=lambda item: (item[0][0], _sort_key(index.label(item[1].iri)),
                                                     item[1].iri))
    return [_result(index, name, KINDS[key[0]]) for key, name in ranked]


def _sort_key(label: str) -> tuple[str, str]:
    """Labels in alphabetical order of their folded words (punctuation ignored), then as folded."""
    return " ".join(words(label)), fold(label)


def _result(index: Index, name: Name, kind: str) -> dict:
    return {"iri": name.iri, "label": index.label(name.iri), "matched": name.text,
            "match": kind, "types": index.types.get(name.iri, []), "page": local_path(name.iri)}


def local_path(iri: str) -> str | None:
    """The path on the server of an IRI under https://w3id.org/tdkg/ (None for others)."""
    return "/" + iri[len(ns.BASE):] if iri.startswith(ns.BASE) else None
