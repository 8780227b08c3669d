"""Scale-out over a real Oxigraph server: atomic publication to the store, faults of the store,
and three `tdkg serve` replicas behind a real HAProxy (Debian's haproxy).

One store, one shared state folder, three front ends and one balancer for the whole module; the
tests run in file order (the last ones stop the store and kill a front end).
"""
from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import external_stores
import pytest
import requests
from store_kinds import shipped, store_env
from support import PROJECT, TDKG, Server, run_tdkg

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
POLL = "0.5"        # TDKG_STORE_POLL of the front ends: how soon they see a new build
BUILD_FLAGS = ("--no-owl-files", "--no-downloads", "--skip-validation")


def variant_data(folder: Path, n: int) -> Path:
    """A copy of data/ttl/ with ``n`` altLabels of its own (so each build has its own size)."""
    shutil.copytree(PROJECT / "data" / "ttl", folder)
    lines = "".join(f'tdi:turkiye skos:altLabel "Scale-out test {n}.{i}"@en .\n'
                    for i in range(n))
    (folder / "zz-scale-out.ttl").write_text(
        "@prefix tdi: <https://w3id.org/tdkg/id/> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n" + lines, encoding="utf-8")
    return folder


def build(cluster: dict, n: int) -> str:
    data = variant_data(cluster["root"] / f"data-{n}-{time.monotonic_ns()}", n)
    done = run_tdkg("build", "--state-dir", str(cluster["state"]), "--data-dir", str(data),
                    *BUILD_FLAGS, env=cluster["env"])
    assert done.returncode == 0, done.stderr
    return re.search(r"published (\S+):", done.stderr).group(1)


def start_build(cluster: dict, n: int) -> subprocess.Popen:
    data = variant_data(cluster["root"] / f"data-{n}-{time.monotonic_ns()}", n)
    return subprocess.Popen([*TDKG, "build", "--state-dir", str(cluster["state"]),
                             "--data-dir", str(data), *BUILD_FLAGS], cwd=PROJECT,
                            env={**os.environ, **cluster["env"]}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def control(store: external_stores.Store) -> dict[str, list[str]]:
    """The store's control graph, read directly: {"published": [...], "loaded": [...]}."""
    answer = store.query("SELECT ?p ?o WHERE { GRAPH <urn:tdkg:control> { ?s ?p ?o } }").json()
    found: dict[str, list[str]] = {"published": [], "loaded": []}
    for row in answer["results"]["bindings"]:
        if row["p"]["value"] == "urn:tdkg:published":
            found["published"].append(row["o"]["value"])
    rows = store.query("SELECT ?s WHERE { GRAPH <urn:tdkg:control> "
                       "{ ?s <urn:tdkg:loaded> ?t } }").json()["results"]["bindings"]
    found["loaded"] = sorted(r["s"]["value"].removeprefix("urn:tdkg:build:") for r in rows)
    return found


def store_graphs(store: external_stores.Store) -> set[str]:
    rows = store.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").json()
    return {r["g"]["value"] for r in rows["results"]["bindings"]}


def builds_in(store: external_stores.Store) -> set[str]:
    """The ids of the builds that have graphs in ``store``."""
    return {g.split(":")[3] for g in store_graphs(store) if g.startswith("urn:tdkg:build:")}

@contextlib.contextmanager
def readers(count: int, step, rounds: int = 20_000):
    """``count`` threads calling ``step(reader, i)`` until the block ends (at most ``rounds``
    calls each); they are stopped and joined however the block ends."""
    stop = threading.Event()

    def loop(reader: int) -> None:
        for i in range(rounds):
            if stop.is_set():
                return
            step(reader, i)

    threads = [threading.Thread(target=loop, args=(r,)) for r in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)



def wait_for_load_to_start(store: external_stores.Store, known: set[str],
                           build: subprocess.Popen, deadline_s: float = 120) -> str:
    """The id of a build whose load into ``store`` has begun, once its first graph has triples
    (bounded by ``deadline_s``)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and build.poll() is None:
        for graph in store_graphs(store):
            match = re.match(r"urn:tdkg:build:([^:]+):", graph)
            if match and match.group(1) not in known:
                return match.group(1)
        time.sleep(0.02)
    raise AssertionError(f"no load began within {deadline_s} s: {build.communicate()}")


def count_and_build(url: str) -> tuple[int, str]:
    response = requests.get(url + "/sparql", params={"query": COUNT}, timeout=30,
                            headers={"Accept": "application/sparql-results+json",
                                     "Cache-Control": "no-cache"})
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"]), \
        response.headers["TDKG-Build"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("scale-out")
    with external_stores.oxigraph_server(root / "store") as store:
        env = store_env(store, TDKG_STORE_POLL=POLL)
        cluster = {"root": root, "state": root / "var", "store": store, "env": env}
        cluster["first"] = build(cluster, 1)
        fronts = [Server(cluster["state"], "--query-workers", "2", env=env) for _ in range(3)]
        cluster["fronts"] = fronts
        try:
            with external_stores.haproxy([f"127.0.0.1:{f.port}" for f in fronts],
                                         root / "balancer") as balancer:
                cluster["balancer"] = balancer
                yield cluster
        finally:
            for front in fronts:
                front.stop()


def test_a_build_reaches_every_replica_and_no_answer_mixes_builds(cluster):
    """Readers through the balancer while a build is published: every answer's triple count
    is the count of the build it names, and every replica moves to the new build."""
    before = cluster["first"]
    expected = {before: count_and_build(cluster["fronts"][0].url)[0]}
    seen: list[tuple[int, str]] = []
    failures: list[str] = []

    def read(reader: int, i: int) -> None:
        try:
            seen.append(count_and_build(cluster["balancer"].url))
        except (AssertionError, requests.RequestException) as err:
            failures.append(str(err))

    with readers(2, read):
        after = build(cluster, 2)
        published = time.monotonic()
        moved = {}
        while len(moved) < 3 and time.monotonic() - published < 15:
            for i, front in enumerate(cluster["fronts"]):
                if i not in moved and requests.get(front.url + "/healthz",
                                                   timeout=10).json()["build"] == after:
                    moved[i] = time.monotonic() - published
            time.sleep(0.05)
        time.sleep(0.5)
    assert len(moved) == 3, f"replicas on the new build after 15 s: {moved}"
    assert max(moved.values()) < 3 * float(POLL) + 2
    expected[after] = count_and_build(cluster["fronts"][1].url)[0]
    assert expected[after] == expected[before] + 1
    assert not failures, failures[:3]
    assert {b for _, b in seen} == {before, after}
    mixed = [(n, b) for n, b in seen if n != expected[b]]
    assert not mixed, mixed[:5]
    assert control(cluster["store"]) == {"published": [after],
                                         "loaded": sorted([before, after])}
    cluster["served"] = after


def test_older_builds_are_dropped_after_the_switch(cluster):
    """The build before the one served is kept (answers under way may read it); older ones
    are dropped from the store."""
    oldest, previous = cluster["first"], cluster["served"]
    newest = build(cluster, 3)
    state = control(cluster["store"])
    assert state == {"published": [newest], "loaded": sorted([previous, newest])}
    graphs = store_graphs(cluster["store"])
    assert not any(oldest in g for g in graphs)
    # default + ontology, asserted, inferred + the build's files
    assert sum(newest in g for g in graphs) == 5
    cluster["served"] = newest


def test_a_front_end_with_a_state_folder_of_its_own_fetches_each_build_from_the_store(cluster):
    """A front end on another machine, whose state folder starts empty: it fetches the folder
    of the published build from the store, moves to the next build by itself (fetching it too)
    and drops the fetched folder of a build the store no longer holds. The folder it fetched
    is the builder's, file for file, and explanations come from it."""
    served = cluster["served"]
    elsewhere = cluster["root"] / "elsewhere" / "var"
    elsewhere.mkdir(parents=True)
    front = Server(elsewhere, env=cluster["env"])
    try:
        assert count_and_build(front.url) == count_and_build(cluster["fronts"][0].url)
        mine = elsewhere / "builds" / served
        assert (mine / "fetched").is_file() and not (mine / "store").exists()
        assert shipped(mine) == shipped(cluster["state"] / "builds" / served)
        inferred = front.select("SELECT ?s ?o WHERE { GRAPH <https://w3id.org/tdkg/graph/inferred>"
                                " { ?s a ?o } } LIMIT 1")[0]
        why = requests.get(front.url + "/why", timeout=30, headers={"Accept": "application/json"},
                           params={"s": inferred["s"], "p": RDF_TYPE, "o": inferred["o"]})
        assert why.status_code == 200 and why.json()["found"], why.text
        newest = build(cluster, 7)
        deadline = time.monotonic() + 15
        while count_and_build(front.url)[1] != newest and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count_and_build(front.url) == count_and_build(cluster["fronts"][0].url)
        assert "published" not in requests.get(front.url + "/healthz", timeout=30).json()["store"]
        assert {p.name for p in (elsewhere / "builds").iterdir()} == {served, newest}
        third = build(cluster, 8)       # the store drops `served`: so does the front end
        deadline = time.monotonic() + 15
        while count_and_build(front.url)[1] != third and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {p.name for p in (elsewhere / "builds").iterdir()} == {newest, third}
    finally:
        front.stop()
    cluster["served"] = third


def test_a_damaged_build_in_the_store_is_never_served_and_heals_when_repaired(cluster):
    """A chunk of the served build's files changed in the store: a front end with an empty
    state folder refuses it (a 503 that names the damaged file, nothing left in its folder);
    once the chunk is put back, it serves the build, with nothing restarted."""
    served, store = cluster["served"], cluster["store"]
    graph = f"urn:tdkg:build:{served}:files"
    found = store.query(f"SELECT ?c ?d WHERE {{ GRAPH <{graph}> {{ ?f <urn:tdkg:file:path> "
                        f'"build.json" ; <urn:tdkg:file:content> ?k . ?c <urn:tdkg:file:data> ?d'
                        f' }} FILTER (STR(?c) = CONCAT(STR(?k), ":0")) }}'
                        ).json()["results"]["bindings"]
    chunk, data = found[0]["c"]["value"], found[0]["d"]["value"]
    damaged = base64.b64encode(base64.b64decode(data).replace(b"{", b"[", 1)).decode()
    swap = ("DELETE DATA {{ GRAPH <{g}> {{ <{c}> <urn:tdkg:file:data> \"{old}\"^^<{t}> }} }} ; "
            "INSERT DATA {{ GRAPH <{g}> {{ <{c}> <urn:tdkg:file:data> \"{new}\"^^<{t}> }} }}")
    b64 = "http://www.w3.org/2001/XMLSchema#base64Binary"
    assert store.update(swap.format(g=graph, c=chunk, old=data, new=damaged, t=b64)).ok
    elsewhere = cluster["root"] / "damaged" / "var"
    elsewhere.mkdir(parents=True)
    front = Server(elsewhere, env=cluster["env"], wait=False)
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):     # until it listens
                health = requests.get(front.url + "/healthz", timeout=30)
                if "last attempt failed" in health.text:
                    break
            time.sleep(0.2)
        assert health is not None, front.output()
        assert health.status_code == 503
        assert "build.json fetched from the store is damaged" in health.json()["error"]
        assert front.sparql(COUNT).status_code == 503
        assert [p.name for p in (elsewhere / "builds").iterdir()
                if not p.name.startswith(".")] == []
        assert store.update(swap.format(g=graph, c=chunk, old=damaged, new=data, t=b64)).ok
        front.wait_ready(30)
        assert count_and_build(front.url) == count_and_build(cluster["fronts"][0].url)
    finally:
        front.stop()


def test_a_build_killed_during_its_load_leaves_the_old_build_served(cluster):
    served, store = cluster["served"], cluster["store"]
    known = builds_in(store)
    process = start_build(cluster, 4)
    try:
        killed = wait_for_load_to_start(store, known, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    assert control(store)["published"] == [served]
    for front in cluster["fronts"]:
        assert count_and_build(front.url)[1] == served
    # the next build drops what the killed one left, in the store and in the state folder
    newest = build(cluster, 5)
    assert not any(killed in g for g in store_graphs(store))
    assert killed not in control(store)["loaded"]
    assert not (cluster["state"] / "builds" / killed).exists()
    cluster["served"] = newest


def test_a_store_stopped_during_a_load_fails_the_build_and_changes_nothing(cluster):
    served, store = cluster["served"], cluster["store"]
    known = builds_in(store)
    process = start_build(cluster, 6)
    try:
        wait_for_load_to_start(store, known, process)
        store.stop()
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        store.start()
    assert process.returncode != 0
    assert "SPARQL store" in stderr and store.base_url.split("//")[1] in stderr, stderr[-800:]
    assert control(store)["published"] == [served]
    assert os.readlink(cluster["state"] / "current").endswith(served)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if count_and_build(cluster["fronts"][0].url)[1] == served:
                break
        except AssertionError:
            time.sleep(0.2)
    assert count_and_build(cluster["fronts"][0].url)[1] == served


def test_a_stopped_store_is_a_503_naming_it_and_answers_resume_when_it_is_back(cluster):
    store, front = cluster["store"], cluster["fronts"][0]
    store.stop()
    try:
        time.sleep(float(POLL) + 0.2)
        answer = requests.get(front.url + "/sparql", timeout=30,
                              params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"},
                              headers={"Cache-Control": "no-cache"})
        assert answer.status_code == 503
        assert answer.json()["error"]["type"] == "store-unavailable"
        assert store.query_url in answer.json()["error"]["message"]
        health = requests.get(front.url + "/healthz", timeout=30)
        assert health.status_code == 503
        assert health.json()["store"]["reachable"] is False
        assert health.json()["store"]["url"] == store.query_url
    finally:
        store.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if requests.get(front.url + "/healthz", timeout=30).status_code == 200:
            break
        time.sleep(0.2)
    assert count_and_build(front.url)[1] == cluster["served"]


def test_one_of_three_front_ends_killed_under_load_fails_no_request(cluster):
    balancer, fronts = cluster["balancer"], cluster["fronts"]
    deadline = time.monotonic() + 30       # after the store's stop, the checks bring all back
    while set(balancer.backend_states().values()) != {"UP"}:
        assert time.monotonic() < deadline, balancer.backend_states()
        time.sleep(0.2)
    results: list[int] = []
    errors: list[str] = []

    def read(worker: int, i: int) -> None:
        query = f"SELECT ?s WHERE {{ ?s ?p ?o }} LIMIT {1 + (worker * 20_000 + i) % 500}"
        try:
            response = requests.get(balancer.url + "/sparql", params={"query": query},
                                    timeout=30, headers={"Cache-Control": "no-cache"})
            results.append(response.status_code)
        except requests.RequestException as err:
            errors.append(str(err))

    with readers(4, read):
        time.sleep(2)
        os.killpg(fronts[1].process.pid, signal.SIGKILL)
        killed_at = len(results)
        time.sleep(4)
    assert not errors, errors[:3]
    assert len(results) > killed_at + 20
    assert set(results) == {200}, {s: results.count(s) for s in set(results)}
    assert balancer.backend_states()["front2"].startswith("DOWN")


def test_an_embedded_replica_serves_a_shipped_copy_of_the_build(built_state, live_server,
                                                                tmp_path):
    """docs/deploy.md's recipe for replicas of the embedded store: copy the immutable build
    folder, switch `current` in one rename, serve. The replica answers as the original."""
    build_dir = Path(os.path.realpath(built_state / "current"))
    replica = tmp_path / "replica" / "var"
    (replica / "builds").mkdir(parents=True)
    subprocess.run(["cp", "-a", str(build_dir), str(replica / "builds")], check=True, timeout=120)
    os.symlink(f"builds/{build_dir.name}", replica / ".current-new")
    os.replace(replica / ".current-new", replica / "current")
    server = Server(replica)
    try:
        for query in (COUNT, "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"):
            assert server.select(query) and \
                sorted(map(str, server.select(query))) == sorted(map(str, live_server.select(query)))
        assert count_and_build(server.url)[1] == build_dir.name
    finally:
        server.stop()


HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }"


def _saturate(balancer, seconds: float, until_down: bool = False) -> tuple[set[str], list[int]]:
    """Four clients sending queries that run to the front end's deadline through ``balancer``
    for ``seconds`` (or, ``until_down``, until HAProxy marks it DOWN): the front end's states
    seen meanwhile, and the answers' statuses."""
    states: set[str] = set()
    statuses: list[int] = []

    def read(reader: int, i: int) -> None:
        try:
            statuses.append(requests.get(balancer.url + "/sparql", params={"query": HEAVY},
                                         timeout=30).status_code)
        except requests.RequestException:
            statuses.append(0)

    with readers(4, read, rounds=100):
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            states.add(balancer.backend_states()["front1"].split()[0])
            if until_down and "DOWN" in states:
                break
            time.sleep(0.1)
    return states, statuses


def test_a_front_end_with_every_thread_busy_is_not_taken_for_a_dead_one(built_state, tmp_path):
    """ops/haproxy.cfg.template sends a front end at most one request fewer than its threads:
    with every request running to the deadline, its /healthz still answers, HAProxy keeps it
    up and queues the rest. Without that limit the same load takes it out, and the clients get
    HAProxy's own 503s."""
    front = Server(built_state, env={"TDKG_THREADS": "2", "TDKG_TIMEOUT": "2"})
    try:
        address = [f"127.0.0.1:{front.port}"]
        with external_stores.haproxy(address, tmp_path / "limited", maxconn=1) as balancer:
            states, statuses = _saturate(balancer, 6)
        assert states == {"UP"}, states
        assert statuses and set(statuses) == {503}      # the front end's deadline, every one
        with external_stores.haproxy(address, tmp_path / "open", maxconn=100) as balancer:
            states, _ = _saturate(balancer, 8, until_down=True)
        assert "DOWN" in states, states
    finally:
        front.stop()
