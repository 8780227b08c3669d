"""Every request bounded in time, end to end: its deadline, socket timeouts, a departed client.

The clock of a request starts when the server begins reading it (:mod:`.runner` records that per
connection); from then on reading the headers and the body, checking the query, waiting for a
query worker, running it and serialising the answer all count against one deadline, the
``timeout`` setting. The socket's own timeout makes a client that sends its body too slowly fail
the read (408); writing the answer gets a fresh ``timeout`` so that a client that stops reading
cannot hold a thread. While a query runs, :func:`client_gone` tells the pool whether the client
has closed its connection, so that work nobody waits for is stopped.
"""
from __future__ import annotations

import select
import socket
import time
import weakref
from collections.abc import Callable, Iterable

DEADLINE = "tdkg.deadline"
#: when the server began reading the current request on each connection's socket
STARTED: "weakref.WeakKeyDictionary[socket.socket, float]" = weakref.WeakKeyDictionary()


class BoundedRequests:
    """WSGI middleware: sets the request's deadline and its socket's timeouts."""

    def __init__(self, app: Callable, timeout: float):
        self.app, self.timeout = app, timeout

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        started = STARTED.get(sock, time.monotonic()) if sock is not None else time.monotonic()
        environ[DEADLINE] = started + self.timeout
        _set_timeout(sock, environ[DEADLINE] - time.monotonic())
        try:
            return self.app(environ, start_response)
        finally:
            _set_timeout(sock, self.timeout)        # for writing the answer


def _set_timeout(sock: socket.socket | None, seconds: float) -> None:
    if sock is not None:
        try:
            sock.settimeout(max(0.05, seconds))
        except OSError:
            pass


def deadline() -> float:
    """The current request's deadline (``time.monotonic()`` scale)."""
    # imported here: gunicorn's master imports this module (STARTED), and needs no Flask
    from flask import request
    return request.environ.get(DEADLINE) or time.monotonic() + 30.0


def client_gone() -> bool:
    """Whether the current request's client has closed its end of the connection."""
    from flask import request
    return client_gone_from(request.environ)


def client_gone_from(environ: dict) -> bool:
    """:func:`client_gone` for the request of a WSGI ``environ`` (no Flask request needed)."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True
