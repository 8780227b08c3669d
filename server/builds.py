"""The build history at ``/builds``: the published builds the state folder keeps.

``GET /builds`` lists them, newest first, each with its id, publication time, input digest,
statistics, whether it is the one served, and a link to its changes against the build it
replaced when it was published (the one served before it);
``GET /builds/<id>`` is one of them; ``GET /builds/<id>/changes`` is the ``changes.json`` the
build wrote (what it added, removed and changed, as ``tdkg diff`` reports it). Programs get JSON;
browsers (or ``format=html``) a page of the site; ``format=text`` or an Accept that ranks
``text/plain`` first gets the changes as the terminal shows them.

Everything comes from small files of the build folders (``build.json``, ``published``,
``changes.json``) and the state folder's ``history.jsonl``, read by
:mod:`tdkg.pipeline.history`: no store is opened in the web process. Ids are looked up among the
kept builds, never joined into a path. ``tdkg rollback`` moves ``current``; the next request
here (and to ``/sparql``) sees it.
"""
from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)

from tdkg.pipeline import history

from .errors import NotAcceptable, NotFound
from .formats import prefers_html

bp = Blueprint("builds", __name__)


def _root():
    return current_app.config["TDKG"].store_root


def _with_links(entry: dict) -> dict:
    build_id = entry["id"]
    return {**entry, "href": f"/builds/{build_id}",
            "changes": f"/builds/{build_id}/changes" if entry["changes"] else None}


def _listing() -> dict:
    found = history.listing(_root(), current_app.config["TDKG"].keep_builds)
    return {**found, "builds": [_with_links(e) for e in found["builds"]]}


def _fresh(response: Response) -> Response:
    """A rollback can change any of these at any moment: caches must ask again."""
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept")
    return response


@bp.route("/builds", strict_slashes=False)
def builds() -> Response:
    found = _listing()
    if prefers_html(request.accept_mimetypes, request.args.get("format")):
        return _fresh(Response(render_template(
            "builds.html", listing=found, short=history.SHORT_DIGEST, time=history.short_time,
            kept={b["id"] for b in found["builds"]}), content_type="text/html; charset=utf-8"))
    return _fresh(jsonify(found))


def _entry(build_id: str) -> dict:
    for entry in _listing()["builds"]:
        if entry["id"] == build_id:
            return entry
    raise NotFound(f"no kept build is called {build_id!r}; GET /builds lists the kept builds")


@bp.route("/builds/<build_id>")
def build(build_id: str) -> Response:
    entry = _entry(build_id)
    if prefers_html(request.accept_mimetypes, request.args.get("format")):
        return _fresh(redirect(f"/builds#{build_id}", code=303))
    return _fresh(jsonify(entry))


@bp.route("/builds/<build_id>/changes")
def changes(build_id: str) -> Response:
    entry = _entry(build_id)
    folder = history.build_dir(_root(), build_id)
    try:
        recorded = json.loads((folder / history.CHANGES).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        raise NotFound(f"build {build_id} has no recorded changes (the first build of a state "
                       "folder, or one made before changes were recorded)") from None
    shown = _changes_format()
    if shown == "html":
        return _fresh(Response(render_template(
            "builds_changes.html", build=entry, text=_as_text(recorded), time=history.short_time),
            content_type="text/html; charset=utf-8"))
    if shown == "text":
        return _fresh(Response(_as_text(recorded), content_type="text/plain; charset=utf-8"))
    return _fresh(jsonify(recorded))


CHANGES_FORMATS = ("json", "text", "html")


def _changes_format() -> str:
    """``format=`` (json, text, html), else the Accept header: a browser's gets the page,
    ``text/plain`` ranked above JSON the text, anything else JSON."""
    keyword = request.args.get("format", "").lower()
    if keyword:
        if keyword not in CHANGES_FORMATS:
            raise NotAcceptable(f"format={keyword!r}: the changes come as "
                                + ", ".join(CHANGES_FORMATS))
        return keyword
    accept = request.accept_mimetypes
    if prefers_html(accept):
        return "html"
    return "text" if accept["text/plain"] > accept["application/json"] else "json"


def _as_text(recorded: dict) -> str:
    """The changes as ``tdkg diff`` prints them."""
    from tdkg.curation import diff
    render = getattr(diff, "render_text", None)
    if render is None:      # the curation module predates the text rendering
        return json.dumps(recorded, indent=2, ensure_ascii=False) + "\n"
    return render(recorded)
