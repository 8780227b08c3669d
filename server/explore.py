"""The visual views: ``/network`` (who is tied to whom) and ``/timeline`` (when things happened).

Both pages are drawn in the browser from SPARQL queries that they send to ``/sparql`` themselves,
so what they show is what the graph holds. The queries are the analysts' own files in
``queries/`` (``network-nodes.rq``, ``network-edges.rq``, ``timeline.rq``): this module embeds
their text in the page, where the script reads it and where the reader can see it. The drawing
libraries (vis-network, vis-timeline) come from ``/vendor`` on this server; nothing is fetched
from anywhere else.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template

from tdkg import namespaces as ns

from .checkout import project_folder

bp = Blueprint("explore", __name__)

#: the epistemic statuses, strongest first (tdkg:strength 6 … 1), with the CSS/JS key of each
STATUSES = [
    {"iri": ns.TDKG + "reported", "key": "reported", "label": "reported"},
    {"iri": ns.TDKG + "claimed", "key": "claimed", "label": "claimed"},
    {"iri": ns.TDKG + "implied", "key": "implied", "label": "implied"},
    {"iri": ns.TDKG + "curatorKnowledge", "key": "curatorKnowledge", "label": "curator knowledge"},
    {"iri": ns.TDKG + "speculative", "key": "speculative", "label": "speculative"},
    {"iri": ns.TDKG + "officiallyDenied", "key": "officiallyDenied", "label": "officially denied"},
]
NETWORK_QUERIES = ("network-nodes", "network-edges")
TIMELINE_QUERIES = ("timeline",)


def _queries(names: tuple[str, ...]) -> dict[str, str]:
    folder = project_folder("queries")
    return {name: (folder / f"{name}.rq").read_text(encoding="utf-8") for name in names}


def _page(template: str, names: tuple[str, ...]) -> Response:
    html = render_template(template, queries=_queries(names), statuses=STATUSES)
    return Response(html, content_type="text/html; charset=utf-8")


@bp.route("/network")
def network() -> Response:
    return _page("network.html", NETWORK_QUERIES)


@bp.route("/timeline")
def timeline() -> Response:
    return _page("timeline.html", TIMELINE_QUERIES)
