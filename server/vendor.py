"""``/vendor/<package>/<file>``: the front-end libraries, served from this server's own origin.

The setup command installs them from the npm registry into ``node_modules/`` (from
``package.json`` and its lock file; nothing of theirs is committed). Only the files listed in
:data:`FILES` are served — the built bundles and their stylesheets — so nothing else under
``node_modules`` is reachable, and pages never need a CDN. Scripts and stylesheets go out
gzip-compressed to clients that accept it (compressed once per file version, kept in memory).
"""
from __future__ import annotations

import functools
import gzip
import mimetypes
from pathlib import Path

from flask import Blueprint, Response, request, send_file

from .checkout import project_folder
from .errors import NotFound

bp = Blueprint("vendor", __name__)

#: public name → file under node_modules/
FILES = {
    "yasgui/yasgui.min.js": "@zazuko/yasgui/build/yasgui.min.js",
    "yasgui/yasgui.min.css": "@zazuko/yasgui/build/yasgui.min.css",
    "vis-network/vis-network.min.js": "vis-network/standalone/umd/vis-network.min.js",
    "vis-timeline/vis-timeline-graph2d.min.js":
        "vis-timeline/standalone/umd/vis-timeline-graph2d.min.js",
    "vis-timeline/vis-timeline-graph2d.min.css":
        "vis-timeline/styles/vis-timeline-graph2d.min.css",
    # the query page's chart view (loaded when a chart is first drawn)
    "chart.js/chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}
SETUP_HINT = "run ./scripts/setup.sh, which installs the front-end packages with npm"


def node_modules() -> Path:
    return project_folder("node_modules")


def missing() -> list[str]:
    """The vendored files that are not installed (empty when the setup ran)."""
    root = node_modules()
    return [name for name, rel in FILES.items() if not (root / rel).is_file()]


@bp.route("/vendor/<path:name>")
def vendored(name: str) -> Response:
    rel = FILES.get(name)
    if rel is None:
        raise NotFound(f"no vendored file {name!r}")
    path = node_modules() / rel
    if not path.is_file():
        raise NotFound(f"{rel} is not installed: {SETUP_HINT}")
    if "gzip" in request.accept_encodings and path.suffix in COMPRESSED:
        return _gzipped_response(path)
    response = send_file(path, conditional=True, max_age=MAX_AGE)
    response.vary.add("Accept-Encoding")
    return response


#: the bundles are large (YASGUI's is 1 MB) and compress to a quarter or less
COMPRESSED = (".js", ".css")
MAX_AGE = 3600


def _gzipped_response(path: Path) -> Response:
    """The file gzip-compressed (once per version of the file), with its own validators."""
    stat = path.stat()
    body = _gzip(str(path), stat.st_mtime_ns, stat.st_size)
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media.startswith("text/") or media.endswith("javascript"):
        media += "; charset=utf-8"
    response = Response(body, content_type=media)
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.set_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}-gz")
    response.last_modified = int(stat.st_mtime)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response.make_conditional(request)


@functools.lru_cache(maxsize=16)
def _gzip(path: str, mtime_ns: int, size: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)
