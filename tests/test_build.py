"""The build: syntax errors name file and line, violations fail it, and a failed build never
replaces the store being served."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests

from support import PROJECT, Server, run_tdkg


def _data_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(PROJECT / "data" / "ttl", data)
    return data


def test_broken_turtle_fails_with_file_and_line_and_old_store_keeps_serving(scratch_state, tmp_path):
    server = Server(scratch_state)
    try:
        before = requests.get(server.url + "/healthz", timeout=10).json()["build"]
        data = _data_copy(tmp_path)
        (data / "zz-broken.ttl").write_text(
            "@prefix tdi: <https://w3id.org/tdkg/id/> .\n\ntdi:a tdi:b tdi:c .\ntdi:a tdi:b \"open\n")
        result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir", str(data))
        assert result.returncode == 1
        assert "zz-broken.ttl:4:" in result.stderr
        assert requests.get(server.url + "/healthz", timeout=10).json()["build"] == before
        assert server.ask("ASK { ?s ?p ?o }")
        assert len(list((scratch_state / "builds").iterdir())) == 1   # no half-built leftovers
    finally:
        server.stop()


def test_a_clash_found_while_the_store_is_being_written_leaves_nothing_behind(scratch_state,
                                                                             tmp_path):
    """The build loads the asserted facts into its new store while it reasons; a clash the
    reasoner finds must still fail the build with its message, remove that half-written store
    and leave the published one serving."""
    server = Server(scratch_state)
    try:
        before = requests.get(server.url + "/healthz", timeout=10).json()["build"]
        data = _data_copy(tmp_path)
        (data / "zz-clash.ttl").write_text(     # a state is an agent: disjoint with systems
            "@prefix tdi: <https://w3id.org/tdkg/id/> .\n"
            "tdi:turkiye a <https://w3id.org/tdkg/ontology#WeaponSystem> .\n")
        for _ in range(3):      # the store left open once left its folder in 1 of 6 builds
            result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir",
                              str(data), "--skip-validation")
            assert result.returncode == 1
            assert "turkiye" in result.stderr and "WeaponSystem" in result.stderr, result.stderr
            assert [p.name for p in (scratch_state / "builds").iterdir()] == [before]
        assert requests.get(server.url + "/healthz", timeout=10).json()["build"] == before
        assert server.ask("ASK { ?s ?p ?o }")
    finally:
        server.stop()


def test_a_store_writer_shuts_its_store_when_closed(tmp_path):
    """What a failed build relies on before it removes its folder: once closed, the store is
    shut (another handle can open it, which RocksDB's lock refuses while it is open), and
    closing again changes nothing."""
    import pyoxigraph as ox

    from tdkg.pipeline.store import StoreWriter
    triple = ox.Triple(ox.NamedNode("http://example.org/a"), ox.NamedNode("http://example.org/p"),
                       ox.Literal("x"))
    writer = StoreWriter(tmp_path)
    writer.add("http://example.org/g", [triple])
    with pytest.raises(OSError):
        ox.Store(str(tmp_path / "store"))
    writer.close()
    writer.close()
    reopened = ox.Store(str(tmp_path / "store"))
    assert ox.Quad(triple.subject, triple.predicate, triple.object,
                   ox.NamedNode("http://example.org/g")) in reopened


def test_successful_rebuild_is_picked_up_by_the_running_server(scratch_state, tmp_path):
    server = Server(scratch_state)
    try:
        before = requests.get(server.url + "/healthz", timeout=10).json()["build"]
        marker = 'ASK { ?s ?p "build marker"@en }'
        assert not any(server.ask(marker) for _ in range(4))    # now cached by every worker
        data = _data_copy(tmp_path)
        (data / "zz-extra.ttl").write_text(
            "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
            "<https://w3id.org/tdkg/id/test-marker> rdfs:label \"build marker\"@en ;\n"
            "    a <https://w3id.org/tdkg/ontology#Person> .\n")
        result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir", str(data),
                          "--skip-validation")
        assert result.returncode == 0, result.stderr
        assert requests.get(server.url + "/healthz", timeout=10).json()["build"] != before
        assert all(server.ask(marker) for _ in range(4))        # the new build is answered
    finally:
        server.stop()


def test_serve_builds_when_there_is_no_store(tmp_path):
    state = tmp_path / "var"
    from support import find_free_port, TDKG
    import subprocess, os, signal
    port = find_free_port()
    proc = subprocess.Popen([*TDKG, "serve", "--state-dir", str(state), "--port", str(port)],
                            cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert (state / "current" / "build.json").is_file()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


def test_shacl_violation_fails_the_build_with_a_readable_report(scratch_state, tmp_path):
    before = (scratch_state / "current").resolve()
    data = _data_copy(tmp_path)
    (data / "zz-violation.ttl").write_text(
        "@prefix tdkg: <https://w3id.org/tdkg/ontology#> .\n"
        "@prefix tdi: <https://w3id.org/tdkg/id/> .\n"
        "@prefix tds: <https://w3id.org/tdkg/source/> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "tdi:lonely-deal a tdkg:ArmsDeal ; tdkg:supplier tdi:turkiye ;\n"
        "    rdfs:label \"a deal with one party\"@en ;\n"
        "    tdkg:statedIn tds:doc-000 ; tdkg:status tdkg:reported .\n")
    result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir", str(data))
    assert result.returncode == 1
    assert "SHACL validation failed" in result.stderr and "lonely-deal" in result.stderr
    assert (scratch_state / "current").resolve() == before


def test_a_fact_of_a_class_without_its_own_shape_still_needs_source_and_status(scratch_state,
                                                                                tmp_path):
    """A `tdkg:Visit` (no shape names that class) without source and status, and an untyped
    (blank) node with a supplier and a recipient, used to pass SHACL: now the common fact
    shapes reach every subclass of tdkg:Fact, and a node used as a fact must say which kind
    it is."""
    before = (scratch_state / "current").resolve()
    data = _data_copy(tmp_path)
    (data / "zz-facts.ttl").write_text(
        "@prefix tdkg: <https://w3id.org/tdkg/ontology#> .\n"
        "@prefix tdi: <https://w3id.org/tdkg/id/> .\n"
        "@prefix tds: <https://w3id.org/tdkg/source/> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'tdi:unsourced-visit a tdkg:Visit ; rdfs:label "an unsourced visit"@en ;\n'
        "    tdkg:visitor tdi:turkiye ; tdkg:visitedState tdi:pakistan .\n"
        '[] rdfs:label "a deal of no class"@en ;\n'
        "    tdkg:supplier tdi:turkiye ; tdkg:recipient tdi:pakistan ;\n"
        "    tdkg:statedIn tds:doc-000 ; tdkg:status tdkg:reported .\n")
    result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir", str(data))
    assert result.returncode == 1
    assert "SHACL validation failed with 3 violation(s)" in result.stderr
    report = result.stderr
    for shape, node in (("FactStatedInShape", "unsourced-visit"),
                        ("FactStatusShape", "unsourced-visit"),
                        ("FactTypeShape", "a deal of no class")):
        assert f"tdsh:{shape} " in report and node in report
    assert (scratch_state / "current").resolve() == before


def test_a_second_build_of_the_same_state_folder_is_refused_while_one_runs(scratch_state):
    from tdkg.pipeline import store
    before = (scratch_state / "current").readlink()
    with store.exclusive(scratch_state):
        result = run_tdkg("build", "--state-dir", str(scratch_state))
    assert result.returncode == 1
    assert "another build is running" in result.stderr and "pid " in result.stderr
    assert (scratch_state / "current").readlink() == before


def test_a_killed_build_leaves_nothing_that_counts(scratch_state):
    """Kill a build half-way: the next build removes its folder, and it never takes the place
    of a kept build."""
    import os
    import signal
    import subprocess
    import sys
    builds = scratch_state / "builds"
    before = {p.name for p in builds.iterdir()}
    process = subprocess.Popen([sys.executable, "-m", "tdkg.cli", "build", "--state-dir",
                                str(scratch_state)], cwd=PROJECT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not {p.name for p in builds.iterdir()} - before:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    (killed,) = {p.name for p in builds.iterdir()} - before
    assert not (builds / killed / "build.json").exists()
    result = run_tdkg("build", "--state-dir", str(scratch_state))
    assert result.returncode == 0, result.stderr
    assert not (builds / killed).exists()
    assert all((p / "build.json").is_file() for p in builds.iterdir())


def test_prune_keeps_the_newest_complete_builds(tmp_path):
    from tdkg.pipeline import store
    builds = tmp_path / "builds"
    for name, complete in [("20260101T000000-1-000001", True), ("20260102T000000-1-000001", True),
                           ("20260103T000000-1-000001", True), ("20260104T000000-1-000001", True),
                           ("20990101T000000-1-000001", False)]:
        (builds / name).mkdir(parents=True)
        if complete:
            (builds / name / "build.json").write_text("{}")
    store.prune(tmp_path, keep=3)
    assert sorted(p.name for p in builds.iterdir()) == [
        "20260102T000000-1-000001", "20260103T000000-1-000001", "20260104T000000-1-000001",
        "20990101T000000-1-000001"]      # the unfinished one is not pruned here, nor kept
    store.clean_unfinished(tmp_path)
    assert "20990101T000000-1-000001" not in {p.name for p in builds.iterdir()}


def test_the_dumps_child_dies_with_a_killed_build():
    """The complete dump is written by a child of the build (downloads.DumpsBeside); when the
    build is killed, the OS kills the child too (PR_SET_PDEATHSIG), so no writer outlives it."""
    import os
    import signal
    import subprocess
    import sys
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import os, subprocess, sys, time\n"
         "child = subprocess.Popen([sys.executable, '-c', 'import sys, time; "
         "from tdkg.pipeline.downloads import _die_with; _die_with(int(sys.argv[1])); "
         "print(\"ready\", flush=True); time.sleep(120)', str(os.getpid())], "
         "stdout=subprocess.PIPE, text=True)\n"
         "print(child.pid, child.stdout.readline().strip(), flush=True)\n"
         "time.sleep(120)\n"],
        cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    try:
        pid, state = parent.stdout.readline().split()
        assert state == "ready"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(int(pid)):
            time.sleep(0.05)
        assert not _running(int(pid))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        parent.stdout.close()


def _running(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
