"""N-Triples text as the build hands it to Oxigraph's loaders."""
from __future__ import annotations


def split_blank_lines(text: bytes) -> tuple[bytes, bytes]:
    """(the lines holding "_:", the other lines) of N-Triples text.

    Oxigraph's loaders (``Store.load``, ``Store.bulk_load``) give every blank node of the text
    a new name, on each call; the lines with blank nodes go in as quads made in Python instead,
    which keep their names. A line with "_:" inside a literal or an IRI only goes the slower
    way, which keeps it as it is too."""
    blank, rest, done = [], [], 0
    i = text.find(b"_:")
    while i >= 0:
        start = text.rfind(b"\n", 0, i) + 1
        end = text.find(b"\n", i)
        end = len(text) if end < 0 else end + 1
        rest.append(text[done:start])
        blank.append(text[start:end])
        done = end
        i = text.find(b"_:", end)
    if not blank:
        return b"", text
    rest.append(text[done:])
    return b"".join(blank), b"".join(rest)
