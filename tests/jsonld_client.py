"""JSON-LD as a client reads it, offline: the documents name their context by its canonical URL
(https://w3id.org/tdkg/context.jsonld), which the test server answers at /context.jsonld.

``loader(server)`` is a pyld document loader that fetches https://w3id.org/tdkg/… from the test
server (as the w3id redirect will do for the deployment) and refuses every other URL, so a test
that passes never needed the network. ``inline(document, server)`` puts the served context into a
document, for parsers that take no loader (rdflib, Oxigraph).
"""
from __future__ import annotations

import json
from collections.abc import Callable

import requests
from pyld import jsonld

from tdkg import namespaces as ns


def loader(server) -> Callable[[str, dict], dict]:
    def load(url: str, options: dict | None = None) -> dict:
        if url.startswith(server.url + "/"):     # served documents name the server's copy
            url = ns.BASE + url.removeprefix(server.url + "/")
        if not url.startswith(ns.BASE):
            raise jsonld.JsonLdError(f"the tests load nothing from outside: {url}",
                                     "jsonld.LoadDocumentError", code="loading document failed")
        response = requests.get(server.url + "/" + url.removeprefix(ns.BASE),
                                headers={"Accept": "application/ld+json"}, timeout=30)
        response.raise_for_status()
        return {"contentType": response.headers["Content-Type"].split(";")[0],
                "contextUrl": None, "documentUrl": url, "document": response.json()}
    return load


def options(server) -> dict:
    return {"documentLoader": loader(server)}


def served_context(server) -> dict:
    """The ``@context`` dict the server publishes at /context.jsonld."""
    response = requests.get(server.url + "/context.jsonld", timeout=30)
    response.raise_for_status()
    return response.json()["@context"]


def inline(document: bytes | str | dict, context: dict) -> str:
    """The document (JSON text or parsed) with its context URL replaced by ``context``."""
    parsed = json.loads(document) if isinstance(document, (bytes, str)) else dict(document)
    assert parsed["@context"].endswith("/context.jsonld"), parsed["@context"]
    return json.dumps({**parsed, "@context": context})
