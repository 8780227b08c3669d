"""``tdkg new-source FILE.txt``: register a new source document, the first step of curating it.

It creates three files, and changes none that exist:

* ``data/ttl/doc-NNN-source.ttl``: the document's entry ``tds:doc-NNN``, described as the four
  first documents are in ``sources.ttl`` (label ``Doc NNN: …``, byline note, footnote flag,
  comment; title, authors, publisher, date, web address and licence when given), followed by a
  commented stub for each footnote the text has. A file of its own rather than an addition to
  ``sources.ttl``: the build and the closed vocabulary read every ``.ttl`` of ``data/ttl``, and a
  new file can be written atomically and taken back by deleting it.
* ``data/ttl/doc-NNN-SLUG.ttl``: the facts file, the project's prefixes and a commented template
  of the common kinds of fact node (:mod:`.templates`); it holds no triple, so the build passes
  with it untouched.
* ``data/coverage/doc-NNN.tsv``: one row per unit of the text by :func:`tdkg.coverage.split`,
  every row ``todo`` (:func:`tdkg.coverage.todo_table`); ``tdkg build`` warns about them and
  ``tdkg build --strict`` fails until none is left.

The text is never copied into the project (its sentences must not be): the entry records the
SHA-256 digest of the file as ``owl:versionInfo "sha256:…"`` (an annotation OWL 2 DL needs no
declaration for), which identifies the exact text the facts and coverage rows refer to. The
text is kept outside, like the four seeds in ``../shared/seeds/``; placed there as
``NNN_<first 16 hex digits of the digest>.txt``, the coverage tests check the table against it.

Nothing is guessed: what the existing entries always have is asked for (a label or a title, a
byline or ``--no-byline``, a comment), the rest is recorded only when given. Every check runs
before anything is written: a missing or bad option is a usage error (status 2) listing all
that is wrong; an unreadable, empty or non-UTF-8 file, a document already registered (same
digest or same URL), or a target file that exists is refused (status 1).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyoxigraph as ox

from .. import coverage
from .. import namespaces as ns
from ..names import words
from ..pipeline.errors import LoadError
from ..pipeline.load import parse_file, source_files
from ..settings import Settings
from . import templates, todo

HELP = "register a new source document: its entry, a Turtle file, a coverage table"
DOC_IRI = re.compile(re.escape(ns.SOURCE) + r"doc-(\d{3,})$")
DIGEST = "sha256:"
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
MIN_YEAR, MAX_YEAR = 1900, 2100              # the shapes' bounds on years
STOPWORDS = {"a", "an", "the", "of", "on", "in", "and", "to", "for", "with", "why", "how", "what",
             "s", "is", "are", "doc", "its", "at", "by", "from"}
IRI_UNSAFE = re.compile(r'[\s<>"{}|^`\\]')
TYPE = ox.NamedNode(ns.PREFIXES["rdf"] + "type")
DOCUMENT = ox.NamedNode(ns.TDKG + "Document")
VERSION = ox.NamedNode(ns.PREFIXES["owl"] + "versionInfo")
URL = ox.NamedNode("https://schema.org/url")


class Refused(Exception):
    """Why nothing was written (status 1)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.txt", help="the document's text (UTF-8); it is not "
                   "copied into the project, only its SHA-256 digest is recorded")
    p.add_argument("--title", help="the title proper, as the document gives it")
    p.add_argument("--label", help="a short label in your words (default: the title); "
                   "'Doc NNN: ' is put in front")
    p.add_argument("--author", action="append", default=[], metavar="NAME",
                   help="an author named in the byline (repeat for several)")
    p.add_argument("--byline", help="what the byline says, as a short note (default: 'By' and "
                   "the authors)")
    p.add_argument("--no-byline", action="store_true", help="the text names no author")
    p.add_argument("--publisher", help="the outlet, institute or organisation that issued it")
    p.add_argument("--date", help="publication date: YYYY, YYYY-MM or YYYY-MM-DD")
    p.add_argument("--url", help="the web address of the document (http:// or https://)")
    p.add_argument("--licence", "--license", dest="licence",
                   help="the document's licence: a URL (such as a Creative Commons deed) or text")
    p.add_argument("--comment", help="what kind of document it is, in your words (required: "
                   "every entry has one)")
    p.add_argument("--slug", help="the facts file's name after doc-NNN- (default: from the "
                   "title or label)")
    p.add_argument("--json", action="store_true", help="print what was created as JSON")


# --- the options --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    """The options, checked: text stripped, the date split, the licence's kind known."""

    title: str | None
    label: str | None
    authors: tuple[str, ...]
    byline: str
    publisher: str | None
    date: str | None
    year: int | None
    url: str | None
    licence: str | None
    licence_is_iri: bool
    comment: str
    slug: str | None


def check_options(args: argparse.Namespace, today: datetime.date) -> tuple[Options | None, list]:
    """The checked options, or None and every problem found."""
    problems: list[str] = []
    text = {k: _text(getattr(args, k), f"--{k}", problems)
            for k in ("title", "label", "byline", "publisher", "comment", "slug", "url", "date",
                      "licence")}
    authors = tuple(a for a in (_text(a, "--author", problems) for a in args.author) if a)
    if not text["label"] and not text["title"]:
        problems.append("a label is needed: --label TEXT (in your words) or --title TEXT")
    if not text["comment"]:
        problems.append("--comment TEXT is needed: what kind of document it is, in your words")
    if args.no_byline and (authors or text["byline"]):
        problems.append("--no-byline says the text names no author; leave out --author/--byline")
    elif not (args.no_byline or authors or text["byline"]):
        problems.append("say who wrote it: --author NAME (repeatable) or --byline TEXT, or "
                        "--no-byline when the text names no author")
    year = _check_date(text["date"], today, problems) if text["date"] else None
    if text["url"]:
        _check_url(text["url"], "--url", problems)
    licence_is_iri = bool(text["licence"] and re.match(r"https?://", text["licence"]))
    if licence_is_iri:
        _check_url(text["licence"], "--licence", problems)
    if text["slug"] and (not SLUG.fullmatch(text["slug"]) or len(text["slug"]) > 40
                         or text["slug"] == "source"):
        problems.append(f"--slug {text['slug']!r}: lower-case letters and digits joined by "
                        "hyphens, at most 40 characters, not 'source'")
    if problems:
        return None, problems
    byline = text["byline"] or (f"By {_names(authors)}" if authors else "no byline")
    return Options(text["title"], text["label"], authors, byline, text["publisher"], text["date"],
                   year, text["url"], text["licence"], licence_is_iri, text["comment"],
                   text["slug"]), []


def _text(value: str | None, option: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        problems.append(f"{option} is empty")
    return value or None


def _names(authors: tuple[str, ...]) -> str:
    return authors[0] if len(authors) == 1 else ", ".join(authors[:-1]) + " and " + authors[-1]


def _check_date(value: str, today: datetime.date, problems: list[str]) -> int | None:
    match = DATE.fullmatch(value)
    if not match:
        problems.append(f"--date {value!r}: give YYYY, YYYY-MM or YYYY-MM-DD (such as 2025-03-14)")
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        datetime.date(year, month or 1, day or 1)
    except ValueError as err:
        problems.append(f"--date {value!r}: no such date ({err})")
        return None
    if not MIN_YEAR <= year <= MAX_YEAR:
        problems.append(f"--date {value!r}: the year must be between {MIN_YEAR} and {MAX_YEAR}")
    elif (year, month or 1, day or 1) > (today.year, today.month, today.day):
        problems.append(f"--date {value!r} is in the future (today is {today.isoformat()})")
    return year


def _check_url(value: str, option: str, problems: list[str]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or IRI_UNSAFE.search(value):
        problems.append(f"{option} {value!r}: give a web address starting http:// or https://, "
                        "with no spaces")


def same_url(url: str) -> str:
    """A URL as compared for 'already registered': scheme and host in lower case, no fragment,
    no trailing slash."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}{query}"


# --- the text -----------------------------------------------------------------------------------

def read_text(path: Path) -> tuple[bytes, str]:
    """The file's bytes and text; refused when it cannot be read, is empty or is not UTF-8."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise Refused(f"{path}: no such file") from None
    except IsADirectoryError:
        raise Refused(f"{path}: is a folder, not a text file") from None
    except OSError as err:
        raise Refused(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise Refused(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{raw[err.start]:02x} at "
                      f"offset {err.start}); save the file as UTF-8") from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise Refused(f"{path}:{line}: a NUL character: this is not a plain text file")
    if not text.strip():
        raise Refused(f"{path}: the file is empty")
    return raw, text.removeprefix("\ufeff")


# --- what is registered -------------------------------------------------------------------------

@dataclass(frozen=True)
class Registered:
    number: int
    digests: tuple[str, ...]
    urls: tuple[str, ...]
    where: str


def seeds_dir(settings: Settings) -> Path:
    """Where the seed texts are: ``../shared/seeds`` beside the project folder."""
    return settings.project_dir.resolve().parent / "shared" / "seeds"


def registered(settings: Settings) -> list[Registered]:
    """The documents of the working tree (``tds:doc-NNN a tdkg:Document``, with any digest and
    URL their entries record) and the seed texts (by their number and digest)."""
    found = []
    for path in source_files(settings.data_dir):
        try:
            triples = parse_file(path)
        except LoadError as err:
            raise Refused(f"{err} (fix it first: new-source reads every data file to see which "
                          "documents are registered)") from None
        found += _documents(triples, path)
    for number, seed in coverage.seed_files(seeds_dir(settings)).items():
        if number.isdigit():
            digest = hashlib.sha256(seed.read_bytes()).hexdigest()
            found.append(Registered(int(number), (digest,), (), str(seed)))
    return found


def _documents(triples: list[ox.Triple], path: Path) -> list[Registered]:
    docs = {t.subject.value for t in triples if t.predicate == TYPE and t.object == DOCUMENT
            and type(t.subject) is ox.NamedNode and DOC_IRI.match(t.subject.value)}
    digests: dict[str, list[str]] = {d: [] for d in docs}
    urls: dict[str, list[str]] = {d: [] for d in docs}
    for t in triples:
        if t.subject.value in docs and type(t.object) is ox.Literal:
            if t.predicate == VERSION and t.object.value.startswith(DIGEST):
                digests[t.subject.value].append(t.object.value[len(DIGEST):].lower())
            elif t.predicate == URL:
                urls[t.subject.value].append(same_url(t.object.value))
    return [Registered(int(DOC_IRI.match(d).group(1)), tuple(digests[d]), tuple(urls[d]),
                       str(path)) for d in sorted(docs)]


def already(known: list[Registered], digest: str, url: str | None) -> str | None:
    """Why the document is already registered, or None."""
    for r in known:
        if digest in r.digests:
            return f"the same text (SHA-256 {digest[:16]}…) is already doc-{r.number:03d} ({r.where})"
        if url and same_url(url) in r.urls:
            return f"{url} is already the address of doc-{r.number:03d} ({r.where})"
    return None


# --- the plan: every file's path and text, before anything is written ---------------------------

@dataclass(frozen=True)
class Plan:
    entry: templates.Entry
    files: dict[str, tuple[Path, str]]      # role -> (path, text)
    project: Path


def plan(args: argparse.Namespace, options: Options, settings: Settings) -> Plan:
    source = Path(args.file)
    raw, text = read_text(source)
    digest = hashlib.sha256(raw).hexdigest()
    known = registered(settings)
    reason = already(known, digest, options.url)
    if reason:
        raise Refused(f"{source}: not registered again: {reason}")
    number = max((r.number for r in known), default=-1) + 1
    if number > 999:
        raise Refused("documents are numbered doc-000 to doc-999, and doc-999 is taken")
    units = coverage.split(text)
    entry = _entry(options, f"{number:03d}", digest, source.name, units)
    slug = options.slug or _slug(options.title or _bare(options.label or ""))
    files = {"entry": (settings.data_dir / f"{entry.name}-source.ttl", templates.source_file(entry)),
             "facts": (settings.data_dir / f"{entry.name}-{slug}.ttl", templates.facts_file(entry)),
             "coverage": (todo.coverage_dir(settings) / f"{entry.name}.tsv",
                          coverage.todo_table(units))}
    _check_targets(files, settings)
    _check_turtle(files)
    return Plan(entry, files, settings.project_dir)


def _entry(o: Options, number: str, digest: str, file_name: str,
           units: list[coverage.Unit]) -> templates.Entry:
    footnotes = sorted({m for u in units for m in u.markers}
                       | {u.reference for u in units if u.reference is not None})
    kinds = {k: sum(1 for u in units if u.kind == k) for k in ("sentence", "heading", "reference")}
    label = f"Doc {number}: {_bare(o.label) if o.label else o.title}"
    return templates.Entry(number, label, o.comment, o.byline, digest, file_name,
                           tuple(footnotes), o.title, o.authors, o.publisher, o.date, o.year,
                           o.url, o.licence, o.licence_is_iri, {"units": len(units), **kinds})


def _bare(label: str) -> str:
    """A label without a 'Doc NNN:' the curator may have written."""
    return re.sub(r"^doc\s*\d+\s*:\s*", "", label, flags=re.IGNORECASE)


def _slug(text: str) -> str:
    kept = [w for w in words(text) if w not in STOPWORDS and w.isascii()]
    return "-".join(kept[:3])[:40].strip("-") or "facts"


def _check_targets(files: dict[str, tuple[Path, str]], settings: Settings) -> None:
    number = files["coverage"][0].stem
    taken = [path for path, _ in files.values() if path.exists() or path.is_symlink()]
    taken += [p for p in sorted(settings.data_dir.glob(f"{number}-*"))
              if p not in taken and p.suffix in (".ttl", ".nt")]
    if taken:
        raise Refused(f"{number} is the next free number, but "
                      f"{', '.join(str(p) for p in taken)} already exist(s) with no entry "
                      f"tds:{number} registered: remove or rename it, or register it by hand")


def _check_turtle(files: dict[str, tuple[Path, str]]) -> None:
    """The generated Turtle parses, and the facts file holds no triple (a self-check)."""
    for role in ("entry", "facts"):
        path, text = files[role]
        try:
            triples = list(ox.parse(text.encode("utf-8"), format=ox.RdfFormat.TURTLE))
        except SyntaxError as err:          # a bug here, never the curator's input
            raise Refused(f"internal error: the {role} file for {path} does not parse: {err}")
        if role == "facts" and triples:
            raise Refused(f"internal error: the template for {path} is not comments only")


# --- writing: all or nothing --------------------------------------------------------------------

def write_all(files: dict[str, tuple[Path, str]]) -> None:
    """Create every file or none: each is written beside its target and linked in place (which
    fails rather than replace a file); on any error the ones already made are removed."""
    made: list[Path] = []
    folders: list[Path] = []
    try:
        for path, text in files.values():
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True)
                folders.append(path.parent)
            _create(path, text)
            made.append(path)
    except OSError as err:
        for path in made:
            path.unlink(missing_ok=True)
        for folder in reversed(folders):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise Refused(f"could not write {err.filename or ''}: {err.strerror or err}; "
                      "nothing was created") from None


def _create(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


# --- the command --------------------------------------------------------------------------------

def run(args: argparse.Namespace, settings: Settings) -> int:
    options, problems = check_options(args, datetime.date.today())
    if problems:
        print("tdkg new-source: usage error:\n" + "".join(f"  - {p}\n" for p in problems)
              + "nothing was written; see tdkg new-source --help", file=sys.stderr)
        return 2
    try:
        made = plan(args, options, settings)
        _warn_if_inside(Path(args.file), settings)
        write_all(made.files)
    except Refused as err:
        print(f"tdkg new-source: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary(made), indent=2, ensure_ascii=False) if args.json else report(made))
    return 0


def _warn_if_inside(source: Path, settings: Settings) -> None:
    if source.resolve().is_relative_to(settings.project_dir.resolve()):
        print(f"warning: {source} is inside the project folder: a source's text must not be "
              "committed (only its digest is recorded); keep it outside, e.g. beside "
              f"{seeds_dir(settings)}", file=sys.stderr)


def summary(p: Plan) -> dict:
    e = p.entry
    return {"document": e.name, "iri": ns.SOURCE + e.name, "label": e.label, "sha256": e.digest,
            "units": e.units, "footnotes": list(e.footnotes),
            "files": {role: _shown(path, p.project) for role, (path, _) in p.files.items()},
            "not_recorded": _missing(e), "seed_name": f"{e.number}_{e.digest[:16]}.txt"}


def _missing(e: templates.Entry) -> list[str]:
    return [k for k, v in (("title", e.title), ("publisher", e.publisher), ("date", e.date),
                           ("url", e.url), ("licence", e.licence)) if not v]


def _shown(path: Path, project: Path) -> str:
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)


def report(p: Plan) -> str:
    s, e = summary(p), p.entry
    u = e.units
    files = s["files"]
    lines = [
        f"registered {e.name}: {e.label}",
        f"  text      {e.file_name}: SHA-256 {e.digest}",
        (f"            {u['units']} units ({_count(u['sentence'], 'sentence')}, "
        f"{_count(u['heading'], 'heading')}, {_count(u['reference'], 'reference entry')}); "
        f"footnotes: {', '.join(map(str, e.footnotes)) or 'none'}"),
        f"  created   {files['entry']}  the entry tds:{e.name}"
        + (f" and commented stubs for {len(e.footnotes)} footnote(s)" if e.footnotes else ""),
        f"  created   {files['facts']}  prefixes and a commented template of the common facts",
        f"  created   {files['coverage']}  {u['units']} rows, every one todo",
    ]
    if s["not_recorded"]:
        lines.append(f"  not given {', '.join(s['not_recorded'])} (recorded only when given)")
    lines += [
        "",
        "The text is not copied into the project: its digest is recorded. Keep it outside; for",
        f"the coverage tests to check the table, place it as ../shared/seeds/{s['seed_name']}.",
        "",
        "Next:",
        "  1. Before creating an entity, look for it by name or Wikidata ID, and reuse what is found:",
        '       tdkg find "Name"        (case and diacritics do not matter: turkiye finds Türkiye)',
        "       tdkg find Q43           (or wd:Q43, or the Wikidata URL)",
        f"  2. Write fact nodes in {files['facts']} from its template; list each",
        f"     in the rows of {files['coverage']} it encodes, or give a reason.",
        "  3. tdkg diff (what would change), then tdkg build --strict (fails while rows are todo).",
    ]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


COMMANDS = {"new-source": (HELP, add_arguments, run)}
