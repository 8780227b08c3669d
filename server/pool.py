"""A pool of killable query worker processes: how the endpoint bounds each operation's time,
memory and reach, and heals when a worker fails.

pyoxigraph evaluates a query inside Rust and cannot be interrupted from Python, so each operation
runs in a worker process (:mod:`.execute`), confined as :class:`WorkerSpec` says (no network,
a memory ceiling). The caller waits on the worker's pipe in short slices until the request's
deadline, checking between slices whether its client has gone; on a deadline or a departed
client the worker is killed (SIGKILL) and replaced, and every other worker keeps serving.
Over a remote store the worker only waits on the store, so it is asked first to cancel: its
connection to the store is closed (Virtuoso then stops the query) and the worker, once it
answers within ``CANCEL_WAIT``, is kept; only a worker that does not answer is killed. A new
worker costs about half a second of CPU, which a busy store's cores need.

Healing: no lock is held while a worker starts; a worker found dead when it is taken (or whose
pipe is broken when the job is sent) is replaced and the job goes to a fresh one; a worker that
dies while answering (a crash, the memory ceiling) is replaced and the request gets a typed
error; a failed start is an error for that request only and is retried for the next.

A spare worker is started in the background whenever a request takes the last idle one and the
pool has room, so a request rarely waits for a start (which counts against its deadline); an
idle server holds one worker per pool (memory: about 40 MB each).

Slow queries cannot starve the rest: an operation may run past ``short`` seconds only while it
holds one of ``long_slots`` slots (fewer than the workers), so at least one worker always turns
over within ``short`` seconds. An operation that needs a slot when none is free is stopped with
:class:`Busy`.
"""
from __future__ import annotations

import dataclasses
import select
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Pipe

from . import allocator, execute
from .child import Child

#: the first argument of every query worker's command line
WORKER_NAME = "tdkg-query-worker"
START_TIMEOUT = 60.0
SLICE = 0.25
#: seconds a cancelled remote worker has to answer before it is killed after all
CANCEL_WAIT = 1.0


class Timeout(Exception):
    """The deadline passed (waiting for a worker, starting one, or running the operation)."""


class Busy(Exception):
    """The operation outran ``short`` seconds while every long-running slot was taken."""


class ClientGone(Exception):
    pass


class WorkerDied(Exception):
    def __init__(self, message: str, memory: bool = False):
        super().__init__(message)
        self.memory = memory


class WorkerStartFailed(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker opens and how it is confined."""

    path: str
    writable: bool = False
    sandbox: bool = True            # own network namespace + seccomp (see .sandbox)
    memory_mib: int = 0             # RLIMIT_DATA; 0: no limit
    stack_mib: int = 256            # stack of the thread that parses and evaluates
    remote: "RemoteSpec | None" = None  # the sparql store kind: a build of a remote store
    preload: str | None = None      # the allocator's library, preloaded (see .allocator)


@dataclasses.dataclass(frozen=True)
class RemoteSpec:
    """A build of a remote SPARQL store, reached through ``socket_path`` (the front end's relay
    to the store, for confined workers) or directly (``socket_path`` None)."""

    query_url: str
    build: str
    socket_path: str | None
    timeout: float
    auth: str = "digest"
    params: str = ""                # form-encoded protocol parameters added to every query


class Worker:
    def __init__(self, spec: WorkerSpec, deadline: float):
        self.spec = spec
        self.conn, child = Pipe()
        self.control = control = None       # cancels, over a remote store (see the module)
        if spec.remote is not None:
            self.control, control = Pipe()
        self.seq = 0
        try:
            self.process = Child(WORKER_NAME, f"{execute.__name__}:serve", child, spec, control,
                                 env=allocator.environment(spec.preload))
        except OSError as err:
            for end in (self.conn, self.control):
                if end is not None:
                    end.close()
            raise WorkerStartFailed(f"cannot start a query worker: {err}") from None
        finally:
            child.close()
            if control is not None:
                control.close()
        # one poll object per pipe: Connection.poll() builds and closes a selector on each call,
        # which cost more than the rest of the pool's work for a cheap query
        self._ready = select.poll()
        self._ready.register(self.conn.fileno(), select.POLLIN)
        self.status = self._handshake(deadline)

    def _handshake(self, deadline: float) -> dict:
        wait = max(0.0, min(deadline, time.monotonic() + START_TIMEOUT) - time.monotonic())
        if not self.conn.poll(wait):
            self.kill()
            raise Timeout() if time.monotonic() >= deadline else WorkerStartFailed(
                f"query worker did not start within {START_TIMEOUT:.0f} s")
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise WorkerStartFailed("query worker exited while starting") from None
        if message[0] != "ready":
            self.kill()
            raise WorkerStartFailed(message[1])
        if self.spec.sandbox and not message[1].get("confined"):
            self.kill()
            raise WorkerStartFailed("the OS did not confine the query worker (no network "
                                    f"namespace and no seccomp filter): {message[1]}")
        return message[1]

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, job: dict, deadline: float) -> None:
        """Hand ``job`` over and wait for the worker to say it started on it; a worker that
        died idle raises :class:`WorkerDied` here, before any work was done."""
        self.seq += 1
        try:
            self.conn.send({**job, "seq": self.seq})
            if not self.wait(max(0.0, deadline - time.monotonic())):
                raise Timeout()
            acknowledged = self.conn.recv() == ("started",)
        except (EOFError, OSError):
            raise WorkerDied("query worker died while idle") from None
        if not acknowledged:
            raise WorkerDied("query worker answered out of turn")

    def wait(self, timeout: float) -> bool:
        """Whether the worker has written (or closed its end) within ``timeout`` seconds."""
        try:
            return bool(self._ready.poll(max(0, int(timeout * 1000 + 0.999))))
        except (OSError, ValueError):
            return True     # recv() will report the closed pipe

    def receive(self) -> tuple:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.process.join(2)
            code = self.process.exitcode
            if code == -signal.SIGKILL:
                reason = "was killed (by the OS's out-of-memory killer, or an operator)"
            else:
                reason = f"exited (code {code})"
            # Rust aborts when an allocation fails: past RLIMIT_DATA, that is the memory ceiling
            raise WorkerDied(f"the query worker {reason} while answering",
                             memory=code == -signal.SIGABRT) from None

    def cancel(self) -> bool:
        """Ask the worker to stop its job's store call, and wait up to ``CANCEL_WAIT`` for its
        answer (read and dropped); whether it answered and may be used again."""
        if self.control is None:
            return False
        try:
            self.control.send(("cancel", self.seq))
            if not self.wait(CANCEL_WAIT):
                return False
            answer = self.receive()
        except (OSError, WorkerDied):
            return False
        return answer[:2] != ("error", "memory")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        if self.control is not None:
            self.control.close()


class Pool:
    """Up to ``size`` workers of one :class:`WorkerSpec`, started on demand."""

    def __init__(self, spec: WorkerSpec, size: int, long_slots: int | None = None,
                 short: float = 2.0):
        self.spec, self.size, self.short = spec, max(1, size), short
        slots = self.size - 1 if long_slots is None else long_slots
        self.long_slots = max(1, min(slots, self.size))
        self._long = threading.BoundedSemaphore(self.long_slots)
        self._idle: list[Worker] = []
        self._started = 0
        self._topping_up = False
        self._cond = threading.Condition()
        self.closed = False
        self.confinement: dict = {}     # what the last worker that started reported
        self.cancelled = 0              # jobs stopped without killing their worker
        self.killed = 0                 # workers killed while answering (deadline, crash, …)

    # --- taking and giving back workers (the lock is never held across a start) ----------
    def _acquire(self, deadline: float, spare: bool = True) -> Worker:
        """An idle worker or a new one; with ``spare``, start a spare in the background when
        none is left idle."""
        worker = self._take(deadline)
        if worker is None:
            try:
                worker = Worker(self.spec, deadline)
            except BaseException:
                self._forget()
                raise
            self.confinement = worker.status
        if spare:
            self._top_up()
        return worker

    def _take(self, deadline: float) -> Worker | None:
        """A live idle worker, or None after reserving room to start one."""
        with self._cond:
            while True:
                if self.closed:
                    raise WorkerStartFailed("the store this pool served was replaced")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._started -= 1
                    worker.kill()
                if self._started < self.size:
                    self._started += 1
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout()
                self._cond.wait(remaining)

    def _top_up(self) -> None:
        """Start a spare worker in the background when none is idle and there is room."""
        with self._cond:
            if self.closed or self._idle or self._topping_up or self._started >= self.size:
                return
            self._topping_up = True
            self._started += 1
        threading.Thread(target=self._start_spare, daemon=True, name="tdkg-spare").start()

    def _start_spare(self) -> None:
        try:
            worker = Worker(self.spec, time.monotonic() + START_TIMEOUT)
        except BaseException:
            self._forget()
            return
        finally:
            with self._cond:
                self._topping_up = False
        self.confinement = worker.status
        self._release(worker)

    def _forget(self) -> None:
        with self._cond:
            self._started -= 1
            self._cond.notify()

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if not self.closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.kill()
        self._forget()

    def _discard(self, worker: Worker) -> None:
        self.killed += 1
        worker.kill()
        self._forget()
        self._top_up()

    # --- running a job ---------------------------------------------------------------------
    def call(self, job: dict, deadline: float, gone: Callable[[], bool] | None = None) -> tuple:
        """Run ``job`` before ``deadline``; ``gone()`` says whether the client has left."""
        worker = self._send(job, deadline)
        try:
            answer = self._await(worker, deadline, gone)
        except (Timeout, ClientGone, Busy):
            if worker.cancel():
                self.cancelled += 1
                self._release(worker)
            else:
                self._discard(worker)
            raise
        except BaseException:
            self._discard(worker)
            raise
        if answer[0] == "error" and answer[1] == "memory":
            self._discard(worker)       # a worker past its ceiling is not trusted again
        else:
            self._release(worker)
        return answer

    def _send(self, job: dict, deadline: float) -> Worker:
        """A worker that has taken ``job``. Workers that died idle are replaced: every idle
        worker may have died at once (an OS that killed them all, not yet reaped when checked),
        so up to one more attempt than the pool has workers; only then does the client hear."""
        for attempt in range(self.size + 1):
            worker = self._acquire(deadline)
            try:
                worker.send(job, deadline)
                return worker
            except WorkerDied:
                self._discard(worker)
                if attempt == self.size:
                    raise
            except BaseException:
                self._discard(worker)
                raise
        raise AssertionError("unreachable")

    def _await(self, worker: Worker, deadline: float, gone: Callable[[], bool] | None) -> tuple:
        started, holding = time.monotonic(), False
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    raise Timeout()
                if worker.wait(min(SLICE, deadline - now)):
                    return worker.receive()
                if gone is not None and gone():
                    raise ClientGone()
                if not holding and time.monotonic() - started >= self.short:
                    holding = self._long.acquire(blocking=False)
                    if not holding:
                        raise Busy()
        finally:
            if holding:
                self._long.release()

    def warm(self) -> dict:
        """Start one worker now so the first request does not pay for it; its confinement. No
        spare is started with it: an idle server keeps one worker per pool, and the first
        request that takes it starts the spare in the background."""
        worker = self._acquire(time.monotonic() + START_TIMEOUT, spare=False)
        status = worker.status
        self._release(worker)
        return status

    def close(self) -> None:
        with self._cond:
            self.closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.kill()
