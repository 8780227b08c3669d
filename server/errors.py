"""One mapping from error type to HTTP status, and one error body shape.

Every error the endpoint reports is an :class:`EndpointError` subclass; the handler registered by
the app factory turns it into ``{"error": {"status", "type", "message"}}`` (JSON) with the class's
status. Anything else is a 500, logged with its traceback.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .formats import prefers_html

log = logging.getLogger("tdkg.server")


class EndpointError(Exception):
    status = 500
    kind = "internal-error"

    def __init__(self, message: str, **details: object):
        super().__init__(message)
        self.message, self.details = message, details


class MalformedQuery(EndpointError):
    status, kind = 400, "malformed-query"


class BadRequest(EndpointError):
    status, kind = 400, "bad-request"


class UpdateRefused(EndpointError):
    status, kind = 403, "update-refused"


class ServiceRefused(EndpointError):
    status, kind = 403, "service-refused"


class NotFound(EndpointError):
    status, kind = 404, "not-found"


class NotAcceptable(EndpointError):
    status, kind = 406, "not-acceptable"


class UnsupportedMediaType(EndpointError):
    status, kind = 415, "unsupported-media-type"


class QueryTooLarge(EndpointError):
    status, kind = 413, "query-too-large"


class QueryTooComplex(EndpointError):
    status, kind = 400, "query-too-complex"


class RequestTimeout(EndpointError):
    status, kind = 408, "request-timeout"


class QueryTimeout(EndpointError):
    status, kind = 503, "query-timeout"


class NotReady(EndpointError):
    status, kind = 503, "no-store"


class Busy(EndpointError):
    """Every slot for long-running queries is taken (see :mod:`.pool`)."""
    status, kind = 503, "busy"


class MemoryLimit(EndpointError):
    status, kind = 503, "memory-limit"


class StoreUnavailable(EndpointError):
    """The remote SPARQL store could not be reached, failed, or gave a partial answer."""
    status, kind = 503, "store-unavailable"


class StoreRefused(EndpointError):
    """The remote store refused an operation that TDKG's own parser accepted (valid SPARQL 1.1
    that the store's engine does not handle): the store failed, not the request."""
    status, kind = 502, "store-refused"


class WorkerUnavailable(EndpointError):
    """No query worker could be started, or it crashed: retried for the next request."""
    status, kind = 503, "worker-unavailable"


def error_body(status: int, kind: str, message: str, **details: object) -> dict:
    return {"error": {"status": status, "type": kind, "message": message, **details}}


def _wants_html() -> bool:
    """A browser asking for a page (not the SPARQL endpoint, whose clients expect JSON errors)."""
    return not request.path.startswith("/sparql") and prefers_html(request.accept_mimetypes)


def _respond(status: int, kind: str, message: str, **details: object):
    if _wants_html():
        title = HTTP_STATUS_CODES.get(status, "Error")
        hint = request.path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ")
        page = render_template("error.html", status=status, title=title, message=message,
                               hint=hint)
        return Response(page, status=status, content_type="text/html; charset=utf-8")
    return jsonify(error_body(status, kind, message, **details)), status


def register(app: Flask) -> None:
    """One handler per error family. Browsers (Accept: text/html) get an HTML page, everyone
    else the JSON body."""
    @app.errorhandler(EndpointError)
    def _endpoint_error(err: EndpointError):
        if err.status >= 500 and not isinstance(err, (QueryTimeout, NotReady, Busy, MemoryLimit)):
            log.error("%s: %s", err.kind, err.message)
        return _respond(err.status, err.kind, err.message, **err.details)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        kind = (err.name or "error").lower().replace(" ", "-")
        return _respond(err.code or 500, kind, err.description or kind)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return _respond(500, "internal-error", "internal server error")
