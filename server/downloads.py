"""The published build's downloadable files: RDF dumps, the register and the JSON-LD context.

``GET /downloads/`` lists them (JSON, from the build's manifest); ``GET /downloads/<name>`` serves
one with its media type, an ETag (its sha256) and conditional GET. Only names the manifest lists
are served, so no path can leave the downloads folder. ``/context.jsonld`` and
``/register.csv`` are stable shortcuts. All of it is open to any origin, like ``/sparql``.
The compacted JSON-LD dumps carry a ``Link`` header naming their context.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_file
from flask_cors import cross_origin

from tdkg import jsonld
from tdkg import namespaces as ns
from tdkg.pipeline import downloads

from .errors import NotFound

bp = Blueprint("downloads", __name__)
#: https://w3id.org/tdkg/downloads/<name> is where a file's canonical IRI points
PUBLIC_BASE = ns.BASE + "downloads/"
REGISTER_FILENAME = "tdkg-register.csv"


def current() -> tuple[str, Path, dict | None]:
    """(build id, its downloads folder, its manifest or None) of the build being served."""
    live = current_app.config["TDKG_LIVE"].snapshot()
    build_dir = current_app.config["TDKG"].store_root / "builds" / live.build_id
    return live.build_id, downloads.folder(build_dir), downloads.read_manifest(build_dir)


@bp.route("/downloads/")
@cross_origin(origins="*", send_wildcard=True)
def listing() -> Response:
    build, _, manifest = current()
    files = [] if manifest is None else [
        {"name": f["name"], "href": f"/downloads/{f['name']}", "iri": PUBLIC_BASE + f["name"],
         "media_type": f["media_type"], "bytes": f["bytes"], "sha256": f["sha256"],
         **{k: f[k] for k in ("triples", "rows", "terms", "graphs", "context") if k in f}}
        for f in manifest["files"]]
    return jsonify({"build": build, "files": files})


@bp.route("/downloads/<path:name>")
@cross_origin(origins="*", send_wildcard=True)
def download(name: str) -> Response:
    return _send(name)


@bp.route("/context.jsonld")
@cross_origin(origins="*", send_wildcard=True)
def context() -> Response:
    return _send(downloads.CONTEXT)


@bp.route("/register.csv")
@cross_origin(origins="*", send_wildcard=True)
def register() -> Response:
    return _send(downloads.REGISTER, attachment=REGISTER_FILENAME)


def _send(name: str, attachment: str | None = None) -> Response:
    build, folder, manifest = current()
    if manifest is None:
        raise NotFound(f"build {build} was made without downloads (tdkg build --no-downloads); "
                       "`tdkg export` can write them from its store")
    entry = next((f for f in manifest["files"] if f["name"] == name), None)
    if entry is None:       # only listed names: nothing outside the folder can be reached
        raise NotFound(f"no download named {name!r}; GET /downloads/ lists them")
    response = send_file(folder / entry["name"], mimetype=entry["media_type"], conditional=True,
                         etag=entry["sha256"], download_name=attachment or entry["name"],
                         as_attachment=attachment is not None, max_age=None)
    if "context" in entry:      # a compacted JSON-LD dump: name its context (JSON-LD 1.1 §6.1)
        response.headers["Link"] = f'<{entry["context"]}>; rel="{jsonld.CONTEXT_REL}"'
    return response
