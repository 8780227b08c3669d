"""Session fixtures: one real build of the bundled data and one real read-only server over it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import Server, run_tdkg


@pytest.fixture(scope="session")
def built_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder holding a real build of ontology/ and data/ttl/."""
    state = tmp_path_factory.mktemp("state") / "var"
    result = run_tdkg("build", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    return state


@pytest.fixture(scope="session")
def live_server(built_state: Path):
    server = Server(built_state)
    yield server
    server.stop()


@pytest.fixture()
def scratch_state(built_state: Path, tmp_path: Path) -> Path:
    """A private copy of the built state, for tests that rebuild or change it."""
    copy = tmp_path / "var"
    shutil.copytree(built_state, copy, symlinks=True)
    return copy
