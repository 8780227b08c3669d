"""Child interpreters for the query workers and the sandbox probe, started without
multiprocessing's spawn method.

The spawn method starts a resource tracker process beside the first child (13 MiB held for the
server's whole life, though the workers share no semaphore and no shared memory), and each child
re-imports the parent's main script before it runs. A child here is ``sys.executable -c`` with its
pipes passed as file descriptors: it imports only its entry point's module. Its arguments travel
pickled over a pipe of their own, never on the command line, which every local user can read.

The pipes are :class:`multiprocessing.connection.Connection` objects, as with spawn, so the two
sides talk as before; and as before, a child whose parent dies reads the end of its pipe and
exits.
"""
from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
from multiprocessing.connection import Connection

_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[3]); "
         "from tdkg.server.child import _main; _main()")


class _Passed:
    """Where the child finds the n-th connection it was given."""

    def __init__(self, n: int):
        self.n = n


class Child:
    """A child interpreter that runs ``entry`` (``"package.module:function"``) with ``args``;
    each :class:`Connection` among the args reaches the child as its own end of that pipe. The
    parent should close its copy of those ends once the child is started. ``name`` is the
    child's first argument, so that ``ps`` and ``/proc/PID/cmdline`` tell what it is; ``env``
    its environment (None: the parent's)."""

    def __init__(self, name: str, entry: str, *args, env: dict[str, str] | None = None):
        passed = [a for a in args if isinstance(a, Connection)]
        marked = tuple(_Passed(passed.index(a)) if isinstance(a, Connection) else a
                       for a in args)
        payload = pickle.dumps((entry, marked))
        read, write = os.pipe()
        try:
            fds = [c.fileno() for c in passed]
            self._popen = subprocess.Popen(
                [sys.executable, "-c", _BOOT, name, str(read), json.dumps(sys.path),
                 *map(str, fds)], pass_fds=(read, *fds), env=env)
        finally:
            os.close(read)
        try:
            # a pipe holds 64 KiB: the arguments (a worker's settings) are far smaller, so this
            # write never waits for a child that failed to start
            with os.fdopen(write, "wb") as pipe:
                pipe.write(payload)
        except BrokenPipeError:
            pass                            # the child is gone: its exit code says why

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def exitcode(self) -> int | None:
        """None while it runs; its exit status, or minus the signal that ended it."""
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def kill(self) -> None:
        try:
            self._popen.kill()
        except ProcessLookupError:
            pass

    def join(self, timeout: float | None = None) -> None:
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


def _main() -> None:
    """The child's side: read the entry point and its arguments, then run it."""
    read, fds = int(sys.argv[2]), sys.argv[4:]
    with os.fdopen(read, "rb") as pipe:
        entry, args = pickle.loads(pipe.read())
    connections = [Connection(int(fd)) for fd in fds]
    module, function = entry.split(":")
    run = getattr(importlib.import_module(module), function)
    run(*(connections[a.n] if isinstance(a, _Passed) else a for a in args))
