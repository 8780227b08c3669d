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
import re
from collections import Counter
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


def humanise(iri: str) -> str:
    """A readable name made from an IRI's local name: ``org#memberOf`` → "member of"."""
    local = re.split(r"[#/:]", iri.rstrip("/#"))[-1] or iri
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", local).replace("_", " ").replace("-", " ")
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words.split()) or iri


#: the reasoner's own nodes (derived relations): ``…/id/inferred/<kind>/<premises>``
DERIVED = ns.BASE + "id/inferred/"


def derived_name(iri: str) -> str:
    """A readable name for a derived relation's node: "indirect partnership (f000-… · f000-…)"."""
    kind, _, rest = iri[len(DERIVED):].partition("/")
    return f"{humanise(kind)} ({rest.replace('--', ' · ')})" if rest else humanise(kind)


class _Labels:
    """rdfs:label lookups (English first) with a cache, for every term a page shows."""

    def __init__(self, store: ox.Store):
        self.store, self.cache = store, {}

    def name(self, term) -> str:
        """The label, else a humanised local name (for properties and classes: never a prefixed
        name such as ``org:member``)."""
        return self.of(term) or humanise(term.value)

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


def term_dict(term, labels: _Labels, readable: bool = False) -> dict:
    """A term for the templates; ``readable``: an IRI without a label gets a humanised name
    (properties, classes, statuses)."""
    if isinstance(term, ox.NamedNode):
        label = labels.name(term) if readable else labels.of(term)
        if label is None and term.value.startswith(DERIVED):
            label = derived_name(term.value)
        return {"kind": "iri", "value": term.value, "label": label, "nt": str(term)}
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value if term.datatype else None
        return {"kind": "literal", "value": term.value, "lang": term.language,
                "datatype": None if term.language else datatype, "nt": str(term)}
    return {"kind": "bnode", "value": str(term), "nt": str(term)}


def _objects(store: ox.Store, subject, predicate, graphs=(ASSERTED,)) -> list:
    return [q.object for g in graphs for q in store.quads_for_pattern(subject, predicate, None, g)]


def sources_of(store: ox.Store, fact, labels: _Labels, quads: list | None = None) -> dict:
    """Epistemic status and sources of a fact node (empty if it carries none); ``quads``: the
    node's asserted quads when the caller has read them already."""
    if quads is None:
        quads = list(store.quads_for_pattern(fact, None, None, ASSERTED))
    status = [q.object for q in quads if q.predicate == STATUS]
    documents = [term_dict(q.object, labels) for q in quads if q.predicate == STATED_IN]
    footnotes = [_footnote(store, q.object, labels) for q in quads if q.predicate == CITATION]
    return {"status": term_dict(status[0], labels, True) if status else None,
            "documents": documents, "footnotes": footnotes}


IS_PART_OF = ox.NamedNode("http://purl.org/dc/terms/isPartOf")


def _footnote(store: ox.Store, note, labels: _Labels) -> dict:
    """A footnote's number, the URLs of the works it cites and its document (read once per
    page: many facts rest on the same footnote)."""
    notes = labels.__dict__.setdefault("notes", {})
    if note.value not in notes:
        number = _objects(store, note, FOOTNOTE_NUMBER)
        urls = [u.value for work in _objects(store, note, CITES_WORK)
                for u in _objects(store, work, URL)]
        documents_of_note = _objects(store, note, IS_PART_OF)
        notes[note.value] = {"iri": note.value, "number": number[0].value if number else None,
                             "urls": urls, "document": labels.of(documents_of_note[0])
                             if documents_of_note else None}
    return notes[note.value]


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
    return term_dict(ox.NamedNode(iri), labels, True) if iri else None


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
        row = {"predicate": term_dict(quad.predicate, labels, True), "graph": graph}
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
    inferred_rows = ([dict(r, direction="out") for r in statements if r["graph"] == "inferred"]
                     + [dict(r, direction="in") for r in incoming if r["graph"] == "inferred"])
    groups = fact_groups(facts)
    return {
        "iri": node.value,
        "label": _preferred(names),
        "labels": [term_dict(n, labels) for n in names],
        "alt_labels": sorted(set(alt)),
        "types": [term_dict(t, labels, True) for t in sorted(asserted_types, key=str)],
        "inferred_types": _distinct_labels([term_dict(t, labels, True)
                                            for t in sorted(inferred_types, key=str)]),
        "comments": [lit.value for lit in _objects(store, node, COMMENT, (ASSERTED, ONTOLOGY))],
        "definitions": [lit.value for lit in _objects(store, node, DEFINITION, (ASSERTED, ONTOLOGY))],
        "wikidata": wikidata,
        "other_matches": [t.value for t in _objects(store, node, EXACT_MATCH)
                          if not t.value.startswith(WIKIDATA)],
        "own_source": own if own["status"] or own["documents"] else None,
        "statements": statements,
        "facts": facts,
        "incoming": incoming,
        # the summary: facts grouped by kind and role, counts, inferred rows by property, ties
        "groups": groups,
        "families": families(groups),
        "counts": _counts(facts),
        "other_statements": [r for r in statements if r["graph"] != "inferred"],
        "other_incoming": [r for r in incoming if r["graph"] != "inferred"],
        "inferred_groups": inferred_groups(inferred_rows),
        "inferred_count": len(inferred_rows),
        "related": _related(facts, statements, incoming),
        "ties": ties(node.value, groups, inferred_rows,
                     [r for r in statements + incoming if r["graph"] == "asserted"]),
    }


def _preferred(names: list) -> str | None:
    english = [n.value for n in names if getattr(n, "language", None) == "en"]
    return (english or [n.value for n in names] or [None])[0]


YEARS = [ox.NamedNode(ns.TDKG + p) for p in ("year", "startYear", "endYear")]


def _fact(store, fact, focus, labels: _Labels) -> dict:
    """One fact node the focus resource takes part in: its kind, the focus's role in it, the
    other participants, its year(s), status and sources (its asserted quads read once)."""
    quads = list(store.quads_for_pattern(fact, None, None, ASSERTED))
    roles, others, years, types, names = [], [], {}, [], []
    for quad in quads:
        if quad.object == focus:                 # also "stated in", on a document's page
            roles.append(term_dict(quad.predicate, labels, True))
        elif quad.predicate in YEARS:
            if quad.object.value.lstrip("-").isdigit():
                years.setdefault(quad.predicate.value.rsplit("#", 1)[1], int(quad.object.value))
        elif quad.predicate == RDF_TYPE:
            types.append(term_dict(quad.object, labels, True))
        elif quad.predicate == LABEL:
            names.append(quad.object)
        elif quad.predicate in HEADER_PROPERTIES or quad.predicate in SOURCE_PROPERTIES:
            continue
        elif isinstance(quad.object, ox.NamedNode):
            others.append({"predicate": term_dict(quad.predicate, labels, True),
                           "object": term_dict(quad.object, labels)})
    if names and fact.value not in labels.cache:
        labels.cache[fact.value] = _preferred(names)
    types.sort(key=lambda t: t["label"])
    return {"iri": fact.value, "label": labels.of(fact), "types": types, "roles": roles,
            "others": others, "years": years,
            "year": years.get("year") or years.get("startYear") or years.get("endYear"),
            **sources_of(store, fact, labels, quads)}


# --------------------------------------------------------------------- the page's summary

#: the groups of a resource page: the resource's role in a fact (its property's local name) →
#: the group's heading, in the order shown; a role not listed gets "<kind> (as <role>)"
ROLE_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Supplies", ("supplier", "assistanceProvider", "trainer")),
    ("Acquires and receives", ("recipient", "assistanceRecipient", "trainee", "user",
                               "operator", "beneficiary")),
    ("Partnerships", ("firstPartner", "secondPartner", "coProducer")),
    ("Agreements signed", ("signatory",)),
    ("Memberships", ("member", "axisMember", "participant", "exerciseParticipant")),
    ("Members", ("organization",)),
    ("Rivalries and tensions", ("firstRival", "secondRival", "firstSide", "secondSide",
                                "belligerent", "usedAgainst")),
    ("Support given", ("supporter",)),
    ("Support received", ("supportedParty",)),
    ("Production", ("producingState", "producer", "productionPlace")),
    ("Home state of these companies", ("attributedState",)),
    ("Home state", ("attributedCompany",)),
    ("The system concerned", ("transferredSystem", "producedSystem", "usedSystem",
                              "concernsSystem", "introducedSystem", "acquiredSystem")),
    ("The issue or conflict at stake", ("onIssue", "inConflict", "conflict", "followsConflict")),
    ("The event", ("atEvent", "signedDuring")),
    ("Intentions", ("interestedParty",)),
    ("Offices", ("officeOf", "officeHolder")),
    ("Statements about it", ("assessedEntity", "measuredEntity", "statusHolder",
                             "renamedEntity", "independentState", "nuclearStatus")),
    ("Statements it makes or voices", ("claimedBy", "denier", "launchedBy", "targetSetBy",
                                       "deniedBy")),
    ("Mentioned in statements about others", ("relatedEntity", "referenceEntity",
                                              "surpassedEntity", "targetAddressee")),
    ("Stated in this document", ("statedIn",)),
    ("Citing this footnote", ("citation",)),
]
#: groups split by the kind of fact (all of a system's facts concern it as "the system", all
#: of a document's are stated in it)
BY_KIND = {"The system concerned", "Stated in this document", "Citing this footnote"}
GROUP_OF = {role: (order, title) for order, (title, roles) in enumerate(ROLE_GROUPS)
            for role in roles}


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


def fact_groups(facts: list[dict]) -> list[dict]:
    """The facts by the resource's role in them (see :data:`ROLE_GROUPS`), each fact in one group
    (its first role in that order), groups in that order, facts newest first as given."""
    groups: dict[str, dict] = {}
    for fact in facts:
        placed = []
        for role in fact["roles"]:
            order, title = GROUP_OF.get(_local(role["value"]), (None, None))
            kind = fact["types"][0]["label"] if fact["types"] else "fact"
            if title is None:
                order = len(ROLE_GROUPS)
                title = f"{kind[:1].upper()}{kind[1:]} (as {role['label']})"
            elif title in BY_KIND:          # a system's or a document's facts by kind
                title = f"{kind[:1].upper()}{kind[1:]}"
            placed.append((order, title, role))
        order, title, role = min(placed, key=lambda p: (p[0], p[1])) if placed else (
            len(ROLE_GROUPS) + 1, "Other facts", None)
        family = ROLE_GROUPS[order][0] if order < len(ROLE_GROUPS) else None
        group = groups.setdefault(title, {"title": title, "order": order, "facts": [],
                                          "roles": {}, "key": _slug(title),
                                          "family": family, "other": False})
        group["facts"].append(fact)
        for _, _, r in placed:
            group["roles"].setdefault(r["label"], 0)
            group["roles"][r["label"]] += 1
    _merge_small_kinds(groups)
    ordered = sorted(groups.values(), key=lambda g: (g["order"], g["other"], g["title"]))
    for group in ordered:
        group["count"] = len(group["facts"])
        group["kinds"] = Counter(f["types"][0]["label"] if f["types"] else "fact"
                                 for f in group["facts"]).most_common()
        group["roles"] = sorted(group["roles"])
    return ordered


def families(groups: list[dict]) -> list[dict]:
    """The card's "by role" line: each family of groups (a role) with its count, linked to its
    first group."""
    found: dict[str, dict] = {}
    for group in groups:
        name = group["family"] if group["family"] in BY_KIND else group["title"]
        entry = found.setdefault(name, {"title": name, "key": group["key"], "count": 0})
        entry["count"] += group["count"]
    return list(found.values())


#: a family split by kind into more groups than this gets its kinds of fewer than SMALL facts
#: merged into one group
MAX_KIND_GROUPS, SMALL = 8, 3


def _merge_small_kinds(groups: dict[str, dict]) -> None:
    for family in BY_KIND:
        members = [g for g in groups.values() if g["family"] == family]
        small = [g for g in members if len(g["facts"]) < SMALL]
        if len(members) <= MAX_KIND_GROUPS or len(small) < 2:
            continue
        title = "Other kinds"
        merged = {"title": title, "order": small[0]["order"], "roles": {}, "key": _slug(title),
                  "family": family, "other": True,
                  "facts": sorted((f for g in small for f in g["facts"]),
                                  key=lambda f: (-(f["year"] or 0), f["label"] or f["iri"]))}
        for group in small:
            for role, n in group["roles"].items():
                merged["roles"][role] = merged["roles"].get(role, 0) + n
            del groups[group["title"]]
        groups[title] = merged


def _prefix(iri: str) -> str:
    """The project's prefix of an IRI's namespace ("org", "tdkg"), else its host."""
    for prefix, base in sorted(ns.PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(base):
            return prefix or "tdkg"
    return iri.split("/")[2] if iri.count("/") >= 2 else iri


def _distinct_labels(terms: list[dict]) -> list[dict]:
    """Terms whose labels clash get their vocabulary's prefix: "agent (prov)", "agent (tdkg)"."""
    seen = Counter(t["label"] for t in terms)
    return [dict(t, label=f"{t['label']} ({_prefix(t['value'])})") if seen[t["label"]] > 1 else t
            for t in terms]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


STATUS_ORDER = ("reported", "claimed", "implied", "curatorKnowledge", "speculative",
                "officiallyDenied")


def _counts(facts: list[dict]) -> dict:
    """The facts by kind (their first type) and by epistemic status, largest first."""
    kinds = Counter(f["types"][0]["label"] if f["types"] else "fact" for f in facts)
    statuses: dict[str, dict] = {}
    for fact in facts:
        if fact["status"]:
            entry = statuses.setdefault(fact["status"]["value"],
                                        {"status": fact["status"], "count": 0})
            entry["count"] += 1
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return {"kinds": kinds.most_common(),
            "statuses": sorted(statuses.values(),
                               key=lambda e: rank.get(_local(e["status"]["value"]), 99))}


def inferred_groups(rows: list[dict]) -> list[dict]:
    """The inferred triples about the resource by property and direction (``out``: the resource
    is their subject), largest groups first."""
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = (row["predicate"]["value"], row["direction"])
        group = groups.setdefault(key, {
            "predicate": row["predicate"], "direction": row["direction"], "rows": [],
            "key": "inferred-" + _slug(row["predicate"]["label"] + "-" + row["direction"])})
        group["rows"].append(row)
    labels = Counter((g["predicate"]["label"], g["direction"]) for g in groups.values())
    for number, group in enumerate(groups.values()):
        group["key"] += f"-{number}"
        prop = group["predicate"]
        group["name"] = prop["label"] if labels[prop["label"], group["direction"]] < 2 else \
            f"{prop['label']} ({_prefix(prop['value'])})"      # two properties, one label
        other = "object" if group["direction"] == "out" else "subject"
        group["rows"].sort(key=lambda r: (r[other].get("label") or r[other]["value"]).lower())
        group["count"] = len(group["rows"])
    return sorted(groups.values(), key=lambda g: (-g["count"], g["predicate"]["label"]))


def _related(facts: list[dict], statements: list[dict], incoming: list[dict]) -> dict:
    """Home state(s) of a company and maker(s) of a system, where the data says so."""
    home, makers = {}, {}
    for fact in facts:
        roles = {_local(r["value"]) for r in fact["roles"]}
        for other in fact["others"]:
            prop = _local(other["predicate"]["value"])
            if "attributedCompany" in roles and prop == "attributedState":
                home.setdefault(other["object"]["value"], other["object"])
            if roles & {"producedSystem"} and prop in ("producer", "producingState"):
                makers.setdefault(other["object"]["value"], other["object"])
    for row in statements:
        if _local(row["predicate"]["value"]) in ("homeState", "countryOfOrigin") \
                and row["object"]["kind"] == "iri":
            target = home if _local(row["predicate"]["value"]) == "homeState" else makers
            target.setdefault(row["object"]["value"], row["object"])
    return {"home_states": list(home.values()), "makers": list(makers.values())}


#: groups whose other participants are not ties of the resource (what a statement mentions)
NOT_TIES = {"Statements about it", "Mentioned in statements about others",
            "Statements it makes or voices", "Stated in this document", "Citing this footnote"}
#: a fact's roles that name who voices it, not a party to it
VOICES = {"claimedBy", "deniedBy", "denier"}
#: the most actors the page's small network draws (those sharing the most facts first)
MAX_TIES = 24


def ties(focus: str, groups: list[dict], inferred_rows: list[dict],
         asserted_rows: list[dict]) -> dict:
    """The resource's direct ties: the other participants of its facts (by group) and the ends
    of its inferred relations, as nodes and edges for the page's small network and its list."""
    peers: dict[str, dict] = {}

    def peer(term: dict) -> dict:
        return peers.setdefault(term["value"], {"id": term["value"], "label": term.get("label")
                                                or humanise(term["value"]), "links": {},
                                                "facts": 0, "inferred": {}, "families": {}})

    facts = {fact["iri"] for group in groups for fact in group["facts"]}
    for group in groups:
        if group["family"] in NOT_TIES or group["title"] in NOT_TIES:
            continue
        for fact in group["facts"]:
            seen = set()
            for other in fact["others"]:
                target = other["object"]
                if _local(other["predicate"]["value"]) in VOICES:
                    continue
                if target["kind"] != "iri" or target["value"] == focus \
                        or target["value"] in seen or "/id/" not in target["value"]:
                    continue
                seen.add(target["value"])
                entry = peer(target)
                entry["facts"] += 1
                entry["links"][group["title"]] = entry["links"].get(group["title"], 0) + 1
                entry["families"][group["title"]] = group["family"]
    for row in asserted_rows:          # a fact node's own participants, a firm's links…
        other = row["object"] if "object" in row else row["subject"]
        if other["kind"] == "iri" and other["value"] != focus and "/id/" in other["value"] \
                and other["value"] not in facts and not other["value"].startswith(DERIVED):
            entry = peer(other)
            entry["facts"] += 1
            name = row["predicate"]["label"]
            entry["links"][name] = entry["links"].get(name, 0) + 1
    for row in inferred_rows:
        other = row["object"] if row["direction"] == "out" else row["subject"]
        if other["kind"] != "iri" or "/id/inferred/" in other["value"] or other["value"] in facts \
                or "/id/" not in other["value"] or other["value"] == focus:
            continue
        entry = peer(other)
        name = row["predicate"]["label"]
        entry["inferred"][name] = entry["inferred"].get(name, 0) + 1
    ranked = sorted(peers.values(), key=lambda p: (-(p["facts"] + len(p["inferred"])),
                                                   p["label"].lower()))
    for entry in ranked:
        entry["links"] = sorted(entry["links"].items(), key=lambda kv: -kv[1])
        entry["family"] = entry.pop("families").get(entry["links"][0][0]) \
            if entry["links"] else None
        entry["inferred"] = sorted(entry["inferred"].items())
    return {"peers": ranked, "drawn": ranked[:MAX_TIES], "total": len(ranked)}


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
