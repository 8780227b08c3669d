"""A pool of killable query worker processes: the way the endpoint enforces its timeout.

pyoxigraph evaluates a query inside Rust and cannot be interrupted from Python, so each query runs
in a worker process. The caller waits on the worker's pipe for at most the timeout; when it
expires the worker is killed (SIGKILL) and replaced, the client gets a timeout error, and every
other worker keeps serving.
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
import time

from . import execute

_CTX = multiprocessing.get_context("spawn")
START_TIMEOUT = 60.0


class Timeout(Exception):
    pass


class WorkerDied(Exception):
    pass


class Worker:
    def __init__(self, path: str, writable: bool):
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=execute.serve, args=(child, path, writable),
                                    daemon=True, name="tdkg-query-worker")
        self.process.start()
        child.close()
        if not self.conn.poll(START_TIMEOUT):
            self.kill()
            raise WorkerDied(f"query worker did not start within {START_TIMEOUT:.0f} s")
        self._expect_ready()

    def _expect_ready(self) -> None:
        try:
            message = self.conn.recv()
        except EOFError:
            self.kill()
            raise WorkerDied("query worker failed to open the store") from None
        assert message == ("ready",), message

    def call(self, job: dict, timeout: float) -> tuple:
        self.conn.send(job)
        if not self.conn.poll(timeout):
            self.kill()
            raise Timeout()
        try:
            return self.conn.recv()
        except EOFError:
            self.kill()
            raise WorkerDied("query worker exited while answering") from None

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class Pool:
    """Up to ``size`` workers over one store, started on demand and replaced when killed."""

    def __init__(self, path: str, size: int, writable: bool = False):
        self.path, self.size, self.writable = path, size, writable
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()
        self.closed = False

    def _acquire(self, deadline: float) -> Worker:
        with self._lock:
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                return self._start()
        try:
            return self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise Timeout() from None

    def _start(self) -> Worker:
        try:
            return Worker(self.path, self.writable)
        except BaseException:
            with self._lock:
                self._started -= 1
            raise

    def _release(self, worker: Worker, healthy: bool) -> None:
        if healthy and not self.closed:
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            self._started -= 1

    def call(self, job: dict, timeout: float) -> tuple:
        deadline = time.monotonic() + timeout
        worker = self._acquire(deadline)
        try:
            answer = worker.call(job, max(0.001, deadline - time.monotonic()))
        except (Timeout, WorkerDied):
            self._release(worker, healthy=False)
            raise
        self._release(worker, healthy=True)
        return answer

    def warm(self) -> None:
        """Start one worker now so the first request does not pay for it."""
        worker = self._acquire(time.monotonic() + START_TIMEOUT)
        self._release(worker, healthy=True)

    def close(self) -> None:
        self.closed = True
        while not self._idle.empty():
            self._idle.get_nowait().kill()
