"""The store being served: follows the pipeline's ``current`` link and reopens when it moves.

Each request asks :meth:`LiveStore.snapshot` for the build to use. A published rebuild is picked up
by the next request: new worker pools open the new store, the old ones are closed, and the answer
cache moves on (its keys carry the build id). A failed build never moves the link, so the last
good store keeps serving. If the published store disappears, requests get a 503 (its workers
cannot start) until a new build is published; nothing needs restarting.

Two pools per build: ``pool`` runs everything in confined workers (no network); ``federated``
exists only with a non-empty federation allowlist and runs the operations whose every SERVICE or
LOAD target the guard found in it.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

from tdkg.pipeline import store as pipeline_store
from tdkg.settings import Settings

from .errors import NotReady
from .pool import Pool, WorkerSpec
from .sandbox import physical_memory

#: stack of the evaluating thread per 64 KiB of query text (nested patterns recurse in the engine)
STACK_MIB_PER_64K = 256


@dataclasses.dataclass
class Snapshot:
    build_id: str
    info: dict
    pool: Pool
    federated: Pool | None
    generation: int = 0     # bumped by each update on a writable (scratch) store

    def pool_for(self, remote: tuple[str, ...]) -> Pool:
        """The confined pool, unless the operation was checked to contact allowlisted endpoints."""
        return self.federated if remote and self.federated is not None else self.pool

    def close(self) -> None:
        self.pool.close()
        if self.federated is not None:
            self.federated.close()


def worker_spec(settings: Settings, path: str, sandbox: bool) -> WorkerSpec:
    stack = STACK_MIB_PER_64K * max(1, -(-settings.max_query // 65_536))
    return WorkerSpec(path=path, writable=settings.updates_enabled, sandbox=sandbox,
                      memory_mib=settings.worker_memory_mib(physical_memory()), stack_mib=stack)


class LiveStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.store_root
        self._link = self.root / "current"
        self._target: str | None = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        try:
            target = os.readlink(self._link)
        except OSError:
            raise NotReady("no store has been built yet: run `tdkg build`") from None
        if target != self._target:
            self._switch(target)
        return self._snapshot

    def _switch(self, target: str) -> None:
        with self._lock:
            if target == self._target:
                return
            build = pipeline_store.current_build(self.root)
            if build is None:
                raise NotReady("the published build is incomplete")
            old = self._snapshot
            self._snapshot = self._open(build)
            self._target = target
            if old is not None:
                old.close()

    def _open(self, build: Path) -> Snapshot:
        s, path = self.settings, str(build / "store")
        sandboxed = s.sandbox == "required"
        pool = Pool(worker_spec(s, path, sandboxed), s.pool_size, short=s.short_query)
        federated = None
        if s.service_allowlist:
            federated = Pool(worker_spec(s, path, sandbox=False), 1, short=s.short_query)
        return Snapshot(build.name, pipeline_store.read_info(build), pool, federated)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
