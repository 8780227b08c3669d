"""The shape of SPARQL 1.1 Query Results JSON that TDKG checks, decoded with msgspec: each row
is kept as its JSON text (``msgspec.Raw``), so that an answer's rows are counted, and cut, at
about 1 ms a megabyte, without a Python object per term. Used for a remote store's answers
(:mod:`.build_view`) and for the embedded store's answers written by pyoxigraph
(:func:`tdkg.server.results.native_json`)."""
from __future__ import annotations

import msgspec


class Results(msgspec.Struct):
    bindings: list[msgspec.Raw]         # each row is checked as JSON, not turned into objects


class Head(msgspec.Struct):
    vars: list[str] = []


class Shape(msgspec.Struct):
    """The parts of SPARQL 1.1 results JSON that are checked (others, such as Virtuoso's
    ``link`` or ``distinct``, are left as they are)."""

    head: Head
    results: Results | None = None
    boolean: bool | None = None


RESULTS_SHAPE = msgspec.json.Decoder(Shape)
