"""Serving the app with gunicorn (a production WSGI server), configured from :class:`Settings`.

The worker class is gunicorn's threaded worker with three changes, so that no client holds a
thread longer than its request needs:

* a request arrives whole in the worker's event loop before a thread takes it (:mod:`.arrival`):
  clients that send half a request hold no thread;
* an answer leaves from the event loop (:mod:`.outbox`): clients that stop reading hold no
  thread either;
* the thread's socket gets the request timeout, so that what either hands to a thread unfinished
  (a body over its limit, a request h11 refuses, an answer over the outboxes' budget) is still
  bounded; and :mod:`.bounds` learns when the request began.

glibc's malloc gives each new thread an arena of its own, up to eight per core, and each arena
keeps the freed answers of its thread: the master limits them to ``MALLOC_ARENAS`` before it
forks the HTTP workers (at 100k, an HTTP worker then held 86 MiB after a load instead of 90, at
the same throughput).
"""
from __future__ import annotations

import ctypes
import errno
import logging
import selectors
import sys
import time
from collections import OrderedDict
from functools import partial

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from tdkg.settings import Settings

from .arrival import BUDGET, HEAD_LIMIT, READ_SIZE, Arrival, timeout_answer
from .bounds import STARTED
from .outbox import Budget, Outbox

log = logging.getLogger("tdkg.access")
ACCESS_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: seconds a request may take to arrive; set from the settings before gunicorn forks workers
REQUEST_TIMEOUT = 30.0
#: bytes of one request (head and body) that may arrive before a thread takes it; likewise
ARRIVAL_LIMIT = 1024 * 1024 + HEAD_LIMIT
#: what the outboxes of this (forked) worker hold (see .outbox)
OUTBOXES = Budget()
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
    def __init__(self, *args):
        super().__init__(*args)
        self.arrival: Arrival | None = None      # the request arriving, in the event loop
        self.early = b""                        # what arrived of it, for gunicorn's parser
        self.began: float | None = None

    def init(self) -> None:
        super().init()
        if not isinstance(self.sock, Outbox):
            self.sock = Outbox(self.sock, OUTBOXES)     # answers leave from the event loop
        self.sock.settimeout(REQUEST_TIMEOUT)
        STARTED[self.sock] = self.began if self.began is not None else time.monotonic()
        self.began = None
        if self.early:
            self.parser.unreader.unread(self.early)
            self.early = b""


class BoundedThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker: requests arrive whole before a thread takes them
    (:mod:`.arrival`), on :class:`BoundedConn` connections."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # new connections that have sent nothing yet (closed after the keep-alive time), and
        # connections whose request is arriving (cut at the request timeout); each in the
        # order of its deadlines
        self.idle: OrderedDict[BoundedConn, Arrival] = OrderedDict()
        self.arriving: OrderedDict[BoundedConn, Arrival] = OrderedDict()
        self.held = 0       # bytes of unfinished requests in the loop (arrival.BUDGET)
        # connections whose answer is still being sent (.outbox), with their finished request,
        # in the order of their deadlines
        self.sending: OrderedDict[BoundedConn, tuple[float, object]] = OrderedDict()

    def accept(self, listener) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.await_request(BoundedConn(self.cfg, client_sock, client_addr,
                                       listener.getsockname()))

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection's next request begins to arrive."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.await_request(conn)

    def finish_request(self, conn, fs) -> None:
        """As gunicorn's, except that the next request of a kept-alive connection that the client
        sent along with the last one (pipelined) arrives in the event loop too: gunicorn would
        hand it to a thread at once, and half of it would hold that thread."""
        if isinstance(conn.sock, Outbox) and conn.sock.waiting and conn not in self.sending:
            if conn.sock.fileno() < 0:      # the thread closed it (an error mid-answer)
                conn.sock.drop()
            else:
                self.sending[conn] = (time.monotonic() + REQUEST_TIMEOUT, fs)
                self.poller.register(conn.sock, selectors.EVENT_WRITE,
                                     partial(self.on_writable, conn))
                return None
        try:
            keep = not fs.cancelled() and fs.result() is True
        except Exception:       # noqa: BLE001 - gunicorn's own finish_request deals with it
            keep = False
        if not (keep and self.alive and conn.parser is not None
                and conn.parser.unreader.buf.getvalue()):
            return super().finish_request(conn, fs)
        sent = conn.parser.unreader.take_buffered()
        now = time.monotonic()
        conn.arrival = arrival = Arrival(now + REQUEST_TIMEOUT, now)
        conn.sock.setblocking(False)
        self.held += len(sent)
        if arrival.feed(sent, ARRIVAL_LIMIT) or self.held > BUDGET:
            self.hand_over(conn)
        else:
            self.arriving[conn] = arrival
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_arrival, conn))

    def on_writable(self, conn: BoundedConn, sock) -> None:
        """Send more of an answer that waits in its outbox; once it is all sent, finish the
        request as gunicorn would."""
        try:
            done = conn.sock.send_waiting()
        except OSError:
            self.stop_sending(conn)
            return
        if done:
            self.poller.unregister(sock)
            _, fs = self.sending.pop(conn)
            self.finish_request(conn, fs)

    def stop_sending(self, conn: BoundedConn) -> None:
        """Give up an answer the client has not taken: close the connection."""
        self.poller.unregister(conn.sock)
        del self.sending[conn]
        conn.sock.drop()
        self.nr_conns -= 1
        conn.close()

    def await_request(self, conn: BoundedConn) -> None:
        """Read ``conn``'s request as it arrives; a thread takes it once it is whole."""
        now = time.monotonic()
        conn.arrival = arrival = Arrival(now + REQUEST_TIMEOUT, now)
        # a kept-alive connection is readable already, and a new one often is: most requests
        # are whole at the first read and never wait in the poller
        if self.read_arrival(conn) is None:
            if arrival.data:
                self.arriving[conn] = arrival
            else:
                arrival.deadline = now + min(self.cfg.keepalive or REQUEST_TIMEOUT,
                                             REQUEST_TIMEOUT)
                self.idle[conn] = arrival
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_arrival, conn))

    def on_arrival(self, conn: BoundedConn, sock) -> None:
        arrival = conn.arrival
        was_idle = not arrival.data
        if self.read_arrival(conn) is not None:
            self.poller.unregister(sock)
            del (self.idle if was_idle else self.arriving)[conn]
        elif was_idle and arrival.data:         # its first bytes: the request's clock starts
            del self.idle[conn]
            arrival.began = time.monotonic()
            arrival.deadline = arrival.began + REQUEST_TIMEOUT
            self.arriving[conn] = arrival

    def read_arrival(self, conn: BoundedConn) -> bool | None:
        """Read what has arrived: True when a thread took the request, False when the
        connection was closed, None while the rest is awaited."""
        try:
            chunk = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            chunk = b""
        if not chunk:
            self.close_arriving(conn)
            return False
        self.held += len(chunk)
        if not conn.arrival.feed(chunk, ARRIVAL_LIMIT) and self.held <= BUDGET:
            return None
        self.hand_over(conn)
        return True

    def hand_over(self, conn: BoundedConn) -> None:
        """A thread takes ``conn``'s request, which has arrived (or may not wait here longer);
        gunicorn's parser reads it."""
        self.held -= len(conn.arrival.data)
        conn.early, conn.began = bytes(conn.arrival.data), conn.arrival.began
        conn.arrival = None
        conn.data_ready = True
        self.enqueue_req(conn)

    def close_arriving(self, conn: BoundedConn, answer: bytes = b"") -> None:
        """Stop waiting for ``conn``'s request: send ``answer`` (if the socket takes it at
        once) and close the connection."""
        self.held -= len(conn.arrival.data)
        conn.arrival = None
        self.nr_conns -= 1
        if answer:
            try:
                conn.sock.send(answer)
            except OSError:
                pass
        if isinstance(conn.sock, Outbox):
            conn.sock.drop()                # what the socket did not take at once
        conn.close()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # wake up for the first deadline, not up to a second late
        for waiting in (self.idle, self.arriving):
            if waiting:
                first = next(iter(waiting.values())).deadline
                timeout = max(0.0, min(timeout, first - time.monotonic()))
        if self.sending:
            first = next(iter(self.sending.values()))[0]
            timeout = max(0.0, min(timeout, first - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for waiting in (self.idle, self.arriving):
            while waiting:
                conn, arrival = next(iter(waiting.items()))
                # a stopping worker does not wait for connections that have sent nothing
                if arrival.deadline > now and (self.alive or waiting is not self.idle):
                    break
                self.poller.unregister(conn.sock)
                del waiting[conn]
                if arrival.head:
                    log.info("%s %s %s 408 %.1fms the request body did not arrive",
                             conn.client[0] if conn.client else "-", arrival.method,
                             arrival.target, (now - arrival.began) * 1000)
                self.close_arriving(conn, timeout_answer() if arrival.head else b"")
        while self.sending:
            conn, (deadline, _) = next(iter(self.sending.items()))
            if deadline > now:
                break
            log.info("%s answer not taken within %.0f s: connection closed",
                     conn.client[0] if conn.client else "-", REQUEST_TIMEOUT)
            self.stop_sending(conn)


class GunicornApp(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        global REQUEST_TIMEOUT, ARRIVAL_LIMIT
        s = self.settings
        REQUEST_TIMEOUT = s.timeout
        ARRIVAL_LIMIT = s.max_body + HEAD_LIMIT
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
