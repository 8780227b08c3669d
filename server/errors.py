"""One mapping from error type to HTTP status, and one error body shape.

Every error the endpoint reports is an :class:`EndpointError` subclass; the handler registered by
the app factory turns it into ``{"error": {"status", "type", "message"}}`` (JSON) with the class's
status. Anything else is a 500, logged with its traceback.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

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


class QueryTimeout(EndpointError):
    status, kind = 503, "query-timeout"


class NotReady(EndpointError):
    status, kind = 503, "no-store"


def error_body(status: int, kind: str, message: str, **details: object) -> dict:
    return {"error": {"status": status, "type": kind, "message": message, **details}}


def register(app: Flask) -> None:
    @app.errorhandler(EndpointError)
    def _endpoint_error(err: EndpointError):
        if err.status >= 500 and not isinstance(err, (QueryTimeout, NotReady)):
            log.error("%s: %s", err.kind, err.message)
        return jsonify(error_body(err.status, err.kind, err.message, **err.details)), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        kind = (err.name or "error").lower().replace(" ", "-")
        return jsonify(error_body(err.code or 500, kind, err.description or kind)), err.code

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return jsonify(error_body(500, "internal-error", "internal server error")), 500
