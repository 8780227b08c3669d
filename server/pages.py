"""Dereferencing: every ``https://w3id.org/tdkg/...`` IRI answers under the same path here.

Following the W3C note "Cool URIs for the Semantic Web":

* Things (``/id/…``, ``/source/…``) are not documents, so their IRIs answer **303 See Other**,
  pointing at a document chosen by content negotiation (§4.2, "303 URIs forwarding to different
  documents"): the HTML page ``/page/id/x`` for browsers, the RDF document ``/data/id/x.ttl``
  (or ``.nt``, ``.jsonld``, ``.rdf``) for programs. A file extension on the thing IRI
  (``/id/x.ttl``) or ``format=`` picks the document without negotiation.
* Documents answer **200**: ``/page/…`` (HTML) and ``/data/…`` (RDF; without an extension it
  negotiates and says which variant it sent in ``Content-Location``, with ``Vary: Accept``).
  JSON-LD comes compacted with the project's context, which the document's ``@context`` and a
  ``Link`` header (JSON-LD 1.1 §6.1) both name by this server's own ``/context.jsonld`` (the dumps
  name the canonical ``https://w3id.org/tdkg/context.jsonld``).
* The ontology uses hash IRIs (``/ontology#Agreement``), so ``/ontology`` is itself a document:
  200 with RDF/XML (what Protégé asks for), Turtle, N-Triples, JSON-LD or the HTML documentation
  (§4.1, "hash URIs with content negotiation"). Its version IRI answers the same way.
* Graph names (``/graph/asserted``) answer 303 to that graph's dump, or to a page about it.

A resource the graph does not hold is a 404 — an HTML page for browsers, JSON for programs.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from tdkg import jsonld
from tdkg import namespaces as ns

from . import ontology_doc
from .errors import NotAcceptable, NotFound
from .formats import BY_NAME
from .sparql import call_worker

bp = Blueprint("pages", __name__)

THING_SPACES = ("id", "source")
#: file extensions a document IRI may carry, and the format each stands for
EXTENSIONS = {"ttl": "turtle", "nt": "ntriples", "jsonld": "jsonld", "rdf": "rdfxml",
              "owl": "rdfxml", "html": "html"}
EXTENSION_OF = {"turtle": "ttl", "ntriples": "nt", "jsonld": "jsonld", "rdfxml": "rdf",
                "html": "html"}
HTML_TYPES = ("text/html", "application/xhtml+xml")
FORMAT_NAMES = {"turtle": "Turtle", "jsonld": "JSON-LD", "rdfxml": "RDF/XML", "ntriples": "N-Triples"}


def local_path(iri: str) -> str | None:
    """The path under which this server answers ``iri`` (None: not one of ours)."""
    if iri.startswith(ns.BASE):
        return "/" + iri[len(ns.BASE):]
    return None


def wants(accept: str | None, keyword: str | None, offered: tuple[str, ...]) -> str:
    """The format name to send: ``format=`` first, then the Accept header with its q-values.
    Ties, ``*/*`` and a missing header go to the first format ``offered``. Raises
    :class:`NotAcceptable`."""
    if keyword:
        key = keyword.lower()
        for name in offered:
            keys = ("html", "text/html") if name == "html" else (
                *BY_NAME[name].keywords, BY_NAME[name].media_type)
            if key in keys:
                return name
        raise NotAcceptable(f"unknown format {keyword!r}; use one of: "
                            + ", ".join(EXTENSION_OF[n] for n in offered))
    if not accept or not accept.strip():
        return offered[0]
    candidates: list[tuple[str, str]] = []
    for name in offered:
        types = HTML_TYPES if name == "html" else BY_NAME[name].media_types
        candidates.extend((t, name) for t in types if t not in (c for c, _ in candidates))
    best = parse_accept_header(accept, MIMEAccept).best_match([t for t, _ in candidates])
    if best is None:
        raise NotAcceptable("none of the requested media types can be produced; available: "
                            + ", ".join(t for t, _ in candidates))
    return next(name for t, name in candidates if t == best)


def _split_extension(name: str) -> tuple[str, str | None]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext in EXTENSIONS:
        return stem, EXTENSIONS[ext]
    return name, None


def _live():
    return current_app.config["TDKG_LIVE"].snapshot()


def _inference() -> bool:
    return request.args.get("inference", "true").lower() not in ("false", "0", "no", "off")


def _exists(iri: str) -> bool:
    return call_worker(_live().pool, {"op": "exists", "iri": iri})["count"] > 0


def _not_found(iri: str):
    raise NotFound(f"the graph holds nothing about <{iri}>", iri=iri)


# --------------------------------------------------------------------- things: 303 See Other

@bp.route("/<any(id, source):space>/<path:name>")
def thing(space: str, name: str) -> Response:
    stem, fmt = _split_extension(name)
    iri = f"{ns.BASE}{space}/{stem}"
    if fmt is None:
        fmt = wants(request.headers.get("Accept"), request.args.get("format"),
                    ("html", "turtle", "ntriples", "jsonld", "rdfxml"))
    if not _exists(iri):
        _not_found(iri)
    if fmt == "html":
        target = f"/page/{space}/{quote(stem)}"
    else:
        target = f"/data/{space}/{quote(stem)}.{EXTENSION_OF[fmt]}"
    if not _inference():
        target += "?" + urlencode({"inference": "false"})
    response = redirect(target, code=303)
    response.vary.add("Accept")
    return response


# --------------------------------------------------------------------- documents: 200

@bp.route("/data/<any(id, source):space>/<path:name>")
def data(space: str, name: str) -> Response:
    stem, fmt = _split_extension(name)
    negotiated = fmt is None
    if fmt is None:
        fmt = wants(request.headers.get("Accept"), request.args.get("format"),
                    ("turtle", "ntriples", "jsonld", "rdfxml"))
    elif fmt == "html":
        return redirect(f"/page/{space}/{quote(stem)}", code=301)
    iri = f"{ns.BASE}{space}/{stem}"
    result = call_worker(_live().pool, {"op": "describe", "iri": iri, "fmt": fmt,
                                        "inference": _inference()})
    if result["count"] == 0:
        _not_found(iri)
    response = _rdf_response(result["body"], fmt)
    if negotiated:
        response.headers["Content-Location"] = f"/data/{space}/{quote(stem)}.{EXTENSION_OF[fmt]}"
        response.vary.add("Accept")
    return response


def _rdf_response(body: bytes, fmt: str) -> Response:
    media = BY_NAME[fmt].media_type
    if media.startswith("text/") or fmt == "ntriples":
        media += "; charset=utf-8"
    context_url = request.url_root + "context.jsonld"
    if fmt == "jsonld":     # compacted with the project's context: this server's copy of it
        body = jsonld.relink(body, context_url)
    response = Response(body, content_type=media)
    response.headers["Access-Control-Allow-Origin"] = "*"
    if fmt == "jsonld":     # the body names it too; the header is for plain-JSON readers
        response.headers["Link"] = jsonld.context_link(context_url)
    return response


class PageCache:
    """Rendered resource pages of the served builds, least recently used dropped first, at most
    ``limit`` bytes: a page changes only with the build, and the largest (Türkiye's) takes the
    worker and the template a good part of a second to make."""

    def __init__(self, limit: int = 32 * 2**20):
        self.limit, self.size = limit, 0
        self.pages: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self.lock:
            body = self.pages.get(key)
            if body is not None:
                self.pages.move_to_end(key)
            return body

    def put(self, key: tuple[str, str], body: bytes) -> None:
        if len(body) > self.limit // 4:
            return
        with self.lock:
            if key in self.pages:
                return
            self.pages[key] = body
            self.size += len(body)
            while self.size > self.limit:
                _, dropped = self.pages.popitem(last=False)
                self.size -= len(dropped)


PAGES = PageCache()


@bp.route("/page/<any(id, source):space>/<path:name>")
def page(space: str, name: str) -> Response:
    iri = f"{ns.BASE}{space}/{name}"
    live = _live()
    key = (live.build_id, iri)
    body = PAGES.get(key)
    if body is None:
        result = call_worker(live.pool, {"op": "page", "iri": iri})
        if not result["found"]:
            _not_found(iri)
        path = f"/{space}/{quote(name)}"
        formats = [(FORMAT_NAMES[f], f"/data/{space}/{quote(name)}.{EXTENSION_OF[f]}")
                   for f in ("turtle", "jsonld", "rdfxml", "ntriples")]
        body = render_template("resource.html", r=result["model"], path=path, formats=formats,
                               view=View()).encode("utf-8")
        PAGES.put(key, body)
    return Response(body, content_type="text/html; charset=utf-8")


_WEB_URL = re.compile(r"(?i)https?://[^\s\x00-\x1f\x7f]*\Z")


class View:
    """Helpers the templates use to show terms: local links, compact names, explanation links."""

    @staticmethod
    def href(iri: str) -> str | None:
        """Our IRIs link to this server (``/id/x``, ``/ontology#Term``); other IRIs only when they
        are http(s) URLs. None for anything else (``javascript:``, ``data:``…): shown as text."""
        return local_path(iri) or (iri if _WEB_URL.match(iri) else None)

    @staticmethod
    def compact(iri: str) -> str:
        for prefix, base in sorted(ns.PREFIXES.items(), key=lambda kv: -len(kv[1])):
            if iri.startswith(base) and len(iri) > len(base):
                return f"{prefix}:{iri[len(base):]}"
        return iri

    @staticmethod
    def why(triple: dict) -> str:
        return "/why?" + urlencode({"s": triple["s"], "p": triple["p"], "o": triple["o"]})

    @staticmethod
    def short(label: str | None) -> str | None:
        """A document's label up to its colon ("Doc 000: article on …" → "Doc 000")."""
        return label.split(":", 1)[0] if label else label

    @staticmethod
    def host(url: str) -> str:
        host = urlsplit(url).hostname or url
        return host.removeprefix("www.")

    @staticmethod
    def datatype(iri: str | None) -> str | None:
        if iri is None or iri == "http://www.w3.org/2001/XMLSchema#string":
            return None
        return View.compact(iri)


# --------------------------------------------------------------------- graph names

@bp.route("/graph/<name>")
def graph(name: str) -> Response:
    iri = ns.GRAPH + name
    counts = _live().info.get("stats", {}).get("graphs", {})
    if iri not in counts:
        _not_found(iri)
    fmt = wants(request.headers.get("Accept"), request.args.get("format"),
                ("html", "turtle", "ntriples", "jsonld"))
    if fmt == "html":
        response = Response(render_template("graph.html", iri=iri, name=name, count=counts[iri],
                                            downloads=_downloads_of(name), view=View()),
                            content_type="text/html; charset=utf-8")
        response.vary.add("Accept")
        return response
    extension = {"turtle": "ttl", "ntriples": "nt.gz", "jsonld": "jsonld"}[fmt]
    response = redirect(f"/downloads/{name}.{extension}", code=303)
    response.vary.add("Accept")
    return response


def _downloads_of(name: str) -> list[tuple[str, str]]:
    return [(label, f"/downloads/{name}.{ext}")
            for label, ext in (("N-Triples (gzip)", "nt.gz"), ("Turtle", "ttl"),
                               ("JSON-LD", "jsonld"))]


# --------------------------------------------------------------------- the ontology

#: RDF/XML first: it is what Protégé and the OWL API ask for, and what */* gets
ONTOLOGY_FORMATS = ("rdfxml", "turtle", "ntriples", "jsonld", "html")


@bp.route("/ontology", defaults={"extension": None})
@bp.route("/ontology.<extension>")
def ontology(extension: str | None) -> Response:
    if extension is not None and extension not in EXTENSIONS:
        _not_found(ns.ONTOLOGY + "." + extension)
    fmt = EXTENSIONS[extension] if extension else wants(
        request.headers.get("Accept"), request.args.get("format"), ONTOLOGY_FORMATS)
    response = _ontology_document(fmt)
    if extension is None:
        response.headers["Content-Location"] = f"/ontology.{EXTENSION_OF[fmt]}"
        response.vary.add("Accept")
    return response


@bp.route("/ontology/<version>")
def ontology_version(version: str) -> Response:
    stem, fmt = _split_extension(version)
    live = _live()
    doc = ontology_doc.for_build(_build_dir(live), live.pool)
    if doc.version_iri != f"{ns.ONTOLOGY}/{stem}":
        _not_found(f"{ns.ONTOLOGY}/{stem}")
    if fmt is None:
        fmt = wants(request.headers.get("Accept"), request.args.get("format"), ONTOLOGY_FORMATS)
    response = _ontology_document(fmt)
    response.vary.add("Accept")
    return response


def _ontology_document(fmt: str) -> Response:
    live = _live()
    doc = ontology_doc.for_build(_build_dir(live), live.pool)
    if fmt == "html":
        return Response(doc.html(), content_type="text/html; charset=utf-8")
    return _rdf_response(doc.rdf(fmt), fmt)


def _build_dir(live) -> Path:
    return current_app.config["TDKG"].store_root / "builds" / live.build_id
