"""Result formats and content negotiation (SPARQL 1.1 Protocol §2.1.5, RFC 9110 §12.5.1).

SELECT and ASK answers come as SPARQL Results JSON (the default), XML, CSV or TSV; CONSTRUCT and
DESCRIBE answers as Turtle (the default), N-Triples, JSON-LD or RDF/XML. ``format=`` overrides the
Accept header so that a plain link can ask for a format.
"""
from __future__ import annotations

import dataclasses

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
GRAPHS = (
    Format("turtle", "text/turtle", ("application/x-turtle",), ("turtle", "ttl")),
    Format("ntriples", "application/n-triples", ("text/plain",), ("ntriples", "nt", "n-triples")),
    Format("jsonld", "application/ld+json", ("application/json",), ("jsonld", "json-ld", "json")),
    Format("rdfxml", "application/rdf+xml", ("application/xml", "text/xml"), ("rdfxml", "rdf", "xml", "owl")),
)
BY_NAME = {f.name: f for f in RESULTS + GRAPHS}


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


def prefers_html(accept: MIMEAccept, keyword: str | None = None) -> bool:
    """A page rather than JSON: ``format=html`` or ``json`` decides; otherwise the Accept header
    must rank text/html above application/json, as a browser's does (``*/*`` alone does not)."""
    if keyword:
        return keyword.lower() == "html"
    return accept["text/html"] > accept["application/json"]


def offered_for(form: str | None) -> tuple[Format, ...]:
    return GRAPHS if form in ("CONSTRUCT", "DESCRIBE") else RESULTS
