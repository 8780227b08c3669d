"""The app factory: a Flask app that only reads the store the pipeline published.

``create_app(settings)`` is the app factory; the production WSGI server (gunicorn) is started by
:mod:`.runner`. Blueprints: :mod:`.sparql` (the SPARQL 1.1 Protocol endpoint),
:mod:`.graph_store` (the Graph Store Protocol) and :mod:`.ops`.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask
from flask_cors import CORS

from tdkg.settings import Settings

from . import (
    builds,
    downloads,
    errors,
    explain,
    explore,
    graph_store,
    ops,
    pages,
    search,
    sparql,
    vendor,
    void,
    workbench,
)
from .bounds import BoundedRequests
from .cache import AnswerCache
from .fastpath import ReplayCachedGets
from .live import LiveStore


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    app.config["TDKG"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    app.config["TDKG_LIVE"] = LiveStore(settings)
    # each cache may hold the budget; they hold the same answer bodies (one bytes object for
    # both), so together they take about one budget
    budget = settings.cache_mib * 1024 * 1024
    app.config["TDKG_CACHE"] = AnswerCache(settings.cache_entries, budget)
    CORS(app, resources={r"/sparql/?": {"origins": "*", "methods": ["GET", "POST", "OPTIONS"]},
                         r"/rdf-graph-store(/.*)?": {"origins": "*",
                                                     "methods": ["GET", "HEAD", "OPTIONS"]},
                         r"/healthz": {"origins": "*"}, r"/why": {"origins": "*"},
                         r"/search": {"origins": "*"}},
         allow_headers=["Content-Type", "Accept", "Cache-Control"], send_wildcard=True,
         expose_headers=["Server-Timing", "TDKG-Truncated", "TDKG-Result-Limit", "TDKG-Build"])
    app.register_blueprint(sparql.bp)
    app.register_blueprint(graph_store.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(explain.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(vendor.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(void.bp)
    app.register_blueprint(workbench.bp)
    app.register_blueprint(explore.bp)
    app.register_blueprint(builds.bp)
    ops.install(app)
    errors.register(app)
    logging.getLogger("tdkg").setLevel(logging.INFO)
    threading.Thread(target=_warm, args=(app.config["TDKG_LIVE"],), daemon=True).start()
    if not settings.updates_enabled:     # over a writable store every query goes through Flask
        app.wsgi_app = ReplayCachedGets(app.wsgi_app, settings.store_root,
                                        AnswerCache(settings.cache_entries, budget), settings,
                                        app.config["TDKG_LIVE"], app.config["TDKG_CACHE"])
    app.wsgi_app = BoundedRequests(app.wsgi_app, settings.timeout)
    return app


def _warm(live: LiveStore) -> None:
    """Open the store in one query worker now, so the first request does not wait for it."""
    try:
        live.snapshot().pool.warm()
    except Exception as err:  # no store yet, or it cannot open: the first request will say why
        logging.getLogger("tdkg.server").warning("warm-up skipped: %s", err)
