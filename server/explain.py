"""``/why``: the explanation of a triple — the rule and premises behind an inferred triple,
recursively down to asserted facts with their source and status: JSON for programs, an HTML
page for browsers (``Accept: text/html`` or ``format=html``)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request

from tdkg import namespaces as ns

from .errors import BadRequest, NotFound
from .formats import prefers_html
from .pages import View
from .sparql import call_worker

bp = Blueprint("explain", __name__)


@bp.route("/why")
def why() -> Response:
    triple = [request.args.get(k, "").strip() for k in ("s", "p", "o")]
    if not all(triple):
        raise BadRequest("give the triple as s=, p= and o= (IRIs, prefixed names such as "
                         "tdkg:partnerOf, or N-Triples literals)")
    live = current_app.config["TDKG_LIVE"].snapshot()
    job = {"op": "why", "triple": triple, "default_graph": list(ns.FACT_GRAPHS)}
    result = call_worker(live.pool, job)
    if result["count"] == 0:
        raise NotFound("the graph holds no such triple: " + " ".join(triple))
    if prefers_html(request.accept_mimetypes, request.args.get("format")):
        answer = json.loads(result["body"])
        page = render_template("why.html", tree=answer["explanation"], labels=answer["labels"],
                               view=ExplanationView(answer["labels"]))
        response = Response(page, content_type="text/html; charset=utf-8")
    else:
        response = Response(result["body"], content_type="application/json")
    response.vary.add("Accept")
    return response


class ExplanationView(View):
    """Shows the N-Triples terms of an explanation with their labels and local links."""

    def __init__(self, labels: dict[str, str]):
        self.labels = labels

    def nt(self, text: str) -> dict:
        if text.startswith("<") and text.endswith(">"):
            iri = text[1:-1]
            return {"kind": "iri", "value": iri, "label": self.labels.get(iri)}
        if text.startswith('"'):
            value, _, rest = text[1:].rpartition('"')
            return {"kind": "literal", "value": value, "lang": rest[1:] if rest.startswith("@")
                    else None, "datatype": rest[3:-1] if rest.startswith("^^") else None}
        return {"kind": "bnode", "value": text}

    def iri(self, iri: str) -> dict:
        return {"kind": "iri", "value": iri, "label": self.labels.get(iri)}
