"""The outbox a thread writes its answer to (server/outbox.py): what the kernel does not take at
once waits, counted against the worker's budget, and every byte of it is either sent in order
or given back."""
from __future__ import annotations

import socket
import threading

import pytest

from tdkg.server.outbox import Budget, Outbox

ANSWER = bytes(range(256)) * 4096           # 1 MiB, more than a small socket buffer holds


@pytest.fixture()
def pair():
    """A connected pair of sockets with small buffers: ours (the server's) and theirs."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield ours, theirs
    ours.close()
    theirs.close()


def read_all(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(65536)
        assert chunk
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def test_what_the_kernel_does_not_take_waits_and_is_sent_in_order(pair):
    ours, theirs = pair
    budget = Budget(8 * 2**20)
    box = Outbox(ours, budget)
    box.sendall(ANSWER[:1000])
    box.sendall(ANSWER[1000:])
    assert box.waiting and budget.used == box.size > 0      # the thread did not wait
    received = []
    reader = threading.Thread(target=lambda: received.append(read_all(theirs, len(ANSWER))))
    reader.start()
    while not box.send_waiting():                           # the event loop's side
        pass
    reader.join(10)
    assert received == [ANSWER] and budget.used == 0 and box.size == 0


def test_a_dropped_answer_gives_its_bytes_back(pair):
    ours, theirs = pair
    budget = Budget(8 * 2**20)
    box = Outbox(ours, budget)
    box.sendall(ANSWER)
    assert budget.used > 0
    box.drop()
    assert budget.used == 0 and not box.waiting


def test_an_answer_over_the_budget_is_written_by_its_thread(pair):
    ours, theirs = pair
    budget = Budget(64 * 1024)
    box = Outbox(ours, budget)
    ours.settimeout(10)
    received = []
    reader = threading.Thread(target=lambda: received.append(read_all(theirs, len(ANSWER))))
    reader.start()
    box.sendall(ANSWER)                     # waits for the reader, as a thread did before
    reader.join(10)
    assert received == [ANSWER] and not box.waiting and budget.used == 0
