"""The HTTP side of TDKG: a Flask app that only reads the store the pipeline published.

The app factory is :func:`create_app` (in :mod:`.app`); the production WSGI server (gunicorn)
is started by :mod:`.runner`. This package file imports nothing else, so that a query worker
(:mod:`.execute`, spawned as a fresh interpreter) starts without loading Flask and the app.
"""
from __future__ import annotations


def create_app(settings):
    from .app import create_app as factory
    return factory(settings)
