"""Operations: ``/healthz``, one log line per request with its duration, ``Server-Timing``."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from .errors import EndpointError

bp = Blueprint("ops", __name__)
log = logging.getLogger("tdkg.access")


@bp.route("/healthz")
def healthz() -> Response:
    """200 with the build served and its store; 503 (with the same fields, as far as known)
    when the store cannot be reached or has no published build, so a load balancer takes the
    front end out until it can answer."""
    live_store = current_app.config["TDKG_LIVE"]
    settings = current_app.config["TDKG"]
    store = live_store.store_status()
    try:
        live = live_store.snapshot()
    except EndpointError as err:
        response = jsonify({"status": "unavailable", "error": str(err), "store": store,
                            "build": live_store.last_build})
        response.status_code = 503
        return response
    if not store["reachable"]:
        response = jsonify({"status": "unavailable", "error": store["error"], "store": store,
                            "build": live.build_id})
        response.status_code = 503
        return response
    if live_store.pending is not None:
        store = {**store, "published": live_store.pending,
                 "note": live_store.fetch_status(live_store.pending)
                 + "; the build before it is served until it arrives"}
    return jsonify({"status": "ok", "build": live.build_id, "store": store,
                    "triples": live.info.get("stats", {}).get("triples"),
                    "query_workers": {"sandbox": settings.sandbox, **live.pool.confinement,
                                      "per_process": live.pool.size,
                                      "long_query_slots": live.pool.long_slots,
                                      "killed": live.pool.killed,
                                      "cancelled": live.pool.cancelled}})


def install(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.timing = {}

    @app.after_request
    def _finish(response: Response) -> Response:
        total = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        timing = g.get("timing", {})
        parts = [f"total;dur={total:.2f}"]
        if "exec" in timing:
            parts.append(f"exec;dur={timing['exec'] * 1000:.2f}")
        if "cache" in timing:
            parts.append(f"cache;desc={timing['cache']}")
        response.headers["Server-Timing"] = ", ".join(parts)
        log.info("%s %s %s %d %.1fms cache=%s rows=%s", request.remote_addr, request.method,
                 request.full_path.rstrip("?")[:200], response.status_code, total,
                 timing.get("cache", "-"), timing.get("rows", "-"))
        return response
