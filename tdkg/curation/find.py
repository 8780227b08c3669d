"""``tdkg find NAME``: before creating an entity, look for the one the graph may already have.

Names (``rdfs:label``, ``skos:altLabel``) are matched exactly as ``/search`` matches them
(:mod:`tdkg.names`): case and diacritics do not matter (``turkiye`` and ``TÜRKIYE`` find
Türkiye, ``akinci`` finds Akıncı), every word of the query may be the start of a word of a name,
and results are ranked exact, prefix, word-prefix, substring. A Wikidata ID (``Q43``,
``wd:Q43``, ``http://www.wikidata.org/entity/Q43`` or the ``/wiki/`` page URL) finds the
resources linked to that item by ``skos:exactMatch`` (the data's link) or ``owl:sameAs``.

By default it reads the **working tree**: the Turtle of ``ontology/`` and ``data/ttl/`` as they
are on disk. That is what a curator needs mid-work: an entity added a minute ago, not yet built,
is found (so it is not created twice), no build or state folder is needed, and each result says
in which file and on which line it is defined. A file that does not parse is skipped with a
warning naming its line, so one half-edited file does not stop the search. ``--published``
reads the published build instead (read-only): what ``/search`` answers from.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from .. import names
from .. import namespaces as ns
from ..pipeline import store
from ..pipeline.errors import LoadError
from ..pipeline.load import parse_file, source_files
from ..pipeline.termuses import file_uses
from ..settings import Settings

HELP = "look for an existing entity by name or Wikidata ID before creating one"
WIKIDATA = "http://www.wikidata.org/entity/"
QID = re.compile(r"(?:wd:|(?:https?://)?(?:www\.|m\.)?wikidata\.org/(?:entity|wiki)/)?(Q\d+)",
                 re.IGNORECASE)
LINK_IRI = re.compile(r"https?://(?:www\.)?wikidata\.org/(?:entity|wiki)/(Q\d+)$")
LINKS = (ns.PREFIXES["skos"] + "exactMatch", ns.PREFIXES["owl"] + "sameAs")
SUBCLASS = ns.PREFIXES["rdfs"] + "subClassOf"
FACT = ns.TDKG + "Fact"
READ = names.INDEXED + LINKS + (SUBCLASS,)
DEFAULT_LIMIT = 20


class FindError(Exception):
    """Nothing to search (status 1)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="+", metavar="NAME",
                   help="a name, in any case, with or without diacritics; or a Wikidata ID "
                        "(Q43, wd:Q43 or its URL)")
    p.add_argument("--published", action="store_true",
                   help="search the published build instead of the working tree's Turtle")
    p.add_argument("--facts", action="store_true",
                   help="list fact nodes too (by default only entities, vocabulary terms and "
                        "sources are listed)")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                   help=f"show at most this many results (default {DEFAULT_LIMIT})")
    p.add_argument("--json", action="store_true", help="the results as JSON")


# --- what is searched ---------------------------------------------------------------------------

@dataclass
class Graph:
    """The statements a search reads, and where they come from."""

    statements: list[names.Statement]
    source: str                                     # said in messages
    files: dict[str, list[Path]] = field(default_factory=dict)   # IRI -> files typing it
    warnings: list[str] = field(default_factory=list)
    build: str | None = None


def working_tree(settings: Settings) -> Graph:
    paths = source_files(settings.ontology_dir) + source_files(settings.data_dir)
    if not paths:
        raise FindError(f"no Turtle in {settings.ontology_dir} or {settings.data_dir}: "
                        "is --project-dir right?")
    graph = Graph([], f"the working tree ({settings.ontology_dir}, {settings.data_dir})")
    for path in paths:
        try:
            triples = parse_file(path)
        except LoadError as err:
            graph.warnings.append(f"{err} (this file was not searched)")
            continue
        for t in triples:
            if type(t.subject) is ox.NamedNode and t.predicate.value in READ:
                graph.statements.append(_statement(t.subject.value, t.predicate.value, t.object))
                if t.predicate.value == names.RDF_TYPE:
                    where = graph.files.setdefault(t.subject.value, [])
                    if path not in where:
                        where.append(path)
    return graph


def published(settings: Settings) -> Graph:
    build = store.current_build(settings.store_root)
    if build is None:
        raise FindError(f"no published build in {settings.store_root}: run tdkg build, or "
                        "search the working tree (leave out --published)")
    values = " ".join(f"<{p}>" for p in READ)
    query = f"SELECT ?s ?p ?o WHERE {{ VALUES ?p {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} " \
            "FILTER(isIRI(?s)) }"
    try:
        db = ox.Store.read_only(str(build / "store"))
        rows = db.query(query, named_graphs=[ox.NamedNode(g) for g in
                                              (ns.GRAPH_ASSERTED, ns.GRAPH_ONTOLOGY)])
        statements = [_statement(r["s"].value, r["p"].value, r["o"]) for r in rows]
    except OSError as err:
        raise FindError(f"cannot read the published store in {build}: {err}") from None
    return Graph(statements, f"the published build {build.name}", build=build.name)


def _statement(s: str, p: str, o: ox.NamedNode | ox.Literal | ox.BlankNode) -> names.Statement:
    if type(o) is ox.Literal:
        return names.Statement(s, p, o.value, "literal", o.language or "")
    return names.Statement(s, p, o.value, "uri" if type(o) is ox.NamedNode else "bnode")


# --- searching ----------------------------------------------------------------------------------

def wikidata_id(query: str) -> str | None:
    """``Q43`` for Q43, q43, wd:Q43 or a Wikidata entity or page URL; None for a name."""
    match = QID.fullmatch(query.strip())
    return match.group(1).upper() if match else None


def links(graph: Graph) -> dict[str, list[str]]:
    """Resource IRI -> the Wikidata IDs it is linked to."""
    found: dict[str, list[str]] = {}
    for s, p, value, kind, _ in graph.statements:
        match = LINK_IRI.match(value) if p in LINKS and kind == "uri" else None
        if match and match.group(1) not in found.setdefault(s, []):
            found[s].append(match.group(1))
    return found


def fact_classes(graph: Graph) -> set[str]:
    """tdkg:Fact and every class below it."""
    below: dict[str, set[str]] = {}
    for s, p, value, kind, _ in graph.statements:
        if p == SUBCLASS and kind == "uri":
            below.setdefault(value, set()).add(s)
    found, todo = set(), [FACT]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.add(cls)
            todo += below.get(cls, ())
    return found


def is_fact(result: dict, classes: set[str]) -> bool:
    return any(t in classes for t in result["types"])


def find(graph: Graph, query: str) -> list[dict]:
    """The ranked results for a name or a Wikidata ID, fact nodes included."""
    index = names.build_index(graph.statements)
    linked = links(graph)
    qid = wikidata_id(query)
    if qid:
        hits = sorted((s for s, ids in linked.items() if qid in ids),
                      key=lambda s: (names.words(index.label(s)), s))
        results = [{"iri": s, "label": index.label(s), "matched": f"wd:{qid}", "match": "wikidata",
                    "types": index.types.get(s, []), "page": names.local_path(s)} for s in hits]
    else:
        results = names.search(index, query)
    labels = {(n.iri, n.text) for n in index.names if n.is_label}
    for r in results:
        r["on"] = "wikidata" if qid else \
            "label" if (r["iri"], r["matched"]) in labels else "alternate name"
        r["wikidata"] = linked.get(r["iri"], [])
    return results


def locate(graph: Graph, results: list[dict], project: Path) -> None:
    """Add ``defined`` (file:line of its first use in the first file that types it) to results
    read from the working tree."""
    wanted: dict[Path, set[str]] = {}
    for r in results:
        files = graph.files.get(r["iri"])
        if files:
            wanted.setdefault(files[0], set()).add(r["iri"])
    lines: dict[str, str] = {}
    for path, iris in wanted.items():
        for iri, line, _ in file_uses(path, wanted=iris):
            if iri in iris and iri not in lines:
                lines[iri] = f"{_shown(path, project)}:{line}"
    for r in results:
        r["defined"] = lines.get(r["iri"])


def _shown(path: Path, project: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.resolve()))
    except ValueError:
        return str(path)


def curie(iri: str) -> str:
    for prefix, space in sorted(ns.PREFIXES.items(), key=lambda item: -len(item[1])):
        local = iri[len(space):]
        if iri.startswith(space) and re.fullmatch(r"[\w-]+(?:[\w.-]*[\w-])?", local):
            return f"{prefix}:{local}"
    return f"<{iri}>"


# --- the command --------------------------------------------------------------------------------

def run(args: argparse.Namespace, settings: Settings) -> int:
    query = " ".join(" ".join(args.name).split())
    if not names.words(query) and not wikidata_id(query):
        print("tdkg find: usage error: give a name with at least one letter or digit, or a "
              "Wikidata ID such as Q43", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("tdkg find: usage error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        graph = published(settings) if args.published else working_tree(settings)
    except FindError as err:
        print(f"tdkg find: {err}", file=sys.stderr)
        return 1
    for warning in graph.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    results = find(graph, query)
    facts = fact_classes(graph)
    left_out = 0 if args.facts else sum(1 for r in results if is_fact(r, facts))
    results = results if args.facts else [r for r in results if not is_fact(r, facts)]
    shown = results[:args.limit]
    if not args.published:
        locate(graph, shown, settings.project_dir)
    for r in shown:
        r["curie"] = curie(r["iri"])
    if args.json:
        print(json.dumps({"query": query, "searched": graph.source, "build": graph.build,
                          "total": len(results), "fact_nodes_left_out": left_out,
                          "results": shown}, indent=2, ensure_ascii=False))
    elif results:
        print(text(query, graph, results, shown, left_out))
    if not results:
        print(f"tdkg find: {nothing(query, graph, left_out)}", file=sys.stderr)
        return 1
    return 0


def nothing(query: str, graph: Graph, left_out: int) -> str:
    if left_out:
        return (f"no entity matches \"{query}\" in {graph.source}, only {left_out} fact "
                "node(s) (--facts lists them)")
    qid = wikidata_id(query)
    if qid:
        return (f"no resource is linked to wd:{qid} (skos:exactMatch or owl:sameAs) in "
                f"{graph.source}; try its name: tdkg find \"NAME\"")
    return (f"nothing matches \"{query}\" in {graph.source}; try another spelling, part of the "
            "name, or its Wikidata ID (tdkg find Q43) before creating a new entity")


def text(query: str, graph: Graph, results: list[dict], shown: list[dict], left_out: int) -> str:
    facts = f" ({left_out} fact node(s) left out: --facts lists them)" if left_out else ""
    lines = [f"{len(results)} result(s) for \"{query}\" in {graph.source}{facts}:"]
    for r in shown:
        lines += ["", f"{r['curie']}  {r['label']}",
                  f"    types     {', '.join(curie(t) for t in r['types']) or '(none)'}",
                  f"    match     {r['match']}" + ("" if r["on"] == "wikidata" else
                                                    f", on the {r['on']} \"{r['matched']}\"")]
        if r["wikidata"]:
            lines.append(f"    wikidata  {', '.join('wd:' + q for q in r['wikidata'])}")
        if r.get("defined"):
            lines.append(f"    defined   {r['defined']}")
    if len(results) > len(shown):
        lines += ["", f"… and {len(results) - len(shown)} more (--limit {len(results)} shows all)"]
    return "\n".join(lines)


COMMANDS = {"find": (HELP, add_arguments, run)}
