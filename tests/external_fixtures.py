"""Session fixtures over tests/external_stores.py: one Virtuoso and one Oxigraph server per run.

conftest.py (or a test module) imports what it needs:
``pytest_plugins = ["external_fixtures"]`` (or imports the fixtures by name).
Tests that stop or kill a store must start it again before they end (``Store.start()`` keeps
the ports and the data), so that the other tests sharing it still find it.
"""
from __future__ import annotations

from typing import Iterator

import pytest
from external_stores import Store, oxigraph_server, virtuoso


@pytest.fixture(scope="session")
def virtuoso_store(tmp_path_factory) -> Iterator[Store]:
    with virtuoso(tmp_path_factory.mktemp("virtuoso")) as store:
        yield store


@pytest.fixture(scope="session")
def oxigraph_store(tmp_path_factory) -> Iterator[Store]:
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph")) as store:
        yield store


@pytest.fixture
def restart_after(request):
    """Stores a test may stop: each is started again after the test, even if it failed."""
    stopped: list[Store] = []
    yield stopped.append
    for store in stopped:
        store.start()
