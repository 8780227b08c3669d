"""The store being served: follows the pipeline's ``current`` link and reopens when it moves.

Each request asks :meth:`LiveStore.snapshot` for the build to use. A published rebuild is picked up
by the next request: new worker pools open the new store, the old ones are closed, and the answer
cache moves on (its keys carry the build id). A failed build never moves the link, so the last
good store keeps serving. If the published store disappears, requests get a 503 (its workers
cannot start) until a new build is published; nothing needs restarting.

Over the ``sparql`` store kind the published build is the one the remote store names
(:mod:`tdkg.stores`), asked at most every ``store_poll`` seconds, so every front end over one
store moves to a new build within that time; the build's folder comes from the front end's
state folder (see below). Its workers reach the store through a :class:`~tdkg.stores.relay.Relay`
(they have no network of their own), each query against that one build's graphs. While the
store cannot be reached, requests get a 503 naming it; when it is back, the next request is
answered, with nothing restarted. A front end whose state folder lacks the published build's
folder fetches it from the store (:mod:`tdkg.stores.build_files`) in the background, serving
the build before it meanwhile (or a 503 that says so, when it serves none yet); a folder it
fetched is its own cache, and it drops those the store no longer holds.

Two pools per build: ``pool`` runs everything in confined workers (no network); ``federated``
exists only with a non-empty federation allowlist and runs the operations whose every SERVICE or
LOAD target the guard found in it.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from tdkg import stores
from tdkg.pipeline import store as pipeline_store
from tdkg.settings import Settings
from tdkg.stores import build_files
from tdkg.stores.errors import StoreError

from . import allocator
from .errors import EndpointError, NotReady, StoreUnavailable
from .pool import Pool, RemoteSpec, WorkerSpec
from .sandbox import physical_memory

#: stack of the evaluating thread per 64 KiB of query text (nested patterns recurse in the engine)
STACK_MIB_PER_64K = 256
#: seconds before a failed fetch of a build's folder from the store is tried again
FETCH_RETRY = 2.0


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


def worker_spec(settings: Settings, path: str, sandbox: bool,
                remote: RemoteSpec | None = None) -> WorkerSpec:
    stack = STACK_MIB_PER_64K * max(1, -(-settings.max_query // 65_536))
    return WorkerSpec(path=path, writable=settings.updates_enabled and remote is None,
                      sandbox=sandbox, memory_mib=settings.worker_memory_mib(physical_memory()),
                      stack_mib=stack, remote=remote,
                      preload=allocator.library(settings.allocator))


class LiveStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.store_root
        self._link = self.root / "current"
        self._target: str | None = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self.store = stores.open_store(settings)
        self._relay = None
        self.pending: str | None = None     # a published build whose folder has not arrived
        self._asked = (-1e9, None, None)    # (when, build id, error) of the last remote answer
        self._loaded: list[str] = []        # the builds the remote store holds, last asked
        self._fetcher: threading.Thread | None = None
        self.fetch_failed: tuple[float, str | None, str | None] = (-1e9, None, None)

    def snapshot(self) -> Snapshot:
        if self.store.kind == "sparql":
            target = self._remote_build()
        else:
            try:
                target = os.readlink(self._link)
            except OSError:
                raise NotReady("no store has been built yet: run `tdkg build`") from None
        if target != self._target:
            self._switch(target)
        return self._snapshot

    def _remote_build(self) -> str:
        """The build the remote store publishes, asked at most every ``store_poll`` seconds
        (a failure too is remembered that long, so a stopped store is not asked by every
        request)."""
        when, build, error = self._asked
        if time.monotonic() - when >= self.settings.store_poll:
            try:
                build, loaded = self.store.state(timeout=min(5.0, self.settings.timeout))
                self._loaded = loaded
                error = None
                serving = self.last_build
                if serving is not None and serving != build and serving not in loaded \
                        and not (self.root / "builds" / str(build) / "build.json").is_file():
                    self._fetch(build)
                    error = (f"the build this front end serves ({serving}) was dropped from the "
                             f"SPARQL store at {self.store.name}, which publishes "
                             + self._fetching(build))
            except StoreError as err:
                build, error = None, str(err)
            self._asked = (time.monotonic(), build, error)
        if error is not None:
            raise StoreUnavailable(error)
        if build is None and self._target is not None:
            return self._target     # the store names none for a moment: keep the one served
        if build is None:
            raise NotReady(f"no build has been published to the SPARQL store at "
                           f"{self.store.name} yet: run `tdkg build`")
        return build

    def build_key(self) -> str | None:
        """What names the published build, cheaply (for cache keys), or None when unknown."""
        if self.store.kind == "sparql":
            try:
                return self._remote_build()
            except EndpointError:
                return None
        try:
            return os.readlink(self._link)
        except OSError:
            return None

    @property
    def last_build(self) -> str | None:
        return self._snapshot.build_id if self._snapshot is not None else None

    def store_status(self) -> dict:
        """What ``/healthz`` says about the store."""
        problem = self.store.reachable()
        return {"kind": self.store.kind, "url": self.store.name, "reachable": problem is None,
                **({"error": problem} if problem else {})}

    def _switch(self, target: str) -> None:
        with self._lock:
            if target == self._target:
                return
            if self.store.kind == "sparql":
                build = self.root / "builds" / target
                if not (build / "build.json").is_file():
                    self.pending = target
                    self._fetch(target)
                    if self._snapshot is not None:
                        return      # keep serving the build before it (the store keeps it)
                    raise NotReady(self.fetch_status(target))
                self.pending = None
            else:
                build = pipeline_store.current_build(self.root)
                if build is None:
                    raise NotReady("the published build is incomplete")
            old = self._snapshot
            self._snapshot = self._open(build)
            self._target = target
            if old is not None:
                old.close()
            if (build / build_files.FETCHED).is_file():
                self._keep_cache(build)

    # --- build folders fetched from a remote store ---------------------------------------

    def fetch_status(self, target: str) -> str:
        """Why the published build is not served yet (its folder is being fetched)."""
        return f"the SPARQL store at {self.store.name} publishes {self._fetching(target)}"

    def _fetching(self, target: str) -> str:
        message = (f"build {target}, whose folder this front end is fetching from it into its "
                   f"state folder ({self.root})")
        _, failed, error = self.fetch_failed
        if failed == target and error:
            message += f"; the last attempt failed: {error}"
        return message

    def _fetch(self, target: str) -> None:
        """Fetch the build's folder from the store in the background (one fetch at a time; a
        failed one is tried again after ``FETCH_RETRY`` seconds)."""
        if self._fetcher is not None and self._fetcher.is_alive():
            return
        when, failed, _ = self.fetch_failed
        if failed == target and time.monotonic() - when < FETCH_RETRY:
            return
        self._fetcher = threading.Thread(target=self._fetch_build, args=(target,),
                                         name=f"fetch-{target}", daemon=True)
        self._fetcher.start()

    def _fetch_build(self, target: str) -> None:
        try:
            folder = build_files.fetch(self.store, target, self.root,
                                       timeout=max(30.0, self.settings.timeout))
            first = self.store.first_published(target, timeout=min(5.0, self.settings.timeout))
            pipeline_store.mark_published(folder, first or pipeline_store.now())
            self.fetch_failed = (-1e9, None, None)
        except (StoreError, OSError, ValueError, KeyError) as err:
            # ValueError, KeyError: rows that are not what a build loads (a damaged graph)
            self.fetch_failed = (time.monotonic(), target, f"{type(err).__name__}: {err}")

    def _keep_cache(self, served: Path) -> None:
        """In a state folder filled from the store: point ``current`` at the build served (for
        ``/builds``), and drop the fetched folders of builds the store no longer holds."""
        pipeline_store.point_current(self.root, served)
        for folder in (self.root / "builds").iterdir():
            if folder.name != served.name and folder.name not in self._loaded \
                    and not folder.name.startswith(".") \
                    and (folder / build_files.FETCHED).is_file():
                pipeline_store.discard(folder)

    def _open(self, build: Path) -> Snapshot:
        s, path = self.settings, str(build / "store")
        sandboxed = s.sandbox == "required"
        remote = direct = None
        if self.store.kind == "sparql":
            remote = RemoteSpec(s.store_url, build.name, self._relay_path() if sandboxed else None,
                                s.timeout, s.store_auth, s.store_query_params)
            direct = dataclasses.replace(remote, socket_path=None)
        pool = Pool(worker_spec(s, path, sandboxed, remote), s.pool_size, short=s.short_query)
        federated = None
        if s.service_allowlist:
            federated = Pool(worker_spec(s, path, sandbox=False, remote=direct), 1,
                             short=s.short_query)
        return Snapshot(build.name, pipeline_store.read_info(build), pool, federated)

    def _relay_path(self) -> str:
        """The Unix socket through which confined workers reach the store (made once)."""
        if self._relay is None:
            from tdkg.stores.relay import Relay
            parts = urlsplit(self.settings.store_url)
            self._relay = Relay(parts.hostname or "127.0.0.1",
                                parts.port or (443 if parts.scheme == "https" else 80))
        return self._relay.path

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
        if self._relay is not None:
            self._relay.close()
