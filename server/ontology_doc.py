"""The ontology document served at ``/ontology``: RDF in four syntaxes and pyLODE's HTML.

The build leaves RDF/XML (``owl/tdkg.owl``, the file the OWL API checks) and the HTML
documentation (``owl/tdkg.html``) in its folder; other syntaxes are serialized from the store's
ontology graph by a query worker. Each build's documents are made once and kept in memory
(they are small: the ontology is about 1,400 triples).
"""
from __future__ import annotations

import threading
from pathlib import Path

import rdflib

from tdkg.pipeline import ontology_html
from tdkg.pipeline.owl_export import ONTOLOGY_FILE

from .sparql import call_worker

_LOCK = threading.Lock()
_CACHE: dict[str, "OntologyDocument"] = {}


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
        if "html" not in self._bodies:
            built = self.build_dir / "owl" / ontology_html.HTML_FILE
            if built.exists():
                self._bodies["html"] = built.read_bytes()
            else:   # a build made without the OWL files (benchmarks): render it now, once
                graph = rdflib.Graph().parse(data=self.rdf("ntriples"), format="nt")
                self._bodies["html"] = ontology_html.render(graph).encode()
        return self._bodies["html"]


def for_build(build_dir: Path, pool) -> OntologyDocument:
    key = str(build_dir)
    with _LOCK:
        doc = _CACHE.get(key)
        if doc is None:
            _CACHE.clear()          # one build is served at a time
            doc = _CACHE[key] = OntologyDocument(build_dir, pool)
        return doc
