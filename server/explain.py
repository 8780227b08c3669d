"""``/why``: the explanation of a triple — the rule and premises behind an inferred triple,
recursively down to asserted facts with their source and status (JSON)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from . import dataset
from .errors import BadRequest, NotFound
from .sparql import call_worker

bp = Blueprint("explain", __name__)


@bp.route("/why")
def why() -> Response:
    triple = [request.args.get(k, "").strip() for k in ("s", "p", "o")]
    if not all(triple):
        raise BadRequest("give the triple as s=, p= and o= (IRIs, prefixed names such as "
                         "tdkg:partnerOf, or N-Triples literals)")
    live = current_app.config["TDKG_LIVE"].snapshot()
    job = {"op": "why", "triple": triple, "default_graph": dataset.default_graphs(True)[1:]}
    result = call_worker(live.pool, job)
    if result["count"] == 0:
        raise NotFound("the graph holds no such triple: " + " ".join(triple))
    return Response(result["body"], content_type="application/json")
