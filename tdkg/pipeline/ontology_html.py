"""The ontology's HTML documentation, made from the ontology graph at build time.

:func:`describe` reads the graph into a plain model and :func:`render` writes it as the body of
one page: the ontology's header (its one title, IRI, version, licence), the project's own classes
and properties, the concept schemes and controlled vocabularies (the ontology's subclasses of
``skos:Concept`` with their members), then the terms borrowed from other vocabularies (SKOS, ORG,
PROV, ...), each under its home vocabulary. Every ``tdkg:`` term's entry has its local name as
HTML id, so ``/ontology#ArmsDeal`` lands on it. The build writes the body next to the OWL files;
the server puts it into the site's layout and fills :data:`DOWNLOADS_SLOT` with the build's
downloads. No Flask here: Jinja alone, with autoescaping.
"""
from __future__ import annotations

import dataclasses

import jinja2
import rdflib
from markupsafe import Markup
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from .. import namespaces as ns

HTML_FILE = "tdkg.html"
#: where the server writes the links to the build's downloads
DOWNLOADS_SLOT = "<!-- tdkg:downloads -->"
#: RDF documents of the ontology, as the server answers them
FORMATS = (("RDF/XML", "/ontology.rdf"), ("Turtle", "/ontology.ttl"),
           ("N-Triples", "/ontology.nt"), ("JSON-LD", "/ontology.jsonld"))
#: names of licences an ontology may give with dcterms:license
LICENCES = {"https://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
            "https://creativecommons.org/licenses/by-sa/4.0/": "CC BY-SA 4.0",
            "https://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0"}
#: section id, heading, OWL type, badge (as pyLODE and WIDOCO mark them)
KINDS = (("classes", "Classes", OWL.Class, "c"),
         ("object-properties", "Object properties", OWL.ObjectProperty, "op"),
         ("datatype-properties", "Datatype properties", OWL.DatatypeProperty, "dp"),
         ("annotation-properties", "Annotation properties", OWL.AnnotationProperty, "ap"))
CHARACTERISTICS = {OWL.SymmetricProperty: "symmetric", OWL.TransitiveProperty: "transitive",
                   OWL.FunctionalProperty: "functional", OWL.AsymmetricProperty: "asymmetric",
                   OWL.InverseFunctionalProperty: "inverse functional",
                   OWL.ReflexiveProperty: "reflexive", OWL.IrreflexiveProperty: "irreflexive"}
NOTES = ((SKOS.definition, "definition"), (SKOS.scopeNote, "note"), (RDFS.comment, "comment"))


@dataclasses.dataclass
class Link:
    text: str
    href: str | None = None     # None: shown as text
    title: str = ""


@dataclasses.dataclass
class Entry:
    anchor: str
    iri: str
    label: str
    badge: str
    notes: list[tuple[str, str]]
    rows: list[tuple[str, list[Link], str]]     # heading, links, separator
    alt_labels: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Vocabulary:
    """An own subclass of skos:Concept with its members, and the scheme that holds them."""
    anchor: str
    label: str
    of_class: Link | None
    definition: str
    scheme: Entry | None
    concepts: list[Entry]


@dataclasses.dataclass
class Section:
    anchor: str
    title: str
    entries: list[Entry]


@dataclasses.dataclass
class Document:
    iri: str
    title: str
    version: str | None
    version_iri: str | None
    metadata: list[tuple[str, list[Link]]]
    descriptions: list[str]
    own: list[Section]
    vocabularies: list[Vocabulary]
    borrowed: list[Section]
    formats: tuple[tuple[str, str], ...] = FORMATS


def render(ontology) -> str:
    """The documentation page's body (an HTML fragment for the site's layout); ``ontology`` is
    an rdflib graph or a list of pyoxigraph triples."""
    if isinstance(ontology, list):
        from .convert import to_rdflib_graph
        ontology = to_rdflib_graph(ontology)
    return _TEMPLATE.render(doc=describe(ontology), slot=Markup(DOWNLOADS_SLOT))


def describe(graph: rdflib.Graph) -> Document:
    return _Reader(graph).document()


class _Reader:
    def __init__(self, graph: rdflib.Graph):
        self.g = graph
        headers = sorted(graph.subjects(RDF.type, OWL.Ontology))
        self.header = headers[0] if headers else rdflib.URIRef(ns.ONTOLOGY)
        declared = {k: {t for t in graph.subjects(RDF.type, kind) if isinstance(t, rdflib.URIRef)}
                    for k, _, kind, _ in KINDS}
        self.kind_of = {t: k for k, terms in declared.items() for t in terms}
        self.concepts = self._vocabulary_members()
        self.schemes = {s for s in graph.subjects(RDF.type, SKOS.ConceptScheme)}
        self.anchors = {t: self._anchor(t) for t in self.kind_of} | {
            t: self._anchor(t) for members in self.concepts.values() for t in members} | {
            t: self._anchor(t) for t in self.schemes}

    # --- names -----------------------------------------------------------------------------
    @staticmethod
    def own(term) -> bool:
        return str(term).startswith(ns.TDKG)

    def compact(self, term) -> str:
        iri = str(term)
        for prefix, namespace in ns.PREFIXES.items():
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{prefix}:{iri[len(namespace):]}"
        return iri

    def _anchor(self, term) -> str:
        return str(term)[len(ns.TDKG):] if self.own(term) else self.compact(term).replace(":", "-")

    def text(self, term, prop) -> str | None:
        values = list(self.g.objects(term, prop))
        english = [v for v in values if getattr(v, "language", None) in ("en", None)]
        return str(min(english or values)) if values else None

    def label(self, term) -> str:
        if not self.own(term):
            return self.compact(term)
        return self.text(term, RDFS.label) or self.text(term, SKOS.prefLabel) or self._anchor(term)

    def link(self, term) -> Link:
        inverse = self.g.value(term, OWL.inverseOf) if isinstance(term, rdflib.BNode) else None
        if inverse is not None:          # an inverse property expression, in a property chain
            named = self.link(inverse)
            return Link(f"inverse({named.text})", named.href, named.title)
        if term in self.anchors:
            return Link(self.label(term), "#" + self.anchors[term])
        if isinstance(term, rdflib.URIRef) and str(term).startswith(("http://", "https://")):
            return Link(LICENCES.get(str(term), self.compact(term)), str(term), str(term))
        return Link(str(term))

    def links(self, terms) -> list[Link]:
        named = {t for t in terms if isinstance(t, rdflib.URIRef)}
        return [self.link(t) for t in sorted(named, key=lambda t: (self.label(t).lower(), t))]

    # --- the document ----------------------------------------------------------------------
    def document(self) -> Document:
        g, h = self.g, self.header
        title = (self.text(h, DCTERMS.title) or self.text(h, RDFS.label) or str(h))
        version_iri = g.value(h, OWL.versionIRI)
        metadata = [(name, self.links(g.objects(h, prop)) or
                     [Link(str(v)) for v in sorted(g.objects(h, prop))])
                    for name, prop in (("Creator", DCTERMS.creator), ("Publisher", DCTERMS.publisher),
                                       ("Licence", DCTERMS.license), ("Imports", OWL.imports))
                    if (h, prop, None) in g]
        descriptions = [str(d) for p in (DCTERMS.description, RDFS.comment)
                        for d in sorted(g.objects(h, p))]
        own = [Section(k, heading, self.entries([t for t in self.kind_of
                                                if self.kind_of[t] == k and self.own(t)]))
               for k, heading, _, _ in KINDS]
        borrowed = {}
        for term in self.kind_of:
            if not self.own(term):
                borrowed.setdefault(self.compact(term).split(":")[0], []).append(term)
        return Document(
            iri=str(h), title=title, version=self.text(h, OWL.versionInfo),
            version_iri=str(version_iri) if version_iri else None, metadata=metadata,
            descriptions=descriptions, own=[s for s in own if s.entries],
            vocabularies=self.vocabularies(),
            borrowed=[Section("borrowed-" + prefix, self._namespace(prefix),
                              self.entries(terms)) for prefix, terms in sorted(borrowed.items())])

    def _namespace(self, prefix: str) -> str:
        return f"{prefix}: {ns.PREFIXES.get(prefix, '')}".strip()

    def entries(self, terms) -> list[Entry]:
        badges = {k: badge for k, _, _, badge in KINDS}
        order = sorted(terms, key=lambda t: (self.label(t).lower(), str(t)))
        return [self.entry(t, badges[self.kind_of[t]]) for t in order]

    def entry(self, term, badge: str) -> Entry:
        rows = self._class_rows(term) if self.kind_of.get(term) == "classes" else \
            self._property_rows(term) if term in self.kind_of else self._concept_rows(term)
        notes = [(name, str(v)) for prop, name in NOTES for v in sorted(self.g.objects(term, prop))]
        alt = sorted({str(v) for v in self.g.objects(term, SKOS.altLabel)})
        return Entry(self.anchors[term], str(term), self.label(term), badge, notes,
                     [row for row in rows if row[1]], alt)

    def _class_rows(self, c) -> list:
        g = self.g
        disjoint = set(g.objects(c, OWL.disjointWith)) | set(g.subjects(OWL.disjointWith, c))
        for group in g.subjects(RDF.type, OWL.AllDisjointClasses):
            members = list(rdflib.collection.Collection(g, g.value(group, OWL.members)))
            if c in members:
                disjoint |= set(members) - {c}
        members = self.concepts.get(c, [])
        return [("Subclass of", self.links(g.objects(c, RDFS.subClassOf)), ", "),
                ("Superclass of", self.links(g.subjects(RDFS.subClassOf, c)), ", "),
                ("Equivalent to", self.links(g.objects(c, OWL.equivalentClass)), ", "),
                ("Disjoint with", self.links(disjoint), ", "),
                ("Domain of", self.links(g.subjects(RDFS.domain, c)), ", "),
                ("Range of", self.links(g.subjects(RDFS.range, c)), ", "),
                ("Members", [Link(f"{len(members)} concepts", "#vocabulary-" + self.anchors[c])]
                 if members else [], "")]

    def _property_rows(self, p) -> list:
        g = self.g
        chains = [[self.link(step) for step in rdflib.collection.Collection(g, chain)]
                  for chain in g.objects(p, OWL.propertyChainAxiom)]
        traits = sorted(name for kind, name in CHARACTERISTICS.items() if (p, RDF.type, kind) in g)
        return [("Characteristics", [Link(t) for t in traits], ", "),
                ("Subproperty of", self.links(g.objects(p, RDFS.subPropertyOf)), ", "),
                ("Superproperty of", self.links(g.subjects(RDFS.subPropertyOf, p)), ", "),
                ("Inverse of", self.links(set(g.objects(p, OWL.inverseOf)) |
                                          set(g.subjects(OWL.inverseOf, p))), ", "),
                ("Domain", self.links(g.objects(p, RDFS.domain)), ", "),
                ("Range", self.links(g.objects(p, RDFS.range)), ", ")] + [
                ("Property chain", chain, " ∘ ") for chain in chains]

    def _concept_rows(self, term) -> list:
        """A concept's matches and its values of the ontology's datatype properties (a status's
        strength); its type and scheme are the vocabulary it is listed under."""
        g = self.g
        values = [(self.label(p), [Link(str(v))], "") for p, v in sorted(g.predicate_objects(term))
                  if self.kind_of.get(p) == "datatype-properties"]
        return [("Exact match", self.links(g.objects(term, SKOS.exactMatch)), ", "), *values]

    # --- concept schemes and vocabularies ---------------------------------------------------
    def _vocabulary_members(self) -> dict:
        """Own subclasses of skos:Concept (at any depth) → the individuals typed with them."""
        g = self.g
        classes = {c for c in g.transitive_subjects(RDFS.subClassOf, SKOS.Concept)
                   if self.own(c) and c != SKOS.Concept}
        return {c: sorted(g.subjects(RDF.type, c)) for c in classes if (None, RDF.type, c) in g}

    def _scheme_members(self, scheme) -> set:
        return set(self.g.objects(scheme, SKOS.hasTopConcept)) | \
            set(self.g.subjects(SKOS.inScheme, scheme))

    def vocabularies(self) -> list[Vocabulary]:
        found, used = [], set()
        for c, members in self.concepts.items():
            scheme = next((s for s in sorted(self.schemes)
                           if self._scheme_members(s) and self._scheme_members(s) <= set(members)),
                          None)
            used.add(scheme)
            found.append(Vocabulary("vocabulary-" + self.anchors[c], self.label(c), self.link(c),
                                    self.text(c, SKOS.definition) or "",
                                    self.entry(scheme, "cs") if scheme else None,
                                    self._concepts(members)))
        for s in sorted(self.schemes - used):      # a scheme whose concepts share no own class
            found.append(Vocabulary("vocabulary-" + self.anchors[s], self.label(s), None,
                                    self.text(s, SKOS.definition) or "", self.entry(s, "cs"),
                                    self._concepts(sorted(self._scheme_members(s)))))
        return sorted(found, key=lambda v: (v.scheme is None, v.label.lower()))

    def _concepts(self, members) -> list[Entry]:
        def order(term):    # statuses by their strength, strongest first; others by label
            rank = self.g.value(term, rdflib.URIRef(ns.TDKG + "strength"))
            return (-int(rank) if rank is not None and rank.datatype in (XSD.integer, None)
                    and str(rank).lstrip("-").isdigit() else 0, self.label(term).lower())
        return [self.entry(t, "ni") for t in sorted(members, key=order)]


_TEMPLATE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                               undefined=jinja2.StrictUndefined).from_string("""\
{% macro links(items, sep) %}{% for l in items %}{% if not loop.first %}{{ sep }}{% endif %}
{% if l.href %}<a href="{{ l.href }}"{% if l.title %} title="{{ l.title }}"{% endif %}>{{ l.text }}</a>{% else %}{{ l.text }}{% endif %}
{% endfor %}{% endmacro %}
{% macro entry(e, tag='section', h='h3') %}
<{{ tag }} class="term" id="{{ e.anchor }}">
<{{ h }}>{{ e.label }} <span class="badge badge-{{ e.badge }}" title="{{ badges[e.badge] }}">{{ e.badge }}</span></{{ h }}>
<p class="iri">{{ e.iri }}</p>
{% for name, text in e.notes %}<p class="{{ name }}">{% if name != 'definition' %}<span class="note">{{ name }}:</span> {% endif %}{{ text }}</p>
{% endfor %}
{% if e.alt_labels or e.rows %}<dl class="term-rows">
{% if e.alt_labels %}<dt>Also called</dt><dd>{{ e.alt_labels|join(', ') }}</dd>{% endif %}
{% for name, items, sep in e.rows %}<dt>{{ name }}</dt><dd>{{ links(items, sep) }}</dd>
{% endfor %}</dl>{% endif %}
</{{ tag }}>
{% endmacro %}
{% set badges = {'c': 'class', 'op': 'object property', 'dp': 'datatype property',
                 'ap': 'annotation property', 'ni': 'named individual', 'cs': 'concept scheme'} %}
<article class="ontology-doc">
<header class="doc-head">
<h1>{{ doc.title }}</h1>
{% for d in doc.descriptions %}<p class="description">{{ d }}</p>
{% endfor %}
<dl class="facts">
<dt>IRI</dt><dd class="iri" id="ontology-iri">{{ doc.iri }}</dd>
{% if doc.version %}<dt>Version</dt><dd id="ontology-version">{{ doc.version }}{% if doc.version_iri %} <span class="iri">({{ doc.version_iri }})</span>{% endif %}</dd>{% endif %}
{% for name, items in doc.metadata %}<dt>{{ name }}</dt><dd>{{ links(items, ', ') }}</dd>
{% endfor %}
<dt>Formats</dt><dd class="formats">{% for name, href in doc.formats %}<a href="{{ href }}">{{ name }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</dd>
{{ slot }}
</dl>
</header>
<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>
{% for s in doc.own %}<li><a href="#{{ s.anchor }}">{{ s.title }}</a> <span class="note">{{ s.entries|length }}</span></li>
{% endfor %}
<li><a href="#concept-schemes">Concept schemes and vocabularies</a> <span class="note">{{ doc.vocabularies|length }}</span></li>
<li><a href="#borrowed">Terms from other vocabularies</a> <span class="note">{{ doc.borrowed|sum(attribute='entries', start=[])|length }}</span></li>
</ol></nav>
<div class="own-terms">
{% for s in doc.own %}
<section class="kind" id="{{ s.anchor }}">
<h2>{{ s.title }} <span class="note">({{ s.entries|length }})</span></h2>
<p class="index">{% for e in s.entries %}<a href="#{{ e.anchor }}">{{ e.label }}</a> {% endfor %}</p>
{% for e in s.entries %}{{ entry(e) }}{% endfor %}
</section>
{% endfor %}
</div>
<section id="concept-schemes">
<h2>Concept schemes and vocabularies <span class="note">({{ doc.vocabularies|length }})</span></h2>
<p class="note">The closed lists of values the data draws on: each is an ontology class under
<code>skos:Concept</code> with its members, named individuals of the ontology.</p>
{% for v in doc.vocabularies %}
<section class="vocabulary" id="{{ v.anchor }}" data-concepts="{{ v.concepts|length }}">
<h3>{{ v.label }} <span class="note">({{ v.concepts|length }} concepts)</span></h3>
{% if v.of_class %}<p class="note">Members of the class <a href="{{ v.of_class.href }}">{{ v.of_class.text }}</a>.</p>{% endif %}
{% if v.definition %}<p>{{ v.definition }}</p>{% endif %}
{% if v.scheme %}{{ entry(v.scheme, 'div', 'h4') }}{% endif %}
<ol class="concepts">
{% for c in v.concepts %}{{ entry(c, 'li', 'h4') }}{% endfor %}
</ol>
</section>
{% endfor %}
</section>
<section id="borrowed">
<h2>Terms from other vocabularies</h2>
<p class="note">Declared in the ontology so that it is self-contained OWL 2 DL; their meaning is
the one their home vocabularies give them.</p>
{% for s in doc.borrowed %}
<section class="borrowed" id="{{ s.anchor }}">
<h3>{{ s.title }} <span class="note">({{ s.entries|length }})</span></h3>
<div class="scroll"><table class="borrowed-terms cards">
<thead><tr><th>Term</th><th>Kind</th><th>In TDKG</th></tr></thead>
<tbody>
{% for e in s.entries %}<tr class="term" id="{{ e.anchor }}"><td><a href="{{ e.iri }}">{{ e.label }}</a></td>
<td><span class="badge badge-{{ e.badge }}" title="{{ badges[e.badge] }}">{{ e.badge }}</span> {{ badges[e.badge] }}</td>
<td>{% for name, items, sep in e.rows %}<span class="note">{{ name }}:</span> {{ links(items, sep) }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
{% endfor %}
</tbody></table></div>
</section>
{% endfor %}
</section>
</article>
""")
