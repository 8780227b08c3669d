"""Fixtures for the store kinds: TDKG over its embedded store, over a real Oxigraph server and
over a real Virtuoso 7, each with the seed data built and published by `tdkg build`.

``store_kinds.server(kind)`` starts (once per session) the store, a build published to it and a
`tdkg serve` front end over it; the embedded kind is the session's ``live_server``. The front
ends over a remote store start with an empty state folder of their own, not the builder's: what
they serve comes from the store alone.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

import external_stores
import pytest
from support import Server, run_tdkg

KINDS = ("embedded", "oxigraph", "virtuoso")
REMOTE_KINDS = KINDS[1:]
STARTERS = {"oxigraph": external_stores.oxigraph_server, "virtuoso": external_stores.virtuoso}


def store_env(store: external_stores.Store, **more: str) -> dict[str, str]:
    """The environment that points `tdkg build` and `tdkg serve` at ``store`` (credentials
    from the environment, as in production)."""
    env = {"TDKG_STORE": "sparql", "TDKG_STORE_URL": store.query_url,
           "TDKG_STORE_UPDATE_URL": store.update_url, "TDKG_STORE_GRAPH_URL": store.gsp_url,
           "TDKG_STORE_GRAPH_PARAM": store.gsp_graph_param,
           "TDKG_STORE_AUTH": store.auth_scheme or "basic"}
    if store.user:
        env.update(TDKG_STORE_USER=store.user, TDKG_STORE_PASSWORD=store.password or "")
    else:
        env.update(TDKG_STORE_USER="", TDKG_STORE_PASSWORD="")
    return {**env, **more}


def shipped(folder: Path) -> dict[str, str]:
    """sha256 of each file of a build folder, but its embedded store and the marks of the
    state folder it is in (when it published or fetched the build)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()
            and p.relative_to(folder).parts[0] not in ("store", "published", "fetched")}


def build_into(state: Path, env: dict[str, str], *args: str) -> str:
    """`tdkg build` into ``state``, published to the store of ``env``; the build id."""
    done = run_tdkg("build", "--state-dir", str(state), "--no-owl-files", *args, env=env)
    assert done.returncode == 0, done.stderr
    return re.search(r"published (\S+):", done.stderr).group(1)


class StoreKinds:
    def __init__(self, factory: pytest.TempPathFactory, live_server: Server):
        self.factory = factory
        self.live_server = live_server
        self.stores: dict[str, external_stores.Store] = {}
        self.servers: dict[str, Server] = {}
        self.states: dict[str, Path] = {}     # the state folders the builds were made in
        self.fronts: dict[str, Path] = {}     # the first front end's own state folder per kind
        self._stack = contextlib.ExitStack()

    def store(self, kind: str) -> external_stores.Store:
        if kind not in self.stores:
            self.stores[kind] = self._stack.enter_context(
                STARTERS[kind](self.factory.mktemp(kind)))
        return self.stores[kind]

    def env(self, kind: str) -> dict[str, str]:
        return store_env(self.store(kind))

    def server(self, kind: str) -> Server:
        if kind == "embedded":
            return self.live_server
        if kind not in self.servers:
            state = self.factory.mktemp(f"{kind}-state") / "var"
            build_into(state, self.env(kind))
            self.states[kind] = state
            self.servers[kind] = self.front_end(kind)
        return self.servers[kind]

    def front_end(self, kind: str, **env: str) -> Server:
        """A `tdkg serve` over the store of ``kind`` with a state folder of its own, empty at
        the start: it fetches what it needs of the published build from the store."""
        own = self.factory.mktemp(f"{kind}-front") / "var"
        own.mkdir()
        self.fronts.setdefault(kind, own)
        return Server(own, env={**self.env(kind), **env})

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
        self._stack.close()


@pytest.fixture(scope="session")
def store_kinds(tmp_path_factory: pytest.TempPathFactory, live_server: Server):
    kinds = StoreKinds(tmp_path_factory, live_server)
    yield kinds
    kinds.close()


@pytest.fixture(params=KINDS)
def any_kind(request, store_kinds: StoreKinds) -> tuple[str, Server]:
    """(kind, server): each test that takes it runs once per store kind."""
    return request.param, store_kinds.server(request.param)


@pytest.fixture(params=REMOTE_KINDS)
def remote_kind(request, store_kinds: StoreKinds) -> tuple[str, Server]:
    return request.param, store_kinds.server(request.param)

