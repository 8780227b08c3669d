"""The store being served: follows the pipeline's ``current`` link and reopens when it moves.

Each request asks :meth:`LiveStore.snapshot` for the build to use. A published rebuild is picked up
by the next request: a new worker pool opens the new store, the old pool is closed, and the answer
cache moves on (its keys carry the build id). A failed build never moves the link, so the last
good store keeps serving.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

from tdkg.pipeline import store as pipeline_store

from .errors import NotReady
from .pool import Pool


@dataclasses.dataclass
class Snapshot:
    build_id: str
    info: dict
    pool: Pool
    generation: int = 0     # bumped by each update on a writable (scratch) store


class LiveStore:
    def __init__(self, root: Path, pool_size: int, writable: bool):
        self.root, self.pool_size, self.writable = root, pool_size, writable
        self._link = root / "current"
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
            pool = Pool(str(build / "store"), self.pool_size, self.writable)
            self._snapshot = Snapshot(build.name, pipeline_store.read_info(build), pool)
            self._target = target
            if old is not None:
                old.pool.close()

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.pool.close()
