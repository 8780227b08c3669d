"""Sentence coverage of the source documents: a deterministic sentence splitter and the
coverage tables that map every sentence to the fact nodes encoding it.

This module sits beside the pipeline, not in it: the build never reads the source texts. The
curators' tables ``data/coverage/doc-NNN.tsv`` record, for each unit of a document (a sentence,
a heading or a reference-list entry, by its index), the fact nodes that encode it or the reason
why none does; ``tests/test_coverage.py`` splits ``../shared/seeds/`` with :func:`split` and holds
the tables to it, and ``tdkg readme`` reports their figures. No sentence text is ever stored.

A row not yet done has ``none`` facts and the reason :data:`TODO`: ``tdkg new-source`` writes a
new document's table with every row so (:func:`todo_table`), ``tdkg build`` warns while any
remain and ``tdkg build --strict`` fails (:mod:`tdkg.curation.todo`).

The splitter, in full:

1. **Paragraphs are lines.** Each non-empty line of the file is one paragraph, numbered from 1.
2. **Reference entries** are paragraphs that open with a footnote number in brackets
   (``[12] Author, …``); each is one unit of kind ``reference``.
3. **Headings** are paragraphs of at most 12 words that do not end with a full stop (section
   titles, a document title, bylines, a source line); each is one unit of kind ``heading``.
4. **Sentences.** Any other paragraph is cut after ``.``, ``!`` or ``?`` — together with any
   closing quotes or brackets and footnote markers (``[12]``) that follow it — when whitespace
   and then an upper-case letter, an opening quote, a digit or ``(`` come next. A full stop
   written directly before an upper-case letter that starts a word (``stability.While``, where
   the text lost a space at a line break) also ends a sentence when a lower-case letter
   precedes it. No cut is made after the abbreviations in :data:`ABBREVIATIONS` or after a
   single capital initial. The end of a paragraph always ends a sentence.
5. **Footnote markers** belong to the sentence they end: ``markers`` lists their numbers.
6. **Indices** run from 1 over all units of the document in order (headings and reference
   entries included), so an index names one unit whatever its kind.

A footnote supports the text before its marker, back to the previous marker or the start of
the paragraph: :func:`footnote_scope` gives each sentence the first marker at or after it in
its paragraph, or none when no marker follows it (the author's own statement).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

#: words after whose full stop a sentence never ends (compared without the final full stop)
ABBREVIATIONS = frozenset({"U.S", "U.K", "U.N", "e.g", "i.e", "etc", "Dr", "Mr", "Mrs", "Ms",
                           "No", "vs", "St", "Jr", "Inc", "Co", "Ltd"})
HEADING_MAX_WORDS = 12
CLOSERS = "”\"’')]"
OPENERS = "“\"‘'("
REFERENCE = re.compile(r"^\[(\d+)\]\s")
MARKER = re.compile(r"\[(\d+)\]")
TRAILING_MARKERS = re.compile(r"(?:\[\d+\])+$")
COLUMNS = ("sentence", "paragraph", "kind", "markers", "facts", "reason")
TODO = "todo"                      # the reason of a row still to be done


@dataclass(frozen=True)
class Unit:
    """One unit of a document: a sentence, a heading or a reference-list entry."""

    index: int
    paragraph: int
    kind: str                      # "sentence", "heading" or "reference"
    markers: tuple[int, ...]       # footnote markers that close the unit
    text: str                      # kept in memory only, never written out
    reference: int | None = None   # the footnote number a reference entry defines


def split(text: str) -> list[Unit]:
    """The units of a document, in order, numbered from 1."""
    units: list[Unit] = []
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    for number, paragraph in enumerate(paragraphs, start=1):
        for kind, piece, reference in _paragraph_units(paragraph):
            markers = tuple(int(m) for m in MARKER.findall(piece)) if kind == "sentence" else ()
            units.append(Unit(len(units) + 1, number, kind, markers, piece, reference))
    return units


def _paragraph_units(paragraph: str) -> list[tuple[str, str, int | None]]:
    reference = REFERENCE.match(paragraph)
    if reference:
        return [("reference", paragraph, int(reference.group(1)))]
    if _is_heading(paragraph):
        return [("heading", paragraph, None)]
    return [("sentence", piece, None) for piece in sentences(paragraph)]


def _is_heading(paragraph: str) -> bool:
    ending = TRAILING_MARKERS.sub("", paragraph).rstrip(CLOSERS)
    return len(paragraph.split()) <= HEADING_MAX_WORDS and not ending.endswith(".")


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph (rule 4 of the module docstring)."""
    pieces, start = [], 0
    for end in _sentence_ends(paragraph):
        pieces.append(paragraph[start:end].strip())
        start = end
    rest = paragraph[start:].strip()
    return pieces + ([rest] if rest else [])


def _sentence_ends(text: str) -> list[int]:
    ends = []
    for i, char in enumerate(text):
        if char not in ".!?" or (char == "." and _is_abbreviation(text, i)):
            continue
        j = _skip_closers(text, i + 1)
        if _starts_sentence_after_space(text, j) or (j == i + 1 and _lost_space(text, i)):
            ends.append(j)
    return ends


def _skip_closers(text: str, j: int) -> int:
    while True:
        marker = MARKER.match(text, j)
        if marker:
            j = marker.end()
        elif j < len(text) and text[j] in CLOSERS:
            j += 1
        else:
            return j


def _starts_sentence_after_space(text: str, j: int) -> bool:
    k = j
    while k < len(text) and text[k].isspace():
        k += 1
    return k > j and k < len(text) and (text[k].isupper() or text[k].isdigit() or text[k] in OPENERS)


def _lost_space(text: str, i: int) -> bool:
    """``word.Next`` — a full stop glued to a capitalised word that follows a lower-case letter."""
    return (text[i] == "." and 0 < i and i + 2 < len(text) and text[i - 1].islower()
            and text[i + 1].isupper() and text[i + 2].islower())


def _is_abbreviation(text: str, i: int) -> bool:
    word = text[:i].rsplit(None, 1)[-1] if text[:i].strip() else ""
    word = word.lstrip(OPENERS)
    return word in ABBREVIATIONS or (len(word) == 1 and word.isupper())


def footnote_scope(units: list[Unit]) -> dict[int, int | None]:
    """For each sentence, the footnote whose scope covers it: the first marker at or after it in
    the same paragraph, or None after the paragraph's last marker."""
    scope: dict[int, int | None] = {}
    pending: list[Unit] = []
    for unit in units + [Unit(0, -1, "end", (), "")]:
        if pending and unit.paragraph != pending[-1].paragraph:
            scope.update({u.index: None for u in pending})
            pending = []
        if unit.kind != "sentence":
            continue
        pending.append(unit)
        if unit.markers:
            scope.update({u.index: unit.markers[0] for u in pending})
            pending = []
    return scope


# --- the seeds and the coverage tables ------------------------------------------------------

def seed_files(seeds: Path) -> dict[str, Path]:
    """``{"000": path, …}``: the source documents, keyed by their three-digit number."""
    return {path.name[:3]: path for path in sorted(seeds.glob("[0-9][0-9][0-9]_*.txt"))}


@dataclass(frozen=True)
class Row:
    """One row of a coverage table."""

    sentence: int
    paragraph: int
    kind: str
    markers: tuple[int, ...]
    facts: tuple[str, ...]         # prefixed IRIs; empty when the row gives a reason
    reason: str

    @property
    def todo(self) -> bool:
        """Not yet done: no facts, and the reason :data:`TODO`."""
        return not self.facts and self.reason == TODO


def read_table(path: Path) -> list[Row]:
    """A coverage table: tab-separated, one header line (:data:`COLUMNS`). A malformed row
    raises ValueError naming the file and line."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}:1: columns must be {COLUMNS}, not {reader.fieldnames}")
        rows = []
        for record in reader:
            try:
                rows.append(_row(record))
            except (ValueError, TypeError, AttributeError) as err:
                raise ValueError(f"{path}:{reader.line_num}: not a coverage row ({err})") from None
        return rows


def todo_table(units: list[Unit]) -> str:
    """The table of a document no row of which is done yet: one :data:`TODO` row per unit."""
    lines = ["\t".join(COLUMNS)]
    for u in units:
        markers = ",".join(str(m) for m in u.markers) or "-"
        lines.append(f"{u.index}\t{u.paragraph}\t{u.kind}\t{markers}\tnone\t{TODO}")
    return "\n".join(lines) + "\n"


def _row(record: dict[str, str]) -> Row:
    markers = tuple(int(m) for m in record["markers"].split(",") if m.strip() and m != "-")
    facts = tuple(record["facts"].split()) if record["facts"].strip() != "none" else ()
    return Row(int(record["sentence"]), int(record["paragraph"]), record["kind"], markers,
               facts, record["reason"].strip())


def tables(coverage_dir: Path) -> dict[str, list[Row]]:
    """``{"000": rows, …}`` for every ``doc-NNN.tsv`` in the folder."""
    return {path.stem[4:]: read_table(path) for path in sorted(coverage_dir.glob("doc-*.tsv"))}


def summary(rows: list[Row]) -> dict[str, float]:
    """Figures of one table: units, sentences, sentences mapped to facts, fact nodes, and fact
    nodes per mapped sentence."""
    sentence_rows = [r for r in rows if r.kind == "sentence"]
    mapped = [r for r in sentence_rows if any(f.startswith("tdi:") for f in r.facts)]
    facts = {f for r in rows for f in r.facts if f.startswith("tdi:")}
    mentions = sum(len([f for f in r.facts if f.startswith("tdi:")]) for r in mapped)
    return {"units": len(rows), "sentences": len(sentence_rows), "mapped": len(mapped),
            "facts": len(facts), "per_sentence": mentions / len(mapped) if mapped else 0.0}
