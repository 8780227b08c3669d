"""The ontology document served at ``/ontology``: RDF in four syntaxes and an HTML page.

The build leaves RDF/XML (``owl/tdkg.owl``, the file the OWL API checks) and the body of the
documentation page (``owl/tdkg.html``, by :mod:`tdkg.pipeline.ontology_html`) in its folder;
other syntaxes are serialized from the store's ontology graph by a query worker. The page is the
body in the site's layout (``templates/ontology.html``) with the build's RDF/XML downloads
(ontology and data, for OWL tools) linked. Each build's documents are made once and kept in
memory (they are small: the ontology is about 1,400 triples).
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import rdflib
from flask import render_template
from markupsafe import Markup

from tdkg.pipeline import downloads, ontology_html
from tdkg.pipeline.owl_export import ONTOLOGY_FILE

from .sparql import call_worker
from .void import download_rows

_LOCK = threading.Lock()
_CACHE: dict[str, OntologyDocument] = {}


class OntologyDocument:
    def __init__(self, build_dir: Path, pool):
        self.build_dir, self.pool = build_dir, pool
        self._bodies: dict[str, bytes] = {}
        self.version_iri = self._worker("ntriples")["version_iri"]

    def _worker(self, fmt: str) -> dict:
        result = call_worker(self.pool, {"op": "ontology", "fmt": fmt})
        self._bodies.setdefault(fmt, result["body"])
        return result

    def rdf(self, fmt: str) -> bytes:
        if fmt not in self._bodies:
            built = self.build_dir / "owl" / ONTOLOGY_FILE
            if fmt == "rdfxml" and built.exists():
                self._bodies[fmt] = built.read_bytes()
            else:
                self._worker(fmt)
        return self._bodies[fmt]

    def html(self) -> bytes:
        """The documentation page (needs Flask's app context, for the templates)."""
        if "html" not in self._bodies:
            body = self._documentation()
            files = download_rows(downloads.read_manifest(self.build_dir))
            links = render_template("ontology_downloads.html", count=len(files), rdfxml=[
                f for f in files if f["media_type"] == "application/rdf+xml"])
            title = re.search(r"<h1>(.*?)</h1>", body, re.DOTALL)
            self._bodies["html"] = render_template(
                "ontology.html", title=Markup(title.group(1) if title else "Ontology"),
                body=Markup(body.replace(ontology_html.DOWNLOADS_SLOT, links, 1))).encode()
        return self._bodies["html"]

    def _documentation(self) -> str:
        built = self.build_dir / "owl" / ontology_html.HTML_FILE
        if built.exists():
            return built.read_text(encoding="utf-8")
        # a build made without the OWL files (benchmarks): render it now, once
        graph = rdflib.Graph().parse(data=self.rdf("ntriples"), format="nt")
        return ontology_html.render(graph)


def for_build(build_dir: Path, pool) -> OntologyDocument:
    key = str(build_dir)
    with _LOCK:
        doc = _CACHE.get(key)
        if doc is None:
            _CACHE.clear()          # one build is served at a time
            doc = _CACHE[key] = OntologyDocument(build_dir, pool)
        return doc
