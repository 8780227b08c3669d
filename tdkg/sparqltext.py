"""A SPARQL 1.1 tokenizer (shared by the endpoint and the rule engine) just deep enough to find keywords outside strings, IRIs and comments.

The endpoint reads a query's shape before execution without building an algebra: whether it names
a dataset (FROM, FROM NAMED; USING, WITH in updates), and which endpoints SERVICE or LOAD would
contact. Codepoint escapes (\\uXXXX, SPARQL 1.1 §19.2) are decoded first, as a parser would.
"""
from __future__ import annotations

import dataclasses
import re

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<pname>(?:[A-Za-z\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*)?:(?:[\w\-.%\\:\u00B7-\uFFFF]*[\w\-%:\u00B7-\uFFFF])?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>\S)
""", re.VERBOSE)


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str   # comment, string, iri, var, pname, word, other
    text: str
    start: int = 0

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def decode_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def tokens(text: str) -> list[Token]:
    """Significant tokens of ``text`` (comments dropped); unknown characters become ``other``."""
    found = []
    for match in _TOKEN.finditer(text):
        if match.lastgroup != "comment":
            found.append(Token(match.lastgroup, match.group(), match.start()))
    return found


def prefixes(toks: list[Token]) -> dict[str, str]:
    """PREFIX declarations of the prologue (and of every operation of an update request)."""
    found = {}
    for i, tok in enumerate(toks[:-2]):
        if tok.is_word("PREFIX") and toks[i + 1].kind == "pname" and toks[i + 2].kind == "iri":
            found[toks[i + 1].text[:-1] if toks[i + 1].text.endswith(":") else toks[i + 1].text] = \
                toks[i + 2].text[1:-1]
    return found


def has_word(toks: list[Token], *words: str) -> bool:
    return any(t.is_word(*words) for t in toks)


def targets_of(toks: list[Token], keyword: str) -> list[str | None]:
    """The endpoint each ``keyword`` (SERVICE, LOAD) names: an IRI, or None when it is a variable
    or anything else that cannot be checked before execution."""
    names = prefixes(toks)
    found: list[str | None] = []
    for i, tok in enumerate(toks):
        if not tok.is_word(keyword):
            continue
        j = i + 1
        if j < len(toks) and toks[j].is_word("SILENT"):
            j += 1
        found.append(_resolve(toks[j], names) if j < len(toks) else None)
    return found


def _resolve(tok: Token, names: dict[str, str]) -> str | None:
    if tok.kind == "iri":
        return tok.text[1:-1]
    if tok.kind == "pname":
        prefix, _, local = tok.text.partition(":")
        return names[prefix] + local if prefix in names else None
    return None


def query_form(toks: list[Token]) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first keyword after the prologue, else None."""
    i = 0
    while i < len(toks):
        if toks[i].is_word("BASE"):
            i += 2
        elif toks[i].is_word("PREFIX"):
            i += 3
        elif toks[i].is_word("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return toks[i].text.upper()
        else:
            return None
    return None
