"""Checks that run before any execution: size, nesting, and which endpoints SERVICE and LOAD
would contact.

Oxigraph (like rdflib) fetches any URL that SERVICE or LOAD names, loopback included, and has no
switch to stop it. This check reads the operation with :mod:`tdkg.sparql_lexer` and finds every
place where the engine may read SERVICE or LOAD: not only whole keywords but also keywords glued
to other words (Oxigraph matches ``SERVICEex:t`` as SERVICE and ``ex:t``), in the main reading and
in the shadow readings of ambiguous ``<``. For each place it reads the target the way the engine
would (``SILENT`` or not, IRI, prefixed name with every PREFIX the text may bind it to, variable)
and refuses the operation unless every possible target is an absolute IRI in the allowlist.

The check is not the only guard: the query workers that run operations without an allowlisted
target cannot open network connections at all (:mod:`.sandbox`), so a reading this module gets
wrong fails closed.
"""
from __future__ import annotations

import dataclasses
import re

from tdkg import sparql_lexer as lexer

from .errors import MalformedQuery, QueryTooComplex, ServiceRefused

_KEYWORDS = re.compile(r"service|load|prefix", re.IGNORECASE)
_SILENT = "silent"
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
MAX_SITES = 256


@dataclasses.dataclass(frozen=True)
class Checked:
    """What the endpoint needs to know of an operation before running it."""

    tokens: list[lexer.Token]
    remote: tuple[str, ...]         # allowlisted endpoints it may contact (empty: none)

    @property
    def form(self) -> str | None:
        return lexer.query_form(self.tokens)

    @property
    def names_dataset(self) -> bool:
        return lexer.has_word(self.tokens, "FROM")


def check(text: str, *, update: bool, allowlist: tuple[str, ...], predeclared: dict[str, str],
          max_depth: int, enforce: bool = True) -> Checked:
    """Read ``text`` and refuse it (typed errors) when it is malformed, nests too deeply or may
    contact an endpoint outside ``allowlist``. ``enforce=False`` only exists for the tests that
    show the sandbox holds on its own."""
    main, shadow = read(text, max_depth)
    if not enforce:
        return Checked(main, ())
    targets = remote_targets(text, main + shadow, update, predeclared)
    refused = sorted(t for t in targets if t not in allowlist)
    if refused:
        raise ServiceRefused(f"SERVICE or LOAD of <{refused[0]}> is refused: the endpoint is not "
                             "in this server's federation allowlist (TDKG_SERVICE_ALLOWLIST)",
                             target=refused[0])
    return Checked(main, tuple(sorted(targets)))


def read(text: str, max_depth: int) -> tuple[list[lexer.Token], list[lexer.Token]]:
    """The main and shadow readings of ``text``, or a typed error (400) naming line and column."""
    try:
        return lexer.tokens_and_shadows(text, max_depth)
    except lexer.TooDeep as err:
        raise QueryTooComplex(f"{err}: the query nests brackets too deeply (TDKG_MAX_DEPTH "
                              f"is {max_depth})", **_position(text, err.position)) from None
    except lexer.LexError as err:
        raise MalformedQuery(str(err), **_position(text, err.position)) from None


def remote_targets(text: str, toks: list[lexer.Token], update: bool,
                   predeclared: dict[str, str]) -> set[str]:
    """Every IRI that a SERVICE (or, in an update, LOAD) of ``text`` may contact, as the engine
    could read it. A target that cannot be known before execution (a variable, an undeclared
    prefix, a relative IRI) is refused here with :class:`ServiceRefused`."""
    sites = _sites(toks)
    prefixes = _prefix_bindings(text, sites.get("prefix", []))
    keywords = ("service", "load") if update else ("service",)
    targets: set[str] = set()
    for keyword in keywords:
        for position in sites.get(keyword, []):
            for target in _targets_after(text, position + len(keyword), keyword == "service"):
                targets.update(_resolve(keyword.upper(), target, prefixes, predeclared))
    return targets


def _position(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset) + 1
    return {"line": line, "column": offset - (text.rfind("\n", 0, offset) + 1) + 1}


def _sites(toks: list[lexer.Token]) -> dict[str, list[int]]:
    """Offsets where the engine may read SERVICE, LOAD or PREFIX: inside words and inside the
    prefix part of prefixed names (the engine matches keywords without a word boundary)."""
    found: dict[str, set[int]] = {}
    for tok in toks:
        if tok.kind == "word":
            text = tok.text
        elif tok.kind == "pname":
            text = tok.text[:tok.text.index(":")]
        else:
            continue
        for m in _KEYWORDS.finditer(text):
            found.setdefault(m.group().lower(), set()).add(tok.start + m.start())
    if sum(len(v) for v in found.values()) > MAX_SITES:
        raise QueryTooComplex(f"more than {MAX_SITES} SERVICE, LOAD or PREFIX keywords")
    return {k: sorted(v) for k, v in found.items()}


def _prefix_bindings(text: str, sites: list[int]) -> dict[str, set[str]]:
    """Every IRI each prefix may be bound to: ``PREFIX p: <iri>`` read after each site."""
    bindings: dict[str, set[str]] = {}
    for site in sites:
        i = lexer.skip_space(text, site + len("prefix"))
        name = lexer.prefix_name_at(text, i)
        if name is None:
            continue
        term = lexer.term_at(text, lexer.skip_space(text, name[1]))
        if term is not None and term[0] == "iri":
            bindings.setdefault(name[0], set()).add(lexer.unescape_iri(term[1]))
    return bindings


def _targets_after(text: str, i: int, needs_group: bool) -> list[tuple[str, str]]:
    """The terms the engine may take as the target after a keyword ending at ``i``: with and
    without a following SILENT. For SERVICE the term must be followed by ``{``."""
    i = lexer.skip_space(text, i)
    starts = [i]
    if text[i:i + len(_SILENT)].lower() == _SILENT:
        starts.append(lexer.skip_space(text, i + len(_SILENT)))
    found = []
    for start in starts:
        term = lexer.term_at(text, start)
        if term is None:
            continue
        after = lexer.skip_space(text, term[2])
        if needs_group and not text.startswith("{", after):
            continue
        found.append(term[:2])
    return found


def _resolve(keyword: str, term: tuple[str, str], prefixes: dict[str, set[str]],
             predeclared: dict[str, str]) -> set[str]:
    kind, text = term
    if kind == "var":
        raise ServiceRefused(f"{keyword} {text} is refused: the endpoint must be a fixed IRI "
                             "that can be checked against the allowlist before execution")
    if kind == "iri":
        iris = {lexer.unescape_iri(text)}
    else:
        prefix, local = text.split(":", 1)
        bound = prefixes.get(prefix, set()) | ({predeclared[prefix]} if prefix in predeclared
                                               else set())
        if not bound:
            raise ServiceRefused(f"{keyword} {text} is refused: its prefix is not declared")
        iris = {iri + lexer.unescape_local(local) for iri in bound}
    for iri in iris:
        if not _ABSOLUTE.match(iri):
            raise ServiceRefused(f"{keyword} <{iri}> is refused: a federation target must be an "
                                 "absolute IRI", target=iri)
    return iris
