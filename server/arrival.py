"""A request arrives whole before a thread takes it.

gunicorn's threaded worker hands a connection to a thread as soon as it is readable, and the
thread then blocks reading the rest of the request. So eight clients that each sent half a request
(headers a byte at a time, or a body that never came) held all eight threads until the request
timeout, and every other request waited that long: 9.5 s with ``--timeout 10``, measured.

Here the worker's event loop reads what arrives, without a thread, until h11 (a grammar-exact
HTTP/1.1 parser) says the request is complete: its head and its whole body, or its head alone when
the client waits for ``100 Continue``. Only then does a thread take the connection, and gunicorn's
own parser reads the bytes already received (:mod:`.runner`); a request pipelined behind another
arrives the same way. A request that is not complete within the timeout is cut in the event loop:
a ``408`` when its head came and its body did not, the connection closed when not even its head
came.

h11 only decides when to hand over. What it cannot read (a malformed request, a head over its
size limit, HTTP/2) goes to a thread at once, as before: gunicorn answers it (400, 414, 431), and
the thread's socket timeout still bounds it. So does a request whose declared body is over the
limit of one request (``max_body`` and a head), which the endpoint refuses (413) without
reading it. The bytes the loop holds are bounded per request by that limit, and in all by
:data:`BUDGET`: past it, a request goes to a thread as soon as it has sent anything, as before
(holding a thread then takes a client more than the budget's worth of unfinished bodies).
"""
from __future__ import annotations

import json

import h11

#: bytes of unfinished requests the event loop holds in all, before it hands requests to
#: threads unfinished (see above)
BUDGET = 64 * 1024 * 1024
#: one read from a socket in the event loop
READ_SIZE = 64 * 1024
#: largest request head h11 reads (gunicorn's own limits, 8190 bytes a line, come after it)
HEAD_LIMIT = 16 * 1024
TIMEOUT_MESSAGE = "the request body did not arrive within the time limit"


def timeout_answer() -> bytes:
    """The 408 sent when a request's head came and its body did not (the endpoint's error
    shape: ``{"error": {"status", "type", "message"}}``)."""
    body = json.dumps({"error": {"status": 408, "type": "request-timeout",
                                 "message": TIMEOUT_MESSAGE}}).encode()
    head = ("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def _whole_without_body(data: bytearray) -> bool:
    """Whether ``data`` is certainly a whole GET or HEAD request without a body: its head has
    ended and names no body. A shortcut past h11 for the commonest request; when it says no, h11
    decides, and a wrong yes would only hand the request to a thread early, as before."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or not (data.startswith(b"GET ") or data.startswith(b"HEAD ")):
        return False
    head = bytes(data[:end]).lower()
    return b"content-length" not in head and b"transfer-encoding" not in head \
        and b"expect" not in head


def _declared_length(headers) -> int:
    """The Content-Length h11 read (0 when there is none)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value)
    return 0


class Arrival:
    """What has arrived of one request, and when it must be complete."""

    __slots__ = ("data", "parser", "deadline", "began", "head", "method", "target")

    def __init__(self, deadline: float, began: float):
        self.data = bytearray()
        self.parser = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT)
        self.deadline, self.began = deadline, began
        self.head = False           # h11 has read the request's head
        self.method = self.target = ""

    def feed(self, chunk: bytes, limit: int) -> bool:
        """Add ``chunk``; whether a thread should take the request now (``limit``: the bytes
        of one request, head and body, that may wait here)."""
        self.data += chunk
        if len(self.data) > limit or (not self.head and _whole_without_body(self.data)):
            return True
        try:
            self.parser.receive_data(chunk)
            while True:
                event = self.parser.next_event()
                if event is h11.NEED_DATA:
                    return False
                if isinstance(event, h11.Request):
                    self.head = True
                    self.method = event.method.decode("ascii", "replace")
                    self.target = event.target.decode("ascii", "replace")[:200]
                    if self.parser.they_are_waiting_for_100_continue:
                        return True     # gunicorn sends 100 Continue when the app reads
                    if _declared_length(event.headers) > limit:
                        return True     # refused (413) without being read
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    return True
        except h11.RemoteProtocolError:
            return True                 # gunicorn gives its own answer to what h11 refuses
