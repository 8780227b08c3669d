"""Sections of README.md that are generated, never typed: ``tdkg readme`` rewrites them and a test
fails when they are stale.

A section sits between ``<!-- BEGIN name -->`` and ``<!-- END name -->``. ``settings`` is the table
of settings from :data:`tdkg.settings.FIELDS`; ``statistics`` is the answer of
``queries/facts-by-document-and-status.rq`` on the published build, as a Markdown table;
``coverage`` sums up the coverage tables of ``data/coverage/`` (:mod:`tdkg.coverage`).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from . import coverage
from . import namespaces as ns
from .pipeline import store as pipeline_store
from .settings import FIELDS, Settings, env_name

STATISTICS_QUERY = Path("queries") / "facts-by-document-and-status.rq"
COVERAGE_DIR = Path("data") / "coverage"


def settings_table(_: Settings) -> str:
    rows = ["| flag | environment variable | default | meaning |", "|---|---|---|---|"]
    defaults = Settings()
    for field, (help_text, _kind) in FIELDS.items():
        default = getattr(defaults, field)
        shown = ", ".join(default) if isinstance(default, tuple) else default
        rows.append(f"| `--{field.replace('_', '-')}` | `{env_name(field)}` | "
                    f"`{'' if shown is None else shown}` | {help_text} |")
    return "\n".join(rows)


def run_on_build(settings: Settings, query: str) -> tuple[list[str], list[list[str]]]:
    build = pipeline_store.current_build(settings.store_root)
    if build is None:
        raise RuntimeError("no published build: run `tdkg build` first")
    store = ox.Store.read_only(str(build / "store"))
    answer = store.query(query, default_graph=[ox.NamedNode(g) for g in ns.FACT_GRAPHS])
    names = [v.value for v in answer.variables]
    rows = [[_cell(row[n]) for n in names] for row in answer]
    return names, rows


def _cell(term) -> str:
    return "" if term is None else term.value.replace("|", "\\|")


def statistics_table(settings: Settings) -> str:
    query = (settings.project_dir / STATISTICS_QUERY).read_text()
    names, rows = run_on_build(settings, query)
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def coverage_table(settings: Settings) -> str:
    lines = ["| document | units | sentences | sentences with facts | sentences without (reason given) "
             "| fact nodes | fact nodes per sentence with facts |", "|---|---|---|---|---|---|---|"]
    for doc, rows in coverage.tables(settings.project_dir / COVERAGE_DIR).items():
        s = coverage.summary(rows)
        lines.append(f"| doc {doc} | {s['units']} | {s['sentences']} | {s['mapped']} | "
                     f"{s['sentences'] - s['mapped']} | {s['facts']} | {s['per_sentence']:.2f} |")
    return "\n".join(lines)


SECTIONS: dict[str, Callable[[Settings], str]] = {
    "settings": settings_table,
    "statistics": statistics_table,
    "coverage": coverage_table,
}


def render(text: str, settings: Settings) -> str:
    """``text`` with every generated section replaced by its current content."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.S)
        if pattern.search(text):
            content = make(settings)
            text = pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)
    return text


def update(settings: Settings) -> bool:
    """Rewrite README.md in place; True when it changed."""
    path = settings.project_dir / "README.md"
    old = path.read_text()
    new = render(old, settings)
    if new != old:
        path.write_text(new)
    return new != old
