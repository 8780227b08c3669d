"""Build history and rollback (issue 15, item 3): the kept builds, ``tdkg builds``,
``tdkg rollback``, a running server following a rollback without a restart, and ``/builds``.

The module's state folder starts as a copy of the session's build (B0) and gets two more real
builds (B1, B2) of scratch copies of the data, each with one label of its own, so that digests
and answers differ. The second is made with ``TDKG_KEEP_BUILDS=2``, which removes B0.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
import requests
from support import PROJECT, Server, run_tdkg

from tdkg.pipeline import history, store
from tdkg.settings import Settings, load_settings

LABEL = "History test build {}"
LABELS_QUERY = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?label WHERE { <https://w3id.org/tdkg/id/turkiye> skos:altLabel ?label
  FILTER(STRSTARTS(STR(?label), "History test")) }"""


def variant_data(folder: Path, n: int) -> Path:
    """A copy of data/ttl/ with one altLabel of its own."""
    shutil.copytree(PROJECT / "data" / "ttl", folder)
    (folder / "zz-history.ttl").write_text(
        "@prefix tdi: <https://w3id.org/tdkg/id/> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        f'tdi:turkiye skos:altLabel "{LABEL.format(n)}"@en .\n', encoding="utf-8")
    return folder


def build(state: Path, data: Path, env: dict | None = None) -> str:
    done = run_tdkg("build", "--state-dir", str(state), "--data-dir", str(data),
                    "--no-owl-files", "--no-downloads", env=env)
    assert done.returncode == 0, done.stderr
    return re.search(r"published (\S+):", done.stderr).group(1)


@pytest.fixture(scope="module")
def seeded(built_state: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("history")
    state = root / "var"
    shutil.copytree(built_state, state, symlinks=True)
    b0 = store.current_build(state).name
    data = {n: variant_data(root / f"data{n}", n) for n in (1, 2)}
    b1 = build(state, data[1])
    kept_after_b1 = sorted(p.name for p in (state / "builds").iterdir())
    b2 = build(state, data[2], env={"TDKG_KEEP_BUILDS": "2"})
    return {"state": state, "root": root, "data": data, "b0": b0, "b1": b1, "b2": b2,
            "kept_after_b1": kept_after_b1}


@pytest.fixture(scope="module")
def server(seeded: dict):
    running = Server(seeded["state"])
    yield running
    running.stop()


def tdkg(seeded: dict, *args: str):
    return run_tdkg(*args, "--state-dir", str(seeded["state"]))


def listed(seeded: dict) -> dict:
    done = tdkg(seeded, "builds", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def serve(seeded: dict, build_id: str) -> None:
    """Make ``build_id`` the published build (by a rollback by id, in this process: what the
    command runs) unless it is already."""
    if store.current_build(seeded["state"]).name != build_id:
        history.rollback(Settings(state_dir=seeded["state"]), build_id)


def unique_prefix(build_id: str, others: list[str]) -> str:
    for length in range(1, len(build_id) + 1):
        if not any(o.startswith(build_id[:length]) for o in others if o != build_id):
            return build_id[:length]
    raise AssertionError(build_id)


# --- the setting and the kept builds -------------------------------------------------------------

def test_keep_builds_setting():
    assert Settings().keep_builds == load_settings(environ={}).keep_builds == 5
    assert load_settings(environ={"TDKG_KEEP_BUILDS": "2"}).keep_builds == 2
    assert load_settings({"keep_builds": "7"}, environ={"TDKG_KEEP_BUILDS": "2"}).keep_builds == 7
    with pytest.raises(ValueError, match="at least 1"):
        load_settings(environ={"TDKG_KEEP_BUILDS": "0"})


def test_keep_builds_keeps_the_newest_published(seeded):
    state = seeded["state"]
    assert seeded["kept_after_b1"] == sorted([seeded["b0"], seeded["b1"]])   # default: 5
    assert sorted(p.name for p in (state / "builds").iterdir()) == sorted(
        [seeded["b1"], seeded["b2"]])                                       # TDKG_KEEP_BUILDS=2
    for name in ("b1", "b2"):
        assert store.published_at(state / "builds" / seeded[name])
    events = [e for e in store.read_history(state) if e["action"] == "publish"]
    assert [(e["build"], e["previous"]) for e in events[-2:]] == [
        (seeded["b1"], seeded["b0"]), (seeded["b2"], seeded["b1"])]


def test_builds_lists_the_kept_builds_with_the_current_one(seeded):
    serve(seeded, seeded["b2"])
    found = listed(seeded)
    assert found["current"] == seeded["b2"]
    assert [b["id"] for b in found["builds"]] == [seeded["b2"], seeded["b1"]]   # newest first
    assert [b["current"] for b in found["builds"]] == [True, False]
    for entry in found["builds"]:
        info = store.read_info(seeded["state"] / "builds" / entry["id"])
        assert entry["digest"] == info["digest"] and entry["stats"] == info["stats"]
        # as times, not text: "…:54.893875Z" sorts before "…:54Z" though it is later
        assert entry["created"] == info["created"]
        assert (datetime.datetime.fromisoformat(entry["published"])
                >= datetime.datetime.fromisoformat(info["created"]))
    assert found["builds"][0]["digest"] != found["builds"][1]["digest"]
    text = tdkg(seeded, "builds")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    rows = {b: next(line for line in lines if b in line) for b in (seeded["b1"], seeded["b2"])}
    assert rows[seeded["b2"]].startswith("*") and not rows[seeded["b1"]].startswith("*")
    assert found["builds"][0]["digest"][:history.SHORT_DIGEST] in rows[seeded["b2"]]
    assert f"{found['builds'][0]['stats']['triples']:,}" in rows[seeded["b2"]]


# --- rollback ------------------------------------------------------------------------------------

def test_rollback_switches_the_running_server_without_a_restart(seeded, server):
    b1, b2 = seeded["b1"], seeded["b2"]
    serve(seeded, b1)
    serve(seeded, b2)                # published after b1: a plain rollback goes back to b1
    pid = server.process.pid
    assert requests.get(server.url + "/healthz", timeout=30).json()["build"] == b2
    for _ in range(2):               # the second answer comes from the answer cache
        assert server.select(LABELS_QUERY) == [{"label": LABEL.format(2)}]

    done = tdkg(seeded, "rollback")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b1
    assert requests.get(server.url + "/healthz", timeout=30).json()["build"] == b1
    assert server.select(LABELS_QUERY) == [{"label": LABEL.format(1)}]    # no stale answer
    last = store.read_history(seeded["state"])[-1]
    assert (last["action"], last["build"], last["previous"], last["undo"]) == (
        "rollback", b1, b2, True)

    prefix = unique_prefix(b2, [b1])
    assert len(prefix) < len(b2)
    done = tdkg(seeded, "rollback", prefix)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b2
    assert requests.get(server.url + "/healthz", timeout=30).json()["build"] == b2
    assert server.select(LABELS_QUERY) == [{"label": LABEL.format(2)}]
    assert history.listing(seeded["state"])["current"] == b2
    assert server.process.pid == pid and server.process.poll() is None


def test_rollback_of_an_unknown_build_lists_the_kept_ones(seeded):
    before = store.current_build(seeded["state"]).name
    events = len(store.read_history(seeded["state"]))
    done = tdkg(seeded, "rollback", "19990101T000000")
    assert done.returncode == 1
    assert "no kept build is called '19990101T000000'" in done.stderr
    assert seeded["b1"] in done.stderr and seeded["b2"] in done.stderr
    assert "Traceback" not in done.stderr
    ambiguous = tdkg(seeded, "rollback", os.path.commonprefix([seeded["b1"], seeded["b2"]]))
    assert ambiguous.returncode == 1 and "give more of the id" in ambiguous.stderr
    assert store.current_build(seeded["state"]).name == before
    assert len(store.read_history(seeded["state"])) == events


def test_rollback_waits_for_no_build(seeded):
    state = seeded["state"]
    before = store.current_build(state).name
    other = seeded["b1"] if before == seeded["b2"] else seeded["b2"]
    with store.exclusive(state):     # as a running build holds it
        done = tdkg(seeded, "rollback", other)
    assert done.returncode == 1
    assert "a build is running" in done.stderr and "nothing was rolled back" in done.stderr
    assert store.current_build(state).name == before


def test_serve_does_not_rebuild_what_was_rolled_back(seeded, tmp_path):
    """`tdkg serve` builds when the sources changed; sources left as they were when a rollback
    went back from their build are not stale, or a restart would undo the rollback."""
    from tdkg.pipeline.build import inputs_for, is_stale
    from tdkg.pipeline.load import digest
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "ontology").symlink_to(PROJECT / "ontology")
    shutil.copytree(seeded["data"][2], project / "data" / "ttl")
    settings = Settings(project_dir=project, state_dir=seeded["state"])
    b2_info = store.read_info(seeded["state"] / "builds" / seeded["b2"])
    assert digest(inputs_for(settings).all) == b2_info["digest"]
    serve(seeded, seeded["b1"])
    serve(seeded, seeded["b2"])
    assert not is_stale(settings)               # the sources of b2, which is served
    assert tdkg(seeded, "rollback").returncode == 0
    assert not is_stale(settings)               # rolled back from these sources on purpose
    (project / "data" / "ttl" / "zz-later.ttl").write_text("# an edit after the rollback\n")
    assert is_stale(settings)                   # new sources: build them


# --- /builds ---------------------------------------------------------------------------------------

def test_builds_page_json(seeded, server):
    serve(seeded, seeded["b2"])
    response = requests.get(server.url + "/builds", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-cache"
    found = response.json()
    assert found["current"] == seeded["b2"] and found["keep"] == 5
    assert [b["id"] for b in found["builds"]] == [
        b["id"] for b in history.listing(seeded["state"])["builds"]]
    current = next(b for b in found["builds"] if b["current"])
    (count,) = server.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert current["stats"]["triples"] == int(count["n"])
    for entry in found["builds"]:
        assert entry["href"] == f"/builds/{entry['id']}"
        one = requests.get(server.url + entry["href"], timeout=30)
        assert one.status_code == 200 and one.json() == entry
    assert found["history"][-1]["build"] == seeded["b2"]
    head = requests.head(server.url + "/builds", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == response.headers["Content-Type"]


def test_builds_page_html(seeded, server):
    serve(seeded, seeded["b2"])
    response = requests.get(server.url + "/builds", headers={"Accept": "text/html"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    rows = {build_id: marker for marker, build_id in
            re.findall(r'<tr class="build( current)?" id="([^"]+)"', page)}
    assert rows == {seeded["b2"]: " current", seeded["b1"]: ""}
    for name in ("b1", "b2"):
        info = store.read_info(seeded["state"] / "builds" / seeded[name])
        assert info["digest"][:history.SHORT_DIGEST] in page
        assert f"{info['stats']['triples']:,}" in page
    assert 'href="/static/tdkg.css' in page and "Build history" in page
    head = requests.head(server.url + "/builds", headers={"Accept": "text/html"}, timeout=30)
    assert head.status_code == 200 and head.headers["Content-Type"].startswith("text/html")
    redirect = requests.get(f"{server.url}/builds/{seeded['b1']}", allow_redirects=False,
                            headers={"Accept": "text/html"}, timeout=30)
    assert redirect.status_code == 303 and redirect.headers["Location"].endswith(
        f"/builds#{seeded['b1']}")


def test_builds_unknown_ids_are_404(seeded, server):
    for path in ("/builds/19990101T000000-1-000001", "/builds/19990101T000000-1-000001/changes",
                 f"/builds/{seeded['b0']}", f"/builds/{seeded['b0']}/changes"):   # b0: pruned
        response = requests.get(server.url + path, timeout=30)
        assert response.status_code == 404, path
        assert "no kept build" in response.json()["error"]["message"]
    for path in ("/builds/..%2Fcurrent/changes", "/builds/../current/changes"):
        assert requests.get(server.url + path, timeout=30).status_code == 404
    page = requests.get(server.url + f"/builds/{seeded['b0']}/changes",
                        headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")


def test_changes_link(seeded, server):
    from tdkg.curation import diff
    if not hasattr(diff, "compare"):
        pytest.skip("helper diff's tdkg.curation.diff.compare (which writes changes.json at "
                    "build time) has not landed")
    found = requests.get(server.url + "/builds", timeout=30).json()
    newer = next(b for b in found["builds"] if b["id"] == seeded["b2"])
    recorded = json.loads((seeded["state"] / "builds" / seeded["b2"] / history.CHANGES)
                          .read_text(encoding="utf-8"))
    assert newer["changes"] == f"/builds/{seeded['b2']}/changes"
    assert newer["replaced"] == recorded["old"]["id"] == seeded["b1"]
    as_json = requests.get(server.url + newer["changes"], timeout=30)
    assert as_json.status_code == 200 and as_json.json() == recorded
    as_text = requests.get(server.url + newer["changes"], headers={"Accept": "text/plain"},
                           timeout=30)
    assert as_text.headers["Content-Type"].startswith("text/plain")
    assert as_text.text == diff.render_text(recorded)
    assert LABEL.format(2) in as_text.text
    as_html = requests.get(server.url + newer["changes"], headers={"Accept": "text/html"},
                           timeout=30)
    assert as_html.status_code == 200
    assert diff.render_text(recorded).strip() in unescape(as_html.text)
    head = requests.head(server.url + newer["changes"], timeout=30)
    assert head.status_code == 200 and head.content == b""
    bad = requests.get(server.url + newer["changes"], params={"format": "xml"}, timeout=30)
    assert bad.status_code == 406


def test_builds_page_in_chromium(seeded, server, page, screenshot, offsite_requests):
    serve(seeded, seeded["b2"])
    page.goto(server.url + "/builds")
    current = page.locator("tr.build.current")
    assert current.count() == 1
    assert current.get_attribute("id") == seeded["b2"]
    assert "served" in current.inner_text()
    assert page.locator("tr.build").count() == 2
    path = screenshot("builds")
    assert path.stat().st_size > 10_000
    if (seeded["state"] / "builds" / seeded["b2"] / history.CHANGES).is_file():
        current.locator("a.changes").click()
        page.wait_for_url(f"**/builds/{seeded['b2']}/changes")
        assert LABEL.format(2) in page.locator("pre.changes").inner_text()
        screenshot("changes")
    assert offsite_requests == []


# --- pruning and the undo order, on folders without stores ----------------------------------------

def fake_build(root: Path, name: str, published: str | None) -> Path:
    folder = root / "builds" / name
    folder.mkdir(parents=True)
    (folder / "build.json").write_text(json.dumps({"created": published or "2030-01-01T00:00:00Z",
                                                   "digest": name, "stats": {"triples": 1}}))
    if published:
        (folder / store.PUBLISHED).write_text(published + "\n")
    return folder


def test_prune_keeps_the_newest_published_and_the_served_one(tmp_path):
    names = [f"2026010{d}T000000-1-000001" for d in range(1, 7)]
    for day, name in enumerate(names, 1):
        fake_build(tmp_path, name, f"2026-01-0{day}T00:00:00.000000Z")
    (tmp_path / store.HISTORY).write_text("")      # publications are recorded here
    making = fake_build(tmp_path, "20260107T000000-1-000001", None)   # not published yet
    os.symlink(os.path.relpath(tmp_path / "builds" / names[0], tmp_path), tmp_path / "current")
    store.prune(tmp_path, keep=2)
    assert sorted(p.name for p in (tmp_path / "builds").iterdir()) == sorted(
        [names[0], names[4], names[5], making.name])   # served, 2 newest, the one being made
    assert [e["id"] for e in history.builds(tmp_path)] == [names[5], names[4], names[0]]


def test_builds_published_before_the_history_are_adopted(tmp_path):
    """A state folder from before history.jsonl: its complete builds had all been published."""
    names = ["20260101T000000-1-000001", "20260102T000000-1-000001", "20260103T000000-1-000001"]
    for day, name in enumerate(names, 1):
        folder = tmp_path / "builds" / name
        folder.mkdir(parents=True)
        (folder / "build.json").write_text(json.dumps({"created": f"2026-01-0{day}T00:00:00Z"}))
    os.symlink(os.path.relpath(tmp_path / "builds" / names[2], tmp_path), tmp_path / "current")
    assert [e["id"] for e in history.builds(tmp_path)] == names[::-1]   # read, nothing written
    assert not (tmp_path / store.HISTORY).exists()
    assert history.previous_build(tmp_path) == names[1]
    store.prune(tmp_path, keep=2)
    assert sorted(p.name for p in (tmp_path / "builds").iterdir()) == names[1:]
    assert [e["action"] for e in store.read_history(tmp_path)] == ["adopt"] * 3


def test_plain_rollbacks_step_back_through_publications():
    events = [{"action": "publish", "build": b} for b in "ABC"]
    assert history.undo_stack(events) == ["A", "B", "C"]
    events.append({"action": "rollback", "build": "B", "undo": True})
    assert history.undo_stack(events) == ["A", "B"]           # the next plain one goes to A
    events.append({"action": "publish", "build": "D"})
    assert history.undo_stack(events) == ["A", "B", "D"]      # undoing D returns to B, not C
    events.append({"action": "rollback", "build": "A", "undo": False})
    assert history.undo_stack(events) == ["A", "B", "D", "A"]  # a rollback by id is undone too
