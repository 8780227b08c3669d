"""The ontology's HTML documentation, made by pyLODE from the ontology graph.

pyLODE (3.3.x; the 3.4 wheel cannot import its own version file) writes one self-contained page —
styles inline, no script or font fetched from elsewhere — listing every class and property with
its label, definition, super-classes, domains and ranges. The build writes it next to the OWL
files so that ``/ontology`` can answer browsers without running pyLODE per request.
"""
from __future__ import annotations

import gc
import logging
import warnings

from html import escape

import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from .. import namespaces as ns

HTML_FILE = "tdkg.html"


def render(ontology: rdflib.Graph) -> str:
    from pylode import OntPub   # imported here: pyLODE loads its background ontologies on import

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(max(quiet, logging.WARNING))   # pyLODE logs at INFO on the root
    try:
        graph = rdflib.Graph(bind_namespaces="none")
        for prefix, iri in ns.PREFIXES.items():
            graph.bind(prefix, iri)
        for triple in ontology:
            graph.add(triple)
        with warnings.catch_warnings():
            # pyLODE reads its stylesheet without closing the file: a harmless ResourceWarning
            warnings.simplefilter("ignore", ResourceWarning)
            doc = OntPub(ontology=graph, sort_subjects=True)
            # pyLODE names each entry's HTML id after its label ("arms deal" → "armsdeal");
            # seeding its id table with the local names makes /ontology#ArmsDeal land on the
            # entry of https://w3id.org/tdkg/ontology#ArmsDeal
            doc.fids.update({str(term): str(term)[len(ns.TDKG):] for term in set(graph.subjects())
                             if str(term).startswith(ns.TDKG)})
            page = doc.make_html(include_css=True)
            gc.collect()
        return page.replace('<div id="namespaces">', individuals_section(graph) +
                            '<div id="namespaces">', 1)
    finally:
        logging.getLogger().setLevel(quiet)


def individuals_section(graph: rdflib.Graph) -> str:
    """The ontology's named individuals (statuses, currencies, cooperation fields, the status
    scheme, ...), which pyLODE leaves out, in the same entry layout, so that their hash IRIs land somewhere too."""
    def label(term) -> str:
        return str(graph.value(term, RDFS.label) or str(term).rsplit("#", 1)[-1])

    def link(term) -> str:
        if str(term).startswith(ns.TDKG):
            return f'<a href="#{escape(str(term)[len(ns.TDKG):])}">{escape(label(term))}</a>'
        return f"<code>{escape(str(term))}</code>"

    entries = []
    schema_kinds = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
                    OWL.Ontology, RDFS.Class, RDF.Property}
    members = [t for t in set(graph.subjects(RDF.type, None)) if str(t).startswith(ns.TDKG)
               and not schema_kinds & set(graph.objects(t, RDF.type))]
    for term in sorted(members, key=lambda t: (label(t).lower(), str(t))):
        rows = [("IRI", f"<code>{escape(str(term))}</code>")]
        types = [t for t in graph.objects(term, RDF.type) if t != OWL.NamedIndividual]
        if types:
            rows.append(("Types", ", ".join(link(t) for t in sorted(types))))
        names = sorted(str(n) for n in graph.objects(term, SKOS.altLabel))
        if names:
            rows.append(("Alternative names", escape(", ".join(names))))
        for definition in graph.objects(term, SKOS.definition):
            rows.append(("Definition", escape(str(definition))))
        table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        entries.append(f'<div class="property entity" id="{escape(str(term)[len(ns.TDKG):])}">'
                       f'<h3>{escape(label(term))} <sup class="sup-ni" title="OWL Named Individual">'
                       f'ni</sup></h3><table>{table}</table></div>')
    return ('<div class="section" id="namedindividuals"><h2>Named Individuals</h2>'
            + "".join(entries) + "</div>\n")
