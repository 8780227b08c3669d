"""The query page at ``/``: YASGUI over this server's ``/sparql``, with the analysts' queries.

* ``GET /`` — the page (``templates/query.html``, ``static/query.js``): YASGUI from
  ``/vendor/yasgui/``, the project's prefixes, every query of ``queries/*.rq`` as a named
  example, result IRIs linked to their pages here, downloads of the current query's answer, a
  share link (``/?query=…&inference=false``) and the "include inferred facts" switch. Everything
  it loads comes from this origin.
* ``GET /queries.json`` — the examples as JSON: name, summary, description, tags, the query
  (without its ``#+`` header), ``shortQuery`` (the same without the PREFIX lines that the
  endpoint predeclares: what the page's editor shows, so that a question opens with its
  SELECT), ``view`` (``chart`` when the example opens on the chart) and the address of its file.
* ``GET /queries/<name>.rq`` — one example's file as it is in ``queries/``.

The examples are read from the project's ``queries/`` folder (the checkout's when the project
folder has none) and re-read when a file changes; their grlc-style header gives ``summary``,
``description`` and ``tags`` (one line, comma-separated, or a YAML list of ``#+   - tag``), and
optionally ``view: chart``. The files keep their PREFIX lines, so that they run as they are in any
SPARQL client; the page leaves out those the endpoint predeclares (:func:`short_query`).
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template

from tdkg import namespaces as ns

from .checkout import project_folder
from .errors import NotFound

bp = Blueprint("workbench", __name__)

#: queries/ of the source tree, used when the project folder has none
HEADER_FIELD = re.compile(r"^#\+\s*(\w+):\s*(.*)$")
HEADER_ITEM = re.compile(r"^#\+\s*-\s*(.*)$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
PREFIX_LINE = re.compile(r"^\s*PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>\s*$", re.I)
PROLOG_LINE = re.compile(r"^\s*(?:#.*|(?:PREFIX|BASE)\b.*)?$", re.I)
#: the result views an example may open on
VIEWS = ("table", "chart")

DEFAULT_COMMENT = """\
# States in the graph with their English names. Pick an analyst's question under "Examples",
# or write your own: Ctrl+Space completes prefixes, classes and properties; Ctrl+Enter runs.
# The endpoint predeclares tdkg:, tdi:, tds:, rdfs: and the project's other prefixes;
# "Add PREFIX lines" writes them out for use in another SPARQL client.
"""
DEFAULT_QUERY = """\
SELECT ?state ?name WHERE {
  ?state a tdkg:State ;
         rdfs:label ?name .
  FILTER (lang(?name) = "en")
}
ORDER BY ?name
"""


def parse_header(text: str) -> tuple[dict[str, str | list[str]], str]:
    """The ``#+`` header of a query file as fields, and the query after it.

    ``tags`` (and any field given as a list) becomes a list of strings; other fields are strings.
    """
    fields: dict[str, str | list[str]] = {}
    lines = text.splitlines(keepends=True)
    current = None
    end = 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("#+"):
            break
        end = index + 1
        item = HEADER_ITEM.match(stripped)
        field = HEADER_FIELD.match(stripped)
        if item and current is not None:
            listed = fields.get(current)
            fields[current] = (listed if isinstance(listed, list) else []) + [item.group(1).strip()]
        elif field:
            current, value = field.group(1), field.group(2).strip()
            fields[current] = value
    tags = fields.get("tags", [])
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    fields["tags"] = tags
    return fields, "".join(lines[end:])


def short_query(query: str) -> str:
    """``query`` without the PREFIX lines of its prolog that the endpoint predeclares
    (:data:`tdkg.namespaces.PREFIXES`, same prefix and same IRI), and without the blank lines
    they leave at its start. Other PREFIX lines, BASE and comments stay; the answer is the same.
    """
    lines = query.splitlines(keepends=True)
    kept = []
    for index, line in enumerate(lines):
        if not PROLOG_LINE.match(line):
            kept.extend(lines[index:])
            break
        declared = PREFIX_LINE.match(line)
        if declared and ns.PREFIXES.get(declared.group(1) or "") == declared.group(2):
            continue
        kept.append(line)
    return "".join(kept).lstrip("\n")


_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple, list[dict]]] = {}


def examples(folder: Path) -> list[dict]:
    """Every ``*.rq`` of ``folder``, sorted by name, as the page and ``/queries.json`` give it."""
    paths = sorted(folder.glob("*.rq"))
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    with _cache_lock:
        cached = _cache.get(folder)
        if cached is not None and cached[0] == signature:
            return cached[1]
    found = []
    for path in paths:
        fields, query = parse_header(path.read_text(encoding="utf-8"))
        found.append({"name": path.stem, "file": path.name, "href": f"/queries/{path.name}",
                      "summary": fields.get("summary") or path.stem,
                      "description": fields.get("description") or "",
                      "tags": fields["tags"], "query": query.lstrip("\n"),
                      "shortQuery": short_query(query),
                      "view": fields.get("view") if fields.get("view") in VIEWS else "table"})
    with _cache_lock:
        _cache[folder] = (signature, found)
    return found


def default_query() -> str:
    """The editor's first query: a comment, then a SELECT using the predeclared prefixes."""
    return DEFAULT_COMMENT + DEFAULT_QUERY


@bp.route("/")
def page() -> Response:
    config = {"endpoint": "/sparql", "base": ns.BASE, "prefixes": ns.PREFIXES,
              "chartScript": "/vendor/chart.js/chart.umd.min.js",
              "defaultQuery": default_query(), "examples": examples(project_folder("queries"))}
    return Response(render_template("query.html", config=config, examples=config["examples"],
                                    build=_build_info()),
                    content_type="text/html; charset=utf-8")


def _build_info() -> dict | None:
    """The served build's id and size, or None when there is no store (the page still works)."""
    try:
        info = current_app.config["TDKG_LIVE"].snapshot().info
    except Exception:       # no store yet: the page says nothing about it
        return None
    return {"id": info.get("id"), "triples": info.get("stats", {}).get("triples")}


@bp.route("/queries.json")
def listing() -> Response:
    response = jsonify({"examples": examples(project_folder("queries"))})
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/queries/<name>.rq")
def query_file(name: str) -> Response:
    path = project_folder("queries") / f"{name}.rq"
    if not NAME.match(name) or not path.is_file():
        raise NotFound(f"no query named {name!r}; /queries.json lists them")
    response = Response(path.read_bytes(), content_type="application/sparql-query; charset=utf-8")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response

