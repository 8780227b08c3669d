"""What the store says about one IRI: the data behind a resource page and its RDF documents.

Runs in the query worker processes (no Flask here), like :mod:`.execute`. Two operations:

* :func:`describe_rdf` — the resource's symmetric bounded description: every triple with the IRI
  as subject or object in the asserted (and, unless inference is off, inferred) graph, serialized;
  JSON-LD compacted with the project's context (:mod:`tdkg.jsonld`), the resource's node first.
* :func:`page_model` — a plain dict for the HTML page: names, types, outgoing and incoming links
  with the graph each comes from, the fact nodes the resource takes part in with their epistemic
  status and sources (document, footnote, cited URL), and for inferred triples their status from
  the derivation table, so the page can link each one to its explanation.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pyoxigraph as ox

from tdkg import jsonld
from tdkg import namespaces as ns
from tdkg.pipeline import derivations, downloads

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
LABEL = ox.NamedNode(RDFS + "label")
ALT_LABEL = ox.NamedNode(SKOS + "altLabel")
DEFINITION = ox.NamedNode(SKOS + "definition")
COMMENT = ox.NamedNode(RDFS + "comment")
EXACT_MATCH = ox.NamedNode(SKOS + "exactMatch")
STATUS = ox.NamedNode(ns.TDKG + "status")
STATED_IN = ox.NamedNode(ns.TDKG + "statedIn")
CITATION = ox.NamedNode(ns.TDKG + "citation")
FOOTNOTE_NUMBER = ox.NamedNode(ns.TDKG + "footnoteNumber")
CITES_WORK = ox.NamedNode(ns.TDKG + "citesWork")
URL = ox.NamedNode("https://schema.org/url")
STRENGTH = ox.NamedNode(ns.TDKG + "strength")
WIKIDATA = "http://www.wikidata.org/entity/"
#: properties shown in the page header rather than in the table of statements
HEADER_PROPERTIES = {LABEL, ALT_LABEL, RDF_TYPE, EXACT_MATCH, COMMENT, DEFINITION}
#: fact-node properties shown in the "source" column rather than as participants
SOURCE_PROPERTIES = {STATUS, STATED_IN, CITATION}
RDF_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
               "jsonld": ox.RdfFormat.JSON_LD, "rdfxml": ox.RdfFormat.RDF_XML}

ASSERTED, INFERRED, ONTOLOGY = (ox.NamedNode(g) for g in
                                (ns.GRAPH_ASSERTED, ns.GRAPH_INFERRED, ns.GRAPH_ONTOLOGY))
GRAPH_NAMES = {ASSERTED: "asserted", INFERRED: "inferred", ONTOLOGY: "ontology"}


def _graphs(inference: bool) -> list[ox.NamedNode]:
    return [ONTOLOGY, ASSERTED, INFERRED] if inference else [ONTOLOGY, ASSERTED]


def quads_about(store: ox.Store, iri: str, inference: bool = True) -> list[ox.Quad]:
    node = ox.NamedNode(iri)
    found: list[ox.Quad] = []
    for graph in _graphs(inference):
        found.extend(store.quads_for_pattern(node, None, None, graph))
        found.extend(q for q in store.quads_for_pattern(None, None, node, graph) if q.subject != node)
    return found


def exists_op(store: ox.Store, job: dict) -> dict:
    found = exists(store, job["iri"])
    return {"kind": "exists", "fmt": None, "body": b"", "count": int(found), "truncated": False}


def exists(store: ox.Store, iri: str) -> bool:
    node = ox.NamedNode(iri)
    for graph in _graphs(True):
        for _ in store.quads_for_pattern(node, None, None, graph):
            return True
        for _ in store.quads_for_pattern(None, None, node, graph):
            return True
    return False


def describe_rdf(store: ox.Store, job: dict) -> dict:
    """The resource's description as an RDF document in ``job['fmt']``."""
    quads = quads_about(store, job["iri"], job.get("inference", True))
    if not quads:
        return {"kind": "graph", "fmt": job["fmt"], "body": b"", "count": 0, "truncated": False}
    triples = list(dict.fromkeys(ox.Triple(q.subject, q.predicate, q.object) for q in quads))
    body = serialize(store, job, triples, first=job["iri"])
    return {"kind": "graph", "fmt": job["fmt"], "body": body, "count": len(triples),
            "truncated": False}


def serialize(store: ox.Store, job: dict, triples: list[ox.Triple],
              first: str | None = None) -> bytes:
    """``triples`` in the job's format: JSON-LD compacted with the context that
    ``/context.jsonld`` serves (node ``first`` first), the others with the project's prefixes."""
    if job["fmt"] == "jsonld":
        return jsonld.dumps(jsonld.compact(triples, _context(store, job), first=first))
    out = io.BytesIO()
    fmt = RDF_FORMATS[job["fmt"]]
    ox.serialize(triples, out, format=fmt,
                 prefixes=None if fmt == ox.RdfFormat.N_TRIPLES else ns.PREFIXES)
    return out.getvalue()


#: store path → its JSON-LD context; a worker serves one store, made by one build
_CONTEXTS: dict[str, dict] = {}


def _context(store: ox.Store, job: dict) -> dict:
    """The context ``/context.jsonld`` serves for this store's build (its downloads' file);
    made from the store's ontology when the build has no downloads."""
    key = job["store_path"]
    if key not in _CONTEXTS:
        published = Path(key).parent / downloads.FOLDER / downloads.CONTEXT
        try:
            _CONTEXTS[key] = json.loads(published.read_text(encoding="utf-8"))["@context"]
        except (OSError, ValueError, KeyError):
            _CONTEXTS[key] = jsonld.context_of(store)["@context"]
    return _CONTEXTS[key]


class _Labels:
    """rdfs:label lookups (English first) with a cache, for every term a page shows."""

    def __init__(self, store: ox.Store):
        self.store, self.cache = store, {}

    def of(self, term) -> str | None:
        if not isinstance(term, ox.NamedNode):
            return None
        if term.value not in self.cache:
            labels = [q.object for g in (ASSERTED, ONTOLOGY)
                      for q in self.store.quads_for_pattern(term, LABEL, None, g)]
            english = [lit.value for lit in labels if getattr(lit, "language", None) == "en"]
            plain = [lit.value for lit in labels]
            self.cache[term.value] = (english or plain or [None])[0]
        return self.cache[term.value]


def term_dict(term, labels: _Labels) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"kind": "iri", "value": term.value, "label": labels.of(term), "nt": str(term)}
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value if term.datatype else None
        return {"kind": "literal", "value": term.value, "lang": term.language,
                "datatype": None if term.language else datatype, "nt": str(term)}
    return {"kind": "bnode", "value": str(term), "nt": str(term)}


def _objects(store: ox.Store, subject, predicate, graphs=(ASSERTED,)) -> list:
    return [q.object for g in graphs for q in store.quads_for_pattern(subject, predicate, None, g)]


def sources_of(store: ox.Store, fact, labels: _Labels) -> dict:
    """Epistemic status and sources of a fact node (empty if it carries none)."""
    status = _objects(store, fact, STATUS)
    documents = [term_dict(d, labels) for d in _objects(store, fact, STATED_IN)]
    footnotes = []
    for note in _objects(store, fact, CITATION):
        number = _objects(store, note, FOOTNOTE_NUMBER)
        urls = [u.value for work in _objects(store, note, CITES_WORK)
                for u in _objects(store, work, URL)]
        documents_of_note = _objects(store, note, ox.NamedNode("http://purl.org/dc/terms/isPartOf"))
        footnotes.append({"iri": note.value, "number": number[0].value if number else None,
                          "urls": urls, "document": labels.of(documents_of_note[0])
                          if documents_of_note else None})
    return {"status": term_dict(status[0], labels) if status else None,
            "documents": documents, "footnotes": footnotes}


def page_model(store: ox.Store, job: dict) -> dict:
    iri = job["iri"]
    node = ox.NamedNode(iri)
    labels = _Labels(store)
    quads = quads_about(store, iri, True)
    if not quads:
        return {"kind": "page", "found": False, "body": b"", "count": 0, "truncated": False}
    explainer = _explainer(job)
    try:
        model = _model(store, node, quads, labels, explainer)
    finally:
        if explainer is not None:
            explainer.close()
    return {"kind": "page", "found": True, "model": model, "body": b"", "count": len(quads),
            "truncated": False}


def _explainer(job: dict):
    build_dir = Path(job["store_path"]).parent
    if not (build_dir / derivations.FILE).exists():
        return None
    return derivations.Explainer(build_dir)


def _status_of_inferred(explainer, labels: _Labels, quad: ox.Quad) -> dict | None:
    iri = explainer and explainer.status(str(quad.subject), str(quad.predicate), str(quad.object))
    return term_dict(ox.NamedNode(iri), labels) if iri else None


def _model(store, node, quads, labels: _Labels, explainer) -> dict:
    names = [lit for lit in _objects(store, node, LABEL, (ASSERTED, ONTOLOGY))]
    alt = [lit.value for lit in _objects(store, node, ALT_LABEL, (ASSERTED, ONTOLOGY))]
    asserted_types = {q.object for q in quads if q.subject == node and q.predicate == RDF_TYPE
                      and q.graph_name != INFERRED}
    inferred_types = {q.object for q in quads if q.subject == node and q.predicate == RDF_TYPE
                      and q.graph_name == INFERRED} - asserted_types
    statements, incoming, facts = [], [], []
    seen_facts = set()
    is_fact: dict = {}      # subject → whether it is a fact node (carries an asserted status)
    for quad in quads:
        graph = GRAPH_NAMES.get(quad.graph_name, "other")
        row = {"predicate": term_dict(quad.predicate, labels), "graph": graph}
        if graph == "inferred":
            row["status"] = _status_of_inferred(explainer, labels, quad)
            row["why"] = {"s": str(quad.subject), "p": str(quad.predicate), "o": str(quad.object)}
        if quad.subject == node:
            if quad.predicate in HEADER_PROPERTIES or (quad.predicate in SOURCE_PROPERTIES
                                                      and graph == "asserted"):
                continue
            row["object"] = term_dict(quad.object, labels)
            statements.append(row)
            continue
        row["subject"] = term_dict(quad.subject, labels)
        if quad.subject not in is_fact:
            is_fact[quad.subject] = bool(_objects(store, quad.subject, STATUS))
        if is_fact[quad.subject]:                    # a fact node: listed once, with its source
            if quad.subject not in seen_facts:
                seen_facts.add(quad.subject)
                facts.append(_fact(store, quad.subject, node, labels))
        else:
            incoming.append(row)
    own = sources_of(store, node, labels)
    statements.sort(key=lambda r: (r["graph"] == "inferred", r["predicate"]["label"] or
                                   r["predicate"]["value"], str(r["object"]["value"])))
    incoming.sort(key=lambda r: (r["graph"] == "inferred", r["predicate"]["label"] or "",
                                 r["subject"]["label"] or r["subject"]["value"]))
    facts.sort(key=lambda f: (-(f["year"] or 0), f["label"] or f["iri"]))
    wikidata = [t.value for t in _objects(store, node, EXACT_MATCH) if t.value.startswith(WIKIDATA)]
    return {
        "iri": node.value,
        "label": _preferred(names),
        "labels": [term_dict(n, labels) for n in names],
        "alt_labels": sorted(set(alt)),
        "types": [term_dict(t, labels) for t in sorted(asserted_types, key=str)],
        "inferred_types": [term_dict(t, labels) for t in sorted(inferred_types, key=str)],
        "comments": [lit.value for lit in _objects(store, node, COMMENT, (ASSERTED, ONTOLOGY))],
        "definitions": [lit.value for lit in _objects(store, node, DEFINITION, (ASSERTED, ONTOLOGY))],
        "wikidata": wikidata,
        "other_matches": [t.value for t in _objects(store, node, EXACT_MATCH)
                          if not t.value.startswith(WIKIDATA)],
        "own_source": own if own["status"] or own["documents"] else None,
        "statements": statements,
        "facts": facts,
        "incoming": incoming,
    }


def _preferred(names: list) -> str | None:
    english = [n.value for n in names if getattr(n, "language", None) == "en"]
    return (english or [n.value for n in names] or [None])[0]


YEARS = [ox.NamedNode(ns.TDKG + p) for p in ("year", "startYear", "endYear")]


def _fact(store, fact, focus, labels: _Labels) -> dict:
    """One fact node the focus resource takes part in: its kind, the focus's role in it, the
    other participants, its year(s), status and sources."""
    roles, others = [], []
    for quad in store.quads_for_pattern(fact, None, None, ASSERTED):
        if quad.object == focus:                 # also "stated in", on a document's page
            roles.append(term_dict(quad.predicate, labels))
        elif quad.predicate in HEADER_PROPERTIES or quad.predicate in SOURCE_PROPERTIES:
            continue
        elif isinstance(quad.object, ox.NamedNode) and quad.predicate not in YEARS:
            others.append({"predicate": term_dict(quad.predicate, labels),
                           "object": term_dict(quad.object, labels)})
    years = {p.value.rsplit("#", 1)[1]: int(o.value) for p in YEARS
             for o in _objects(store, fact, p) if o.value.lstrip("-").isdigit()}
    types = [term_dict(t, labels) for t in _objects(store, fact, RDF_TYPE)]
    return {"iri": fact.value, "label": labels.of(fact), "types": types, "roles": roles,
            "others": others, "years": years,
            "year": years.get("year") or years.get("startYear") or years.get("endYear"),
            **sources_of(store, fact, labels)}


OWL_ONTOLOGY = ox.NamedNode("http://www.w3.org/2002/07/owl#Ontology")
VERSION_IRI = ox.NamedNode("http://www.w3.org/2002/07/owl#versionIRI")


def ontology_rdf(store: ox.Store, job: dict) -> dict:
    """The ontology graph as one document in ``job['fmt']``, and its version IRI."""
    triples = [ox.Triple(q.subject, q.predicate, q.object)
               for q in store.quads_for_pattern(None, None, None, ONTOLOGY)]
    header = next((t.subject for t in triples
                   if t.predicate == RDF_TYPE and t.object == OWL_ONTOLOGY), None)
    version = next((t.object.value for t in triples
                    if t.subject == header and t.predicate == VERSION_IRI), None)
    body = serialize(store, job, triples, first=header.value if header is not None else None)
    return {"kind": "graph", "fmt": job["fmt"], "body": body, "count": len(triples),
            "truncated": False, "version_iri": version}


def labels_in(store: ox.Store, tree) -> dict[str, str]:
    """The rdfs:label of every IRI mentioned in an explanation tree (for people reading it)."""
    labels, found = _Labels(store), {}

    def visit(value) -> None:
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, str):
            iri = value[1:-1] if value.startswith("<") and value.endswith(">") else value
            if iri.startswith(("http://", "https://")) and iri not in found:
                try:
                    label = labels.of(ox.NamedNode(iri))
                except ValueError:      # not an IRI after all
                    return
                if label:
                    found[iri] = label

    visit(tree)
    return found
