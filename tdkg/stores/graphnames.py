"""How a build's graphs are named in a shared SPARQL store, and how queries and answers are
translated between the public names and those.

A remote store holds several builds at once (the one served, the one before it, one being
loaded), so every graph of build ``B`` is stored under a name that carries the build id:
``urn:tdkg:build:B:`` followed by the public graph name (``…/graph/asserted`` and so on), and
``urn:tdkg:build:B:default`` for TDKG's default graph (the union of the build's graphs, as in
the embedded store's layout 2). Which build is published is one triple of the control graph
``urn:tdkg:control``, switched by one SPARQL Update.

A query is sent with the build's graphs as its dataset, so it sees that build and nothing else.
Graph IRIs in its text are translated with the SPARQL lexer (never with a pattern over the
text): an IRI or prefixed name that denotes one of the public graph names, or that stands
where only a graph can (after FROM, NAMED, GRAPH, USING, WITH, TO), becomes the build's name
for it. In the answer, the build's prefix is taken off again, so ``GRAPH ?g`` still yields the
public names.
"""
from __future__ import annotations

from urllib.parse import urljoin

from .. import sparql_lexer as lexer
from ..namespaces import FACT_GRAPHS

CONTROL = "urn:tdkg:control"
STORE = "urn:tdkg:store"
PUBLISHED = "urn:tdkg:published"   # STORE PUBLISHED "<build id>" in CONTROL
LOADED = "urn:tdkg:loaded"         # <urn:tdkg:build:B> LOADED "<time>" in CONTROL: B has graphs
PUBLISHED_AT = "urn:tdkg:published-at"  # <urn:tdkg:build:B> PUBLISHED_AT "<time>": each switch to B
DEFAULT = "default"

#: IRIs that name a store's own built-in functions, some of which reach the network (Virtuoso's
#: ``bif:http_get``, ``bif:http_client``; its ``sql:`` procedures): a query that names one, in any
#: position, is refused before it reaches the store, like SERVICE and LOAD
VENDOR_FUNCTIONS = ("bif:", "sql:", "http://www.openlinksw.com/")


class VendorFunctionRefused(ValueError):
    """A query names a store's own built-in functions."""


#: keywords after which only a graph name can stand
GRAPH_WORDS = ("FROM", "NAMED", "GRAPH", "USING", "WITH", "TO")


def prefix(build: str) -> str:
    return f"urn:tdkg:build:{build}:"


def build_node(build: str) -> str:
    return f"urn:tdkg:build:{build}"


def stored(build: str, name: str) -> str:
    """The store's name for the public graph ``name`` of ``build`` ("": the default graph)."""
    return prefix(build) + (name or DEFAULT)


def graphs_of(build: str) -> list[str]:
    """Every graph a build loads: its default graph and its named graphs."""
    return [stored(build, "")] + [stored(build, g) for g in FACT_GRAPHS]


def names_dataset(toks: list[lexer.Token]) -> bool:
    return lexer.has_word(toks, "FROM")


def localize(text: str, build: str, predeclared: dict[str, str],
             base_iri: str | None = None) -> str:
    """``text`` with the build's names for its graph IRIs, and PREFIX (and BASE) lines for the
    predeclared prefixes it uses without declaring them (the remote store knows none)."""
    toks = lexer.tokens(text)
    declared: dict[str, str] = {}
    base = base_iri
    edits: list[tuple[int, int, str]] = []
    used: set[str] = set()
    for i, tok in enumerate(toks):
        after = toks[i - 1] if i else None
        if after is not None and after.is_word("PREFIX") and tok.kind == "pname":
            if i + 1 < len(toks) and toks[i + 1].kind == "iri":
                declared[tok.text[:-1]] = _resolve(lexer.unescape_iri(toks[i + 1].text), base)
            continue
        if after is not None and after.is_word("BASE") and tok.kind == "iri":
            base = _resolve(lexer.unescape_iri(tok.text), base)
            continue
        if tok.kind == "iri":
            iri = _resolve(lexer.unescape_iri(tok.text), base)
        elif tok.kind == "pname":
            name, local = tok.text.split(":", 1)
            if name not in declared:
                used.add(name)
            namespace = declared.get(name, predeclared.get(name))
            if namespace is None:
                continue
            iri = namespace + lexer.unescape_local(local)
        else:
            continue
        if iri.lower().startswith(VENDOR_FUNCTIONS):
            raise VendorFunctionRefused(
                f"{tok.text} is refused: it names the store's own built-in functions, which "
                "may reach the network; TDKG runs standard SPARQL 1.1 only")
        if iri in FACT_GRAPHS or (after is not None and after.is_word(*GRAPH_WORDS)):
            edits.append((tok.start, tok.end, f"<{stored(build, iri)}>"))
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    lines = [f"PREFIX {p}: <{predeclared[p]}>\n" for p in sorted(used) if p in predeclared]
    if base_iri:
        lines.insert(0, f"BASE <{base_iri}>\n")
    return "".join(lines) + text


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base and ":" not in iri.split("/", 1)[0] else iri


def publicize(body: bytes, build: str) -> bytes:
    """An answer with the build's graph names turned back into the public ones."""
    return body.replace(prefix(build).encode(), b"")
