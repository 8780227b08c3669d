"""The text of the files ``tdkg new-source`` creates for a document: its entry (a
``tdkg:Document`` with commented stubs for its footnotes) and its facts file (prefixes and a
commented template of the common kinds of fact node).

Both follow the curated data: the entries of ``data/ttl/sources.ttl`` (label ``Doc NNN: …``,
byline note, footnote flag, comment; footnotes ``tds:doc-NNN-fn-N`` citing a ``tdkg:CitedWork``)
and the fact nodes of ``data/ttl/doc-NNN-*.ttl`` (``tdi:fNNN-kind-slug``, ``tdkg:statedIn``,
one ``tdkg:status``, ``tdkg:citation`` of the footnote whose scope covers the passage).

Commented lines follow one convention, so that a curator (or a test) can tell them apart:
a line starting ``# `` is Turtle, to be uncommented; a line starting ``##`` is a note, or an
optional line of Turtle, and stays a comment when one ``#`` is taken away. A ``«placeholder»``
stands for what the curator supplies (:data:`PLACEHOLDERS`); outside quotes it makes the line
fail to parse until it is replaced.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import namespaces as ns

#: every placeholder the templates use, with what replaces it
PLACEHOLDERS = {
    "slug": "a short name for the node: lower-case words joined by hyphens",
    "label": "a short label, in your own words",
    "paraphrase": "what the passage says, in your own words (never the document's sentences)",
    "state": "an existing state (tdi: name printed by tdkg find)",
    "other-state": "another existing state",
    "company": "an existing company",
    "organisation": "an existing organisation or alliance",
    "system": "an existing weapon system",
    "entity": "any existing entity",
    "other-entity": "another existing entity",
    "voice": "the agent (or tdkg:AgentGroup) the document attributes the statement to",
    "fact": "a fact node of this document",
    "other-fact": "another fact node of this document",
    "year": "a year, as an integer",
    "amount": "a decimal amount, such as 3000000000",
    "publisher": "the publisher as the footnote spells it",
    "date": "the date as the footnote gives it",
    "url": "the web address the footnote gives (http:// or https://)",
    "n": "the number of the footnote whose scope covers the passage",
    "Q-id": "a Wikidata item, such as Q43",
}

PREFIXES = ("tdkg", "tdi", "tds", "rdfs", "owl", "xsd", "skos", "dcterms", "schema", "org", "wd")


def prefix_block(names: tuple[str, ...] = PREFIXES) -> str:
    return "".join(f"@prefix {(n + ':').ljust(8)} <{ns.PREFIXES[n]}> .\n" for n in names)


def literal(text: str, lang: str | None = None) -> str:
    """A Turtle string literal (JSON's escapes are Turtle's ECHAR and UCHAR)."""
    return json.dumps(text, ensure_ascii=False) + (f"@{lang}" if lang else "")


@dataclass(frozen=True)
class Entry:
    """What is known about a new document when its files are written."""

    number: str                       # "004"
    label: str
    comment: str
    byline: str
    digest: str
    file_name: str
    footnotes: tuple[int, ...]
    title: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    date: str | None = None
    year: int | None = None
    url: str | None = None
    licence: str | None = None
    licence_is_iri: bool = False
    units: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"doc-{self.number}"


def source_file(e: Entry) -> str:
    """The document's entry, then a commented footnote and cited-work stub per footnote."""
    lines = [f"tds:{e.name} a tdkg:Document ;", f"    rdfs:label {literal(e.label, 'en')} ;"]
    if e.title:
        lines.append(f"    dcterms:title {literal(e.title, 'en')} ;")
    if e.authors:
        lines.append(f"    dcterms:creator {' , '.join(literal(a) for a in e.authors)} ;")
    lines.append(f"    tdkg:bylineNote {literal(e.byline, 'en')} ;")
    if e.publisher:
        lines.append(f"    dcterms:publisher {literal(e.publisher)} ;")
    if e.date:
        lines.append(f"    tdkg:dateAsGiven {literal(e.date)} ;")
        lines.append(f"    tdkg:publicationYear {e.year} ;")
    if e.url:
        lines.append(f"    schema:url {literal(e.url)}^^xsd:anyURI ;")
    if e.licence:
        value = f"<{e.licence}>" if e.licence_is_iri else literal(e.licence)
        lines.append(f"    dcterms:license {value} ;")
    lines.append(f"    tdkg:hasFootnotes {'true' if e.footnotes else 'false'} ;")
    lines.append(f"    owl:versionInfo {literal('sha256:' + e.digest)} ;")
    lines.append(f"    rdfs:comment {literal(e.comment, 'en')} .")
    return (prefix_block() + "\n" + _source_header(e) + "\n".join(lines) + "\n"
            + "".join(_footnote_stub(e, n) for n in e.footnotes))


def _source_header(e: Entry) -> str:
    return f"""## {e.name}: the entry of a source document, written by `tdkg new-source`.
## The text itself is not kept in the project (a source's sentences never are): owl:versionInfo
## records the SHA-256 digest of the file registered ({e.file_name}), which names the exact
## text the facts of data/ttl/{e.name}-*.ttl and the rows of data/coverage/{e.name}.tsv refer to.

"""


def _footnote_stub(e: Entry, n: int) -> str:
    return f"""
## Footnote {n}: uncomment, and describe the work it cites as the works of sources.ttl are
## (author and publisher as the footnote spells them, the date as given, the web address, or
## tdkg:citationDetail when there is none; never its headline).
# tds:{e.name}-fn-{n} a tdkg:Footnote ;
#     rdfs:label "Doc {e.number}, footnote {n}"@en ;
#     tdkg:footnoteNumber {n} ;
#     dcterms:isPartOf tds:{e.name} ;
#     tdkg:citesWork tds:work-«slug» .
#
# tds:work-«slug» a tdkg:CitedWork ;
#     rdfs:label "Work cited in doc {e.number} footnote {n}: «label»"@en ;
#     dcterms:publisher "«publisher»" ;
#     tdkg:dateAsGiven "«date»" ;
#     schema:url "«url»"^^xsd:anyURI ;
#     dcterms:description "«paraphrase»"@en .
"""


def facts_file(e: Entry) -> str:
    """Prefixes and, commented out, a template per common kind of fact node."""
    d, f = e.name, f"f{e.number}"
    cite = f"#     tdkg:citation tds:{d}-fn-«n» ;\n" if e.footnotes else ""
    footnotes = (f"footnote(s) {', '.join(map(str, e.footnotes))}: a fact whose passage one of "
                 f"them closes cites it\n##   (tdkg:citation tds:{d}-fn-N, as the arms deal "
                 "below does); a footnote covers the sentences\n##   back to the previous "
                 "marker or the start of the paragraph" if e.footnotes else
                 "no footnote markers: no fact cites a footnote")
    return prefix_block() + f"""
## Facts stated in {d} ({e.label}).
## The sentences each node encodes are listed in data/coverage/{d}.tsv: put the node's name in
## the facts column of every row it encodes (in place of `none`) and clear the reason `todo`;
## for a row that states nothing (a heading, a question, a line about the document itself)
## replace `todo` by the reason; a reference entry's row lists its footnote (tds:{d}-fn-N).
## `tdkg build --strict` fails while any row is `todo`.
##
## Below, one commented template per common kind of fact. A line starting "# " is Turtle:
## copy the block, remove the "# " and replace every «placeholder» (see the list at the end).
## Lines starting "##" are notes and stay comments. Until then the build reads nothing here.
##
## Before naming an entity, look for it: tdkg find "NAME" (or tdkg find Q43 for a Wikidata ID)
## and reuse the IRI it prints; create an entity only when nothing matches (last template).
##
## Every fact node has a label in your words, tdkg:statedIn tds:{d} and one tdkg:status:
##   tdkg:reported          the author states it in their own voice
##   tdkg:claimed           the document attributes it to a voice: add tdkg:claimedBy
##   tdkg:implied           the text presupposes it without saying it
##   tdkg:speculative       a forecast, a possibility
##   tdkg:officiallyDenied  reported, and officially rejected: add tdkg:deniedBy
## The document has {footnotes}.
## Never copy the document's sentences: labels, comments and paraphrases are your own words.

## --- assessment: a judgement or an analysis; its content goes in the paraphrase
# tdi:{f}-assessment-«slug» a tdkg:Assessment ;
#     rdfs:label "«label»"@en ;
#     tdkg:assessedEntity tdi:«entity» ; tdkg:relatedEntity tdi:«other-entity» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported ;
#     tdkg:paraphrase "«paraphrase»"@en .

## --- arms deal: a sale agreed between a supplier and a recipient, with its value
# tdi:{f}-deal-«slug» a tdkg:ArmsDeal ;
#     rdfs:label "«label»"@en ;
#     tdkg:supplier tdi:«state» ; tdkg:recipient tdi:«other-state» ;
#     tdkg:concernsSystem tdi:«system» ;
#     tdkg:year «year» ;
#     tdkg:value tdi:{f}-deal-«slug»-value ;
{cite}#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .
#
# tdi:{f}-deal-«slug»-value a tdkg:MonetaryValue ;
#     rdfs:label "«label»"@en ;
#     tdkg:amount "«amount»"^^xsd:decimal ; tdkg:currency tdkg:USD .

## --- transfer: systems delivered or acquired (tdkg:Acquisition)
# tdi:{f}-acquisition-«slug» a tdkg:Acquisition ;
#     rdfs:label "«label»"@en ;
#     tdkg:supplier tdi:«state» ; tdkg:recipient tdi:«other-state» ;
#     tdkg:transferredSystem tdi:«system» ;
#     tdkg:startYear «year» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- production: who makes a system, and the state it comes from
# tdi:{f}-production-«slug» a tdkg:Production ;
#     rdfs:label "«label»"@en ;
#     tdkg:producedSystem tdi:«system» ;
#     tdkg:producer tdi:«company» ; tdkg:producingState tdi:«state» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- home state of a firm
# tdi:{f}-home-state-«slug» a tdkg:HomeStateAttribution ;
#     rdfs:label "«label»"@en ;
#     tdkg:attributedCompany tdi:«company» ; tdkg:attributedState tdi:«state» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- partnership (tdkg:cooperationField: tdkg:militaryField, tdkg:navalField,
## tdkg:defenceIndustryField, tdkg:aerospaceField, tdkg:politicalField, ...)
# tdi:{f}-partnership-«slug» a tdkg:Partnership ;
#     rdfs:label "«label»"@en ;
#     tdkg:firstPartner tdi:«state» ; tdkg:secondPartner tdi:«other-state» ;
#     tdkg:cooperationField tdkg:militaryField ;
#     tdkg:startYear «year» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- membership of an organisation or alliance
# tdi:{f}-membership-«slug» a tdkg:Membership ;
#     rdfs:label "«label»"@en ;
#     org:member tdi:«state» ; org:organization tdi:«organisation» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- rivalry
# tdi:{f}-rivalry-«slug» a tdkg:Rivalry ;
#     rdfs:label "«label»"@en ;
#     tdkg:firstRival tdi:«state» ; tdkg:secondRival tdi:«other-state» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- a statement the document attributes to someone else: status claimed, and the voice
## (any kind of fact node can be claimed; a forecast is tdkg:speculative, with or without one)
# tdi:{f}-assessment-claimed-«slug» a tdkg:Assessment ;
#     rdfs:label "«label»"@en ;
#     tdkg:assessedEntity tdi:«entity» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:claimed ;
#     tdkg:claimedBy tdi:«voice» ;
#     tdkg:paraphrase "«paraphrase»"@en .

## --- a denial the document reports (the denied fact keeps its own node and status; if it is
## reported as officially rejected, give it tdkg:status tdkg:officiallyDenied and tdkg:deniedBy)
# tdi:{f}-denial-«slug» a tdkg:Denial ;
#     rdfs:label "«label»"@en ;
#     tdkg:deniedFact tdi:«fact» ; tdkg:denier tdi:«state» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported .

## --- negative statement: something said not to be the case, not reported or unsubstantiated
## (tdkg:negationKind tdkg:notTheCase, tdkg:notReported or tdkg:unsubstantiated)
# tdi:{f}-negative-«slug» a tdkg:NegativeStatement ;
#     rdfs:label "«label»"@en ;
#     tdkg:negatedFact tdi:«fact» ; tdkg:negationKind tdkg:notReported ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:reported ;
#     tdkg:paraphrase "«paraphrase»"@en .

## --- two statements of this document that pull against each other (it cites no footnote)
# tdi:{f}-tension-«slug» a tdkg:StatementTension ;
#     rdfs:label "«label»"@en ;
#     tdkg:firstStatement tdi:«fact» ; tdkg:secondStatement tdi:«other-fact» ;
#     tdkg:statedIn tds:{d} ; tdkg:status tdkg:implied .

## --- a new entity, only when tdkg find finds none: it goes with the others, in
## data/ttl/actors.ttl (states, firms, organisations, people) or data/ttl/systems.ttl (systems),
## typed with the narrowest class (tdkg:State, tdkg:Company, tdkg:Alliance, tdkg:Person,
## tdkg:Ship, ...). Add tds:{d} to the tdkg:mentionedIn of every existing entity it names.
## Optional: skos:altLabel for other spellings (tdkg find and /search match them too), and
## skos:exactMatch for a Wikidata item you have checked.
# tdi:«slug» a tdkg:Company ;
#     rdfs:label "«label»"@en ;
##    skos:altLabel "«label»"@en ;
##    skos:exactMatch wd:«Q-id» ;
#     tdkg:mentionedIn tds:{d} .

## Placeholders:
""" + "".join(f"##   «{k}»{' ' * (14 - len(k))}{v}\n" for k, v in PLACEHOLDERS.items()
              if k not in ("publisher", "date", "url") and (k != "n" or e.footnotes))
