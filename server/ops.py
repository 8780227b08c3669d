"""Operations: ``/healthz``, one log line per request with its duration, ``Server-Timing``."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

bp = Blueprint("ops", __name__)
log = logging.getLogger("tdkg.access")


@bp.route("/healthz")
def healthz() -> Response:
    live = current_app.config["TDKG_LIVE"].snapshot()
    settings = current_app.config["TDKG"]
    return jsonify({"status": "ok", "build": live.build_id,
                    "triples": live.info.get("stats", {}).get("triples"),
                    "query_workers": {"sandbox": settings.sandbox, **live.pool.confinement,
                                      "per_process": live.pool.size,
                                      "long_query_slots": live.pool.long_slots}})


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
