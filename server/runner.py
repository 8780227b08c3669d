"""Serving the app with gunicorn (a production WSGI server), configured from :class:`Settings`.

The worker class is gunicorn's threaded worker with one change: each request's socket gets a
timeout as soon as the worker starts reading it, so a client that sends its headers a byte at a
time cannot hold a thread, and :mod:`.bounds` learns when the request began.

glibc's malloc gives each new thread an arena of its own, up to eight per core, and each arena
keeps the freed answers of its thread: the master limits them to ``MALLOC_ARENAS`` before it
forks the HTTP workers (at 100k, an HTTP worker then held 86 MiB after a load instead of 90, at
the same throughput).
"""
from __future__ import annotations

import ctypes
import errno
import logging
import sys
import time

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from tdkg.settings import Settings

from .bounds import STARTED

ACCESS_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: seconds a request may take to arrive; set from the settings before gunicorn forks workers
REQUEST_TIMEOUT = 30.0
#: glibc malloc arenas of an HTTP worker's threads (glibc's own limit: 8 per core)
MALLOC_ARENAS = 2
M_ARENA_MAX = -8                    # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Limit glibc's malloc arenas for this process and the ones it forks; False where the C
    library has no ``mallopt`` (it is not glibc) or refuses."""
    try:
        return ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas) == 1
    except (OSError, AttributeError):
        return False


class BoundedConn(TConn):
    def init(self) -> None:
        super().init()
        self.sock.settimeout(REQUEST_TIMEOUT)
        STARTED[self.sock] = time.monotonic()


class BoundedThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker, with :class:`BoundedConn` connections."""

    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            conn = BoundedConn(self.cfg, client_sock, client_addr, listener.getsockname())
            self.enqueue_req(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise


class GunicornApp(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        global REQUEST_TIMEOUT
        s = self.settings
        REQUEST_TIMEOUT = s.timeout
        options = {
            "bind": f"{s.host}:{s.port}", "workers": s.http_workers, "threads": s.threads,
            "worker_class": f"{__name__}.BoundedThreadWorker", "timeout": int(s.timeout) + 30,
            "graceful_timeout": 5, "keepalive": 5, "accesslog": None, "errorlog": "-",
            "loglevel": "warning", "limit_request_line": 8190, "proc_name": "tdkg",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=ACCESS_FORMAT)
        return create_app(self.settings)


def serve(settings: Settings) -> None:
    limit_malloc_arenas()
    GunicornApp(settings).run()
