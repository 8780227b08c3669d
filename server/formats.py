"""Result formats and content negotiation (SPARQL 1.1 Protocol §2.1.5, RFC 9110 §12.5.1).

SELECT and ASK answers come as SPARQL Results JSON (the default), XML, CSV or TSV; CONSTRUCT and
DESCRIBE answers as Turtle (the default), N-Triples, JSON-LD or RDF/XML. ``format=`` overrides the
Accept header so that a plain link can ask for a format.

The endpoint negotiates forgivingly (:func:`negotiate`), because common clients ask in ways the
protocol does not foresee: SPARQLWrapper sends ``format=`` several times (a name, then a
comma-separated list of media types), rdflib's ``SPARQLStore`` asks for SPARQL results even for
a CONSTRUCT. Names and media types are read in order; one that does not fit the query form is
passed over; a client that only asked for formats of the other family (results for a graph, or a
graph for results) gets the form's default; only a request that names nothing this endpoint
knows gets nothing (406). :func:`choose` is the strict reading the other routes use.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header


@dataclasses.dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)


RESULTS = (
    Format("json", "application/sparql-results+json", ("application/json",), ("json", "srj")),
    Format("xml", "application/sparql-results+xml", ("application/xml", "text/xml"), ("xml", "srx")),
    Format("csv", "text/csv", (), ("csv",)),
    Format("tsv", "text/tab-separated-values", (), ("tsv",)),
)
# Turtle is N3 too, so N3 clients (SPARQLWrapper's "n3") get Turtle
GRAPHS = (
    Format("turtle", "text/turtle",
           ("application/x-turtle", "application/turtle", "text/n3", "text/rdf+n3",
            "application/n3"), ("turtle", "ttl", "n3")),
    Format("ntriples", "application/n-triples", ("text/plain",), ("ntriples", "nt", "n-triples")),
    Format("jsonld", "application/ld+json", ("application/json", "application/x-json+ld"),
           ("jsonld", "json-ld", "json")),
    Format("rdfxml", "application/rdf+xml", ("application/xml", "text/xml"),
           ("rdfxml", "rdf", "xml", "owl", "rdf+xml")),
)
BY_NAME = {f.name: f for f in RESULTS + GRAPHS}
#: media types that say "a SPARQL or RDF client": asked for alone on the wrong query form, they
#: get that form's default rather than 406 (N-Quads and TriG readers read N-Triples and Turtle)
UNDERSTOOD = frozenset(t for f in RESULTS + GRAPHS for t in f.media_types) | {
    "application/n-quads", "application/trig", "text/javascript", "application/javascript"}
NAMES = frozenset(k for f in RESULTS + GRAPHS for k in f.keywords)


class NoAcceptableFormat(Exception):
    def __init__(self, offered: tuple[Format, ...]):
        self.offered = offered
        super().__init__("none of the requested media types can be produced; available: "
                         + ", ".join(f.media_type for f in offered))


def choose(offered: tuple[Format, ...], accept: str | None, keyword: str | None = None) -> Format:
    """The format for an answer: ``keyword`` (the format= parameter) wins, then the Accept header
    with its q-values; no header or ``*/*`` gives the first offered format."""
    if keyword:
        for fmt in offered:
            if keyword.lower() in fmt.keywords or keyword == fmt.media_type:
                return fmt
        raise NoAcceptableFormat(offered)
    if not accept or not accept.strip():
        return offered[0]
    header = parse_accept_header(accept, MIMEAccept)
    candidates = [mt for fmt in offered for mt in fmt.media_types]
    best = header.best_match(candidates)
    if best is None:
        raise NoAcceptableFormat(offered)
    return next(fmt for fmt in offered if best in fmt.media_types)


def negotiate(offered: tuple[Format, ...], accept: str | None, keywords: Iterable[str] = (),
              by_accept: tuple[Format, ...] | None = None) -> Format | None:
    """The format for a query's answer, forgiving (see the module's docstring): each ``format=``
    value in order (a name, a media type or a comma-separated list of them), then the Accept
    header (q-values; equal ones in the client's order) over ``by_accept`` (default: all
    ``offered``); else the first offered format when the client asked for nothing, for anything
    (``*/*``) or only for formats this endpoint knows but cannot give this query. None when it
    named only things this endpoint does not know."""
    understood = False
    for value in keywords:
        value = value.strip()
        if "/" in value:
            ranges = [(media, q) for media, q in _ranges(value) if media != "*/*"]
            fmt = _best(offered, ranges, in_order=True)
            understood = understood or any(media in UNDERSTOOD for media, _ in ranges)
        else:
            fmt = next((f for f in offered if value.lower() in f.keywords), None)
            understood = understood or value.lower() in NAMES
        if fmt is not None:
            return fmt
    if not accept or not accept.strip():
        return offered[0]
    ranges = _ranges(accept)
    fmt = _best(by_accept or offered, ranges)
    if fmt is not None:
        return fmt
    if understood or any(media in UNDERSTOOD for media, q in ranges if q > 0):
        return offered[0]
    return None


def _ranges(header: str) -> list[tuple[str, float]]:
    """(media range, q) of an Accept-style list; parameters other than q are ignored (clients
    send ``text/turtle; charset=utf-8``)."""
    out = []
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if "/" not in media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        out.append((media.lower(), q))
    return out


def _best(offered: tuple[Format, ...], ranges: list[tuple[str, float]],
          in_order: bool = False) -> Format | None:
    """The offered format the ranges prefer: for each format the most specific range that
    matches one of its media types gives its q; the highest q wins, then (or, ``in_order``, before
    q) the range the client listed first, then the more specific range, then the offered order."""
    best, best_rank = None, None
    for index, fmt in enumerate(offered):
        match = None
        for position, (media, q) in enumerate(ranges):
            specificity = _specificity(media, fmt.media_types)
            if specificity is not None and (match is None or specificity > match[0]):
                match = (specificity, q, position)
        if match is None or match[1] <= 0:
            continue
        specificity, q, position = match
        rank = (-position, q) if in_order else (q, -position)
        rank = (*rank, specificity, -index)
        if best_rank is None or rank > best_rank:
            best, best_rank = fmt, rank
    return best


def _specificity(media: str, types: tuple[str, ...]) -> int | None:
    if media in types:
        return 2
    if media.endswith("/*") and media != "*/*" and any(t.startswith(media[:-1]) for t in types):
        return 1
    return 0 if media == "*/*" else None


def prefers_html(accept: MIMEAccept, keyword: str | None = None) -> bool:
    """A page rather than JSON: ``format=html`` or ``json`` decides; otherwise the Accept header
    must rank text/html above application/json, as a browser's does (``*/*`` alone does not)."""
    if keyword:
        return keyword.lower() == "html"
    return accept["text/html"] > accept["application/json"]


def offered_for(form: str | None) -> tuple[Format, ...]:
    return GRAPHS if form in ("CONSTRUCT", "DESCRIBE") else RESULTS


def accepted_for(form: str | None) -> tuple[Format, ...]:
    """The formats the Accept header may pick for ``form``. CSV and TSV define no boolean, so
    an ASK gets them only by name (``format=csv``: a bare ``true``); a client that asks for
    them by Accept alone, as rdflib's SPARQLStore does, reads the media type it gets and
    cannot read a boolean from them: it gets JSON."""
    return RESULTS[:2] if form == "ASK" else offered_for(form)
