"""An answer leaves from the event loop: a client that stops reading holds no thread.

gunicorn's threads write each answer with ``sendall`` and wait until the client has taken it
all, so two clients that asked for a large answer and read nothing held both threads of a
two-thread worker until the write timed out; a query sent meanwhile waited past its own deadline
(503 after 6 s, measured on the 100k build). Here a thread writes to an :class:`Outbox`: what
the kernel takes at once is sent, the rest waits in the outbox and the thread goes on to its next
request. The worker's event loop sends what waits as the client reads (:mod:`.runner`), and only
then finishes the request as gunicorn would (keep the connection for the next request, or close
it). A client that has not taken its answer within the request timeout is disconnected.

The outboxes of one worker hold at most :data:`BUDGET` bytes together. An answer that does not
fit is written by its thread, which waits for the client as before (bounded by the socket's
timeout). A finished answer (one ``bytes`` object, as nearly all of the endpoint's are) waits as
a view of that object, not a copy.
"""
from __future__ import annotations

import socket
import threading
from collections import deque

#: bytes waiting in all the outboxes of one worker
BUDGET = 256 * 1024 * 1024


class Budget:
    """What the outboxes of one worker hold, shared by its threads and its event loop."""

    def __init__(self, limit: int = BUDGET):
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.used -= size


class Outbox:
    """A connection's socket as its thread sees it: :meth:`sendall` does not wait for the
    client; everything else is the socket's own."""

    def __init__(self, sock: socket.socket, budget: Budget):
        self._sock, self._budget = sock, budget
        self.waiting: deque[memoryview] = deque()
        self.size = 0

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def sendall(self, data) -> None:
        view = memoryview(data).cast("B")
        if not self.waiting:
            try:
                view = view[self._sock.send(view, socket.MSG_DONTWAIT):]
            except (BlockingIOError, InterruptedError):
                pass
        if not len(view):
            return
        if not self._budget.take(len(view)):
            self.flush_here()               # as before: this thread waits for the client
            self._sock.sendall(view)
            return
        self.waiting.append(view if isinstance(data, bytes) else memoryview(bytes(view)))
        self.size += len(view)

    def send(self, data, flags: int = 0) -> int:
        self.sendall(data)
        return len(data)

    def flush_here(self) -> None:
        """Send what waits from this thread, waiting for the client (the socket's timeout)."""
        while self.waiting:
            view = self.waiting.popleft()
            self.size -= len(view)
            self._budget.give_back(len(view))
            self._sock.sendall(view)

    def send_waiting(self) -> bool:
        """Send what the kernel takes now, without waiting (the event loop's side); whether
        nothing waits any more. Raises OSError when the client is gone."""
        while self.waiting:
            view = self.waiting[0]
            try:
                sent = self._sock.send(view, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return False
            self.size -= sent
            self._budget.give_back(sent)
            if sent < len(view):
                self.waiting[0] = view[sent:]
                return False
            self.waiting.popleft()
        return True

    def drop(self) -> None:
        """Forget what waits (the connection is being closed)."""
        self._budget.give_back(self.size)
        self.waiting.clear()
        self.size = 0
