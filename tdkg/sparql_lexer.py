"""SPARQL 1.1 terminals in one linear pass: the lexer that the endpoint's checks and the rule
engine read queries with.

It follows the terminals of the SPARQL 1.1 grammar (§19.8): IRIREF (with ``\\u`` escapes),
PNAME_NS/PNAME_LN (with ``%HH`` and ``\\``-escapes in local names), BLANK_NODE_LABEL, VAR1/VAR2,
LANGTAG, the numbers, all four string forms (ECHAR and UCHAR escapes), comments, and the
punctuation (SPARQL 1.2's ``<<``, ``{|``, ``~`` included). Codepoint escapes are only read inside
IRIs and strings, as the engine (Oxigraph 0.5) does; it does not decode them in the whole text.

Where Oxigraph 0.5's parser reads a query differently from the grammar, the lexer reads it as the
engine does, because the engine is what would open a connection:

* a local name has at most one run of inner dots (``ex:a.b.c`` is ``ex:a.b`` ``.`` ``c``);
* keywords are matched by their first letters with no word boundary (``SERVICEex:t`` is SERVICE
  and ``ex:t``): words are kept whole here, and :mod:`tdkg.server.guard` looks inside them;
* ``<`` is an IRI or the less-than operator depending on context. The lexer tracks whether it
  is inside an expression; where both readings are possible and they would split the rest of the
  text differently (the IRI holds ``#`` or ``'``), the other reading is lexed too, as a *shadow*,
  until it meets the main reading again (:func:`shadows`).

Every scan is a single-class run or a bounded escape, and the one unbounded look-ahead (how far
a name may run before a ``:``) is remembered, so the whole pass is linear in the text's length.
"""
from __future__ import annotations

import bisect
import dataclasses
import re

_BASE = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF"
         "\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD"
         "\U00010000-\U000EFFFF")
_U = _BASE + "_"
_CHARS = _U + r"\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_ITEM = rf"(?:[{_CHARS}:]|{_PLX})"

_SPACE = re.compile(r"(?:[ \t\r\n]+|#[^\r\n]*)*")
_BLANKS = re.compile(r"[ \t\r\n]*")
_EOL = re.compile(r"[\r\n]")
_NAME_RUN = re.compile(f"[{_CHARS}.]*")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[^\x00-\x7f]")
_LOCAL = re.compile(rf"(?:[{_U}:0-9]|{_PLX}){_ITEM}*(?:\.+{_ITEM}+)?")
_IRIREF = re.compile(r"<(?:[^<>\"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*+>")
_VAR = re.compile(rf"[?$][{_U}0-9][{_U}0-9\u00B7\u0300-\u036F\u203F-\u2040]*")
_PUNCT = re.compile(r"\^\^|&&|\|\||!=|<=|>=|<<|>>|\{\||\|\}|[{}()\[\],;.*/|^!=<>+\-?~:]")
_ESCAPE = {"'": re.compile(r"[^'\\\n\r]*"), '"': re.compile(r'[^"\\\n\r]*')}
_LONG_RUN = {"'": re.compile(r"[^'\\]*"), '"': re.compile(r'[^"\\]*')}
_ESC = r"""\\(?:[tbnrf"'\\]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})"""
_ECHAR = re.compile(_ESC)
#: one match per token for everything but names and ``<`` (they need the lexer's state); a string
#: that does not match (not closed, a bad escape) is scanned again by hand to say where
_MASTER = re.compile(
    rf"(?P<var>[?$][{_U}0-9][{_U}0-9\u00B7\u0300-\u036F\u203F-\u2040]*+)"
    rf"""|(?P<string>'''(?:[^'\\]|{_ESC}|'(?!''))*+'''|\"\"\"(?:[^"\\]|{_ESC}|"(?!""))*+\"\"\""""
    rf"""|'(?:[^'\\\n\r]|{_ESC})*+'|"(?:[^"\\\n\r]|{_ESC})*+")"""
    rf"|(?P<bnode>_:[{_U}0-9][{_CHARS}.]*+)"
    r"|(?P<langtag>@[a-zA-Z]++(?:-[a-zA-Z0-9]++)*+)"
    r"|(?P<number>[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.[0-9]+[eE][+-]?[0-9]+|[0-9]+[eE][+-]?[0-9]+"
    r"|[0-9]*\.[0-9]+|[0-9]+)"
    rf"|(?P<name>[{_BASE}:])"
    r"|(?P<angle><)"
    r"|(?P<punct>\^\^|&&|\|\||!=|>=|>>|\{\||\|\}|[{}()\[\],;.*/|^!=>+\-?~])")
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

#: words after which ``(`` opens a variable list or a collection, not an expression
_LIST_OPENERS = frozenset({"A", "VALUES"})
_OPERAND_WORDS = frozenset({"TRUE", "FALSE"})
_CLAUSE = {"SELECT": "projection", "GROUP": "modifiers", "ORDER": "modifiers",
           "HAVING": "modifiers", "WHERE": None, "FROM": None, "LIMIT": None, "OFFSET": None,
           "VALUES": None}


class LexError(ValueError):
    """Text that no SPARQL terminal matches; ``position`` is the offset of the first such
    character."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


class TooAmbiguous(LexError):
    """More readings of ``<`` than the check will follow."""


class TooDeep(LexError):
    """Brackets nested deeper than the lexer's limit."""


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    kind: str       # iri, pname, bnode, var, string, langtag, number, word, punct
    text: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def ends_operand(self) -> bool:
        """Whether an expression operand can end with this token (so ``<`` after it may be the
        less-than operator)."""
        return (self.kind in ("var", "string", "number", "langtag", "iri", "pname", "bnode")
                or self.text in (")", "]") or self.is_word(*_OPERAND_WORDS))


@dataclasses.dataclass
class _State:
    """What the lexer knows about where it is: open brackets and the clause it is in."""

    stack: list[str] = dataclasses.field(default_factory=list)   # group, expr, list, bnode
    clause: str | None = None
    after_filter: bool = False
    prev: Token | None = None
    declaring: int = 0          # 2 right after PREFIX, 1 after its name: an IRI must follow

    def copy(self) -> "_State":
        return _State(list(self.stack), self.clause, self.after_filter, self.prev,
                      self.declaring)

    @property
    def in_expression(self) -> bool:
        return bool(self.stack) and self.stack[-1] == "expr"


@dataclasses.dataclass(frozen=True)
class Fork:
    """A ``<`` that the engine may read either way."""

    position: int
    state: _State


class _Lexer:
    def __init__(self, text: str, max_depth: int = 1_000_000):
        self.text, self.n, self.max_depth = text, len(text), max_depth
        self.run_end = -1            # end of the last name run scanned (memo: keeps it linear)
        self.forks: list[Fork] = []
        self._line_ends: list[int] | None = None

    def _skip(self, i: int) -> int:
        """Past white space and comments; a comment's end is looked up, not scanned, so that
        shadows starting comments on one long line stay cheap."""
        while True:
            i = _BLANKS.match(self.text, i).end()
            if i >= self.n or self.text[i] != "#":
                return i
            if self._line_ends is None:
                self._line_ends = [m.start() for m in _EOL.finditer(self.text)]
            k = bisect.bisect_left(self._line_ends, i)
            i = self._line_ends[k] if k < len(self._line_ends) else self.n

    def run(self, i: int = 0, state: _State | None = None, stop=None, flip: int = -1,
            budget: int | None = None) -> list[Token]:
        """Tokens from ``i``; ``stop(position)`` ends a shadow, ``flip`` is the fork position
        whose reading it reverses and ``budget`` the most tokens it may take."""
        state = state or _State()
        found: list[Token] = []
        while True:
            i = self._skip(i)
            if i >= self.n or (stop is not None and found and stop(i)):
                return found
            if budget is not None and len(found) >= budget:
                raise TooAmbiguous("shadow reading too long", i)
            token = self._next(i, state, flip)
            self._track(token, state)
            found.append(token)
            i = token.end

    def _next(self, i: int, state: _State, flip: int) -> Token:
        m = _MASTER.match(self.text, i)
        if m is None:
            if self.text[i] in "'\"":
                self._string_end(i)         # raises, naming what is wrong
            raise LexError(f"unexpected character {self.text[i]!r} at offset {i}", i)
        kind = m.lastgroup
        if kind == "name":
            return self._name(i)
        if kind == "angle":
            return self._angle(i, state, flip)
        text = m.group()
        if kind == "bnode":
            text = text.rstrip(".")
        return Token(kind, text, i, i + len(text))

    def _angle(self, i: int, state: _State, flip: int) -> Token:
        m = _IRIREF.match(self.text, i)
        operator = state.in_expression and state.prev is not None and state.prev.ends_operand()
        if (m and state.prev is not None and state.prev.ends_operand() and _splits(m.group())
                and state.declaring != 1):
            if flip == i:
                operator = not operator
            elif flip < 0:
                self.forks.append(Fork(i, state.copy()))
        if m and not operator:
            return _tok("iri", m.group(), i)
        return _tok("punct", _PUNCT.match(self.text, i).group(), i)

    def _string_end(self, i: int) -> int:
        quote = self.text[i]
        if self.text.startswith(quote * 3, i):
            return self._long_string_end(i, quote)
        j = i + 1
        while True:
            j = _ESCAPE[quote].match(self.text, j).end()
            if j >= self.n or self.text[j] in "\n\r":
                raise LexError(f"string starting at offset {i} is not closed on its line", i)
            if self.text[j] == quote:
                return j + 1
            j = self._escape_end(j)

    def _long_string_end(self, i: int, quote: str) -> int:
        j = i + 3
        while True:
            j = _LONG_RUN[quote].match(self.text, j).end()
            if j >= self.n:
                raise LexError(f"long string starting at offset {i} is not closed", i)
            if self.text[j] == "\\":
                j = self._escape_end(j)
            elif self.text.startswith(quote * 3, j):
                return j + 3
            else:
                j += 1

    def _escape_end(self, j: int) -> int:
        m = _ECHAR.match(self.text, j)
        if m is None:
            raise LexError(f"invalid escape sequence at offset {j}", j)
        return m.end()

    def _name(self, i: int) -> Token:
        """A prefixed name, or a word (keywords, ``a``, ``true``)."""
        colon = i
        if self.text[i] != ":":
            if i >= self.run_end:
                self.run_end = _NAME_RUN.match(self.text, i + 1).end()
            colon = self.run_end
            if colon >= self.n or self.text[colon] != ":" or self.text[colon - 1] == ".":
                return _tok("word", _WORD.match(self.text, i).group(), i)
        m = _LOCAL.match(self.text, colon + 1)
        return _tok("pname", self.text[i:m.end() if m else colon + 1], i)

    def _track(self, token: Token, state: _State) -> None:
        """Keep the bracket stack and clause up to date (what decides how ``<`` reads)."""
        state.declaring = 2 if token.is_word("PREFIX") else max(0, state.declaring - 1)
        if token.kind not in ("word", "punct"):
            state.after_filter = state.after_filter and token.kind in ("iri", "pname")
            state.prev = token
            return
        text, upper = token.text, token.text.upper()
        if token.kind == "word" and upper in _CLAUSE:
            state.clause = _CLAUSE[upper]
        if len(state.stack) > self.max_depth:
            raise TooDeep(f"brackets nest more than {self.max_depth} deep", token.start)
        if text == "(":
            state.stack.append(self._paren_kind(state))
        elif text in ("{", "{|", "<<"):
            state.stack.append("group")
        elif text == "[":
            state.stack.append("bnode")
        elif text in (")", "}", "|}", ">>", "]") and state.stack:
            state.stack.pop()
        if text in ("{", "}"):
            state.clause = None
        state.after_filter = token.is_word("FILTER") or (state.after_filter and token.kind in
                                                         ("iri", "pname"))
        state.prev = token

    @staticmethod
    def _paren_kind(state: _State) -> str:
        prev = state.prev
        if state.in_expression or prev is None:
            return "expr" if state.in_expression else "list"
        if prev.kind == "word":
            return "list" if prev.text.upper() in _LIST_OPENERS else "expr"
        if prev.kind == "var" and state.clause is not None:
            return "expr"
        if prev.kind in ("iri", "pname") and (state.after_filter or state.clause is not None):
            return "expr"
        return "list"


def _tok(kind: str, text: str, start: int) -> Token:
    return Token(kind, text, start, start + len(text))


def _splits(iri: str) -> bool:
    """Whether reading this IRIREF as ``<`` and more tokens would start a comment or a string."""
    return "#" in iri or "'" in iri


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` (comments and white space dropped). Raises :class:`LexError`."""
    return _Lexer(text).run()


def tokens_and_shadows(text: str, max_depth: int = 1_000_000) -> tuple[list[Token], list[Token]]:
    """The main reading and, for every ``<`` the engine may read the other way, the tokens of
    that other reading up to where it meets the main one again. A shadow that is not valid
    SPARQL is dropped: the engine would refuse that reading as a whole. All shadows together
    may hold at most as many tokens as the main reading (plus a little), or
    :class:`TooAmbiguous` is raised: that keeps the check linear."""
    lexer = _Lexer(text, max_depth)
    main = lexer.run()
    ends = {t.start: t.end for t in main}
    budget = 4 * len(main) + 1024
    shadow: list[Token] = []
    for fork in lexer.forks:
        resume = ends[fork.position]
        try:        # the same lexer: its memo depends on the text only, not on the reading
            found = lexer.run(fork.position, fork.state.copy(), flip=fork.position,
                              stop=lambda i, r=resume: i >= r and i in ends, budget=budget)
        except TooDeep:
            raise
        except TooAmbiguous:
            raise TooAmbiguous("the query has too many places where '<' could be an IRI or "
                               "less-than to check; put a space after '<' when you mean "
                               "less-than", fork.position) from None
        except LexError:
            continue
        budget -= len(found)
        shadow += found
    return main, shadow


def unescape_iri(iri: str) -> str:
    """The IRI an IRIREF token (with its ``<>``) denotes: ``\\u`` and ``\\U`` escapes decoded."""
    return _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), iri[1:-1])


_LOCAL_ESCAPE = re.compile(r"\\(.)")


def unescape_local(local: str) -> str:
    """A local name as it goes into the IRI: ``\\``-escapes dropped, ``%HH`` kept (§4.1.1)."""
    return _LOCAL_ESCAPE.sub(r"\1", local)


_PNAME = re.compile(rf"(?:[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?)?:")


def skip_space(text: str, i: int) -> int:
    """The offset after white space and comments from ``i``."""
    return _SPACE.match(text, i).end()


def term_at(text: str, i: int) -> tuple[str, str, int] | None:
    """The variable, IRIREF or prefixed name that starts at ``i``, as (kind, text, end)."""
    if m := _VAR.match(text, i):
        return "var", m.group(), m.end()
    if m := _IRIREF.match(text, i):
        return "iri", m.group(), m.end()
    if m := _PNAME.match(text, i):
        local = _LOCAL.match(text, m.end())
        end = local.end() if local else m.end()
        return "pname", text[i:end], end
    return None


def prefix_name_at(text: str, i: int) -> tuple[str, int] | None:
    """The PNAME_NS (``ex:``) that starts at ``i``, without its colon, and its end."""
    m = _PNAME.match(text, i)
    return (m.group()[:-1], m.end()) if m else None


def has_word(toks: list[Token], *words: str) -> bool:
    return any(t.is_word(*words) for t in toks)


def query_form(toks: list[Token]) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first keyword after the prologue, else None."""
    i = 0
    while i < len(toks):
        if toks[i].is_word("BASE", "VERSION"):
            i += 2
        elif toks[i].is_word("PREFIX"):
            i += 3
        elif toks[i].is_word("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return toks[i].text.upper()
        else:
            return None
    return None
