"""What a query worker process does: run one SPARQL operation on the store and serialize it.

This module has no Flask in it: it is run in the killable worker processes of :mod:`.pool`
(and can be called directly in tests). Jobs and answers are plain dicts so they pickle cheaply.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pyoxigraph as ox

from tdkg.stores.errors import (
    ExtensionRefused,
    ReadOnlyStore,
    StoreRefused,
    StoreUnavailable,
)

from . import results, sandbox


def _graph(name: str) -> ox.NamedNode | ox.DefaultGraph:
    return ox.DefaultGraph() if name == "" else ox.NamedNode(name)


def dataset_args(job: dict) -> dict:
    """pyoxigraph keyword arguments for the dataset the endpoint chose (None: the query's own)."""
    args = {}
    if job.get("default_graph") is not None:
        args["default_graph"] = [_graph(g) for g in job["default_graph"]]
    if job.get("named_graphs") is not None:
        args["named_graphs"] = [ox.NamedNode(g) for g in job["named_graphs"]]
    return args


def run_query(store: ox.Store, job: dict) -> dict:
    fmt, cap = job.get("fmt"), job["cap"]
    args = {"base_iri": job.get("base_iri"), "prefixes": job.get("prefixes"),
            **dataset_args(job)}
    answer = None
    if fmt in (None, "json") and hasattr(store, "query_json"):
        # a remote store's own JSON answer, passed through (a JsonAnswer, a named tuple) when
        # it fits under the cap; None for a graph form, nothing sent yet
        answer = store.query_json(job["text"], cap, **args)
        if isinstance(answer, tuple):
            return {"kind": answer.kind, "fmt": "json", "body": answer.body,
                    "count": answer.count, "truncated": False}
    if answer is None:
        answer = store.query(job["text"], **args)
    if isinstance(answer, ox.QueryBoolean):
        fmt = fmt if fmt in results.RESULTS_FORMAT else "json"
        return {"kind": "boolean", "fmt": fmt, "body": results.boolean(answer, fmt),
                "count": 1, "truncated": False}
    if isinstance(answer, ox.QuerySolutions):
        fmt = fmt if fmt in results.RESULTS_FORMAT else "json"
        native = None
        if fmt == "json" and isinstance(store, ox.Store):
            native = results.native_json(answer, cap)
            if native is None:          # too large for its buffer: evaluated again, then cut
                answer = store.query(job["text"], **args)
        body, count, truncated = native or results.solutions(answer, fmt, cap)
        return {"kind": "bindings", "fmt": fmt, "body": body, "count": count, "truncated": truncated}
    fmt = fmt if fmt in results.RDF_FORMAT else "turtle"
    body, count, truncated = results.graph(answer, fmt, cap)
    return {"kind": "graph", "fmt": fmt, "body": body, "count": count, "truncated": truncated}


def run_update(store: ox.Store, job: dict) -> dict:
    store.update(job["text"], base_iri=job.get("base_iri"), prefixes=job.get("prefixes"))
    store.flush()
    return {"kind": "update", "fmt": None, "body": b"", "count": 0, "truncated": False}


def run_why(store: ox.Store, job: dict) -> dict:
    from tdkg.pipeline import derivations

    from . import resource
    build_dir = Path(job["store_path"]).parent
    graphs = [ox.NamedNode(g) for g in job["default_graph"]]
    tree = derivations.why(build_dir, store, graphs, *job["triple"])
    answer = {"found": tree is not None, "explanation": tree}
    if tree is not None:
        answer["labels"] = resource.labels_in(store, tree)
    body = json.dumps(answer, ensure_ascii=False)
    return {"kind": "why", "fmt": "json", "body": body.encode(), "count": int(tree is not None),
            "truncated": False}


# --- the SPARQL 1.1 Graph Store HTTP Protocol (the HTTP side is :mod:`.graph_store`) ----------

def _merged(store: ox.Store, graphs: list[str]) -> list[ox.Triple]:
    """The RDF merge of ``graphs``: each triple once, grouped by subject for readable Turtle."""
    seen = dict.fromkeys(q.triple for name in graphs
                         for q in store.quads_for_pattern(None, None, None, _graph(name)))
    return sorted(seen, key=lambda t: (str(t.subject), str(t.predicate)))


def _missing(store: ox.Store, name: str) -> bool:
    """A named graph the store does not know (the default graph always exists)."""
    return name != "" and not store.contains_named_graph(ox.NamedNode(name))


def graph_get(store: ox.Store, job: dict) -> dict:
    if job["named"] and _missing(store, job["graphs"][0]):
        return {"kind": "missing", "fmt": None, "body": b"", "count": 0, "truncated": False}
    triples = _merged(store, job["graphs"])
    body, count, _ = results.graph(triples, job["fmt"], len(triples))
    return {"kind": "graph", "fmt": job["fmt"], "body": body, "count": count, "truncated": False}


def _parse_payloads(job: dict) -> list[ox.Triple] | dict:
    """Every triple of the request's payloads (parts), or an "invalid" answer naming the first
    syntax error; nothing is written before all of them parse."""
    triples = []
    for part, (syntax, data) in enumerate(job["payloads"], 1):
        try:
            triples += [q.triple for q in ox.parse(data, format=results.RDF_FORMAT[syntax],
                                                   base_iri=job["base_iri"],
                                                   without_named_graphs=True,
                                                   rename_blank_nodes=True)]
        except SyntaxError as err:
            return {"kind": "invalid", "fmt": None, "body": b"", "count": 0, "truncated": False,
                    "syntax": syntax, "part": part, "message": str(err),
                    "line": err.lineno, "column": err.offset}
    return triples


def _write_graph(store: ox.Store, job: dict, replace: bool) -> dict:
    """PUT (``replace``) or POST (merge) ``job["payloads"]`` into ``job["graph"]``, in one
    SPARQL Update so that the change is all or nothing."""
    triples = _parse_payloads(job)
    if isinstance(triples, dict):
        return triples
    name = job["graph"]
    created = _missing(store, name)
    target = "DEFAULT" if name == "" else f"GRAPH {ox.NamedNode(name)}"
    steps = [f"CLEAR SILENT {target}"] if replace else []
    if name != "":
        steps.append(f"CREATE SILENT {target}")
    if triples:
        data = "\n".join(f"{t.subject} {t.predicate} {t.object} ." for t in triples)
        block = data if name == "" else f"{target} {{\n{data}\n}}"
        steps.append(f"INSERT DATA {{\n{block}\n}}")
    store.update(" ;\n".join(steps))
    store.flush()
    return {"kind": "written", "fmt": None, "body": b"", "count": len(triples),
            "truncated": False, "created": created}


def graph_put(store: ox.Store, job: dict) -> dict:
    return _write_graph(store, job, replace=True)


def graph_post(store: ox.Store, job: dict) -> dict:
    return _write_graph(store, job, replace=False)


def graph_delete(store: ox.Store, job: dict) -> dict:
    name = job["graph"]
    if _missing(store, name):
        return {"kind": "missing", "fmt": None, "body": b"", "count": 0, "truncated": False}
    if name == "":
        store.clear_graph(ox.DefaultGraph())
    else:
        store.remove_graph(ox.NamedNode(name))
    store.flush()
    return {"kind": "deleted", "fmt": None, "body": b"", "count": 0, "truncated": False}


def _page_op(name: str):
    """An operation of :mod:`.resource` (the pages), imported on first use: a worker that only
    answers queries never loads it (nor the pipeline modules it needs)."""
    def run_op(store: ox.Store, job: dict) -> dict:
        from . import resource
        return getattr(resource, name)(store, job)
    run_op.__name__ = name
    return run_op


OPERATIONS = {"query": run_query, "update": run_update, "why": run_why,
              "describe": _page_op("describe_rdf"), "page": _page_op("page_model"),
              "ontology": _page_op("ontology_rdf"), "exists": _page_op("exists_op"),
              "graph_get": graph_get, "graph_put": graph_put, "graph_post": graph_post,
              "graph_delete": graph_delete}


def run(store: ox.Store, job: dict) -> tuple:
    """('ok', answer) or ('error', kind, message); kinds: syntax, eval, memory."""
    started = time.perf_counter()
    try:
        answer = OPERATIONS[job["op"]](store, job)
    except SyntaxError as err:
        return ("error", "syntax", str(err))
    except StoreUnavailable as err:
        return ("error", "store", str(err))
    except (StoreRefused, ReadOnlyStore, ExtensionRefused) as err:
        kind = {StoreRefused: "refused", ReadOnlyStore: "read-only"}.get(type(err), "extension")
        return ("error", kind, str(err))
    except MemoryError:
        return ("error", "memory", "the answer did not fit in the query worker's memory")
    except (OSError, ValueError, TypeError, RuntimeError, sqlite3.Error) as err:
        return ("error", "eval", f"{type(err).__name__}: {err}")
    answer["elapsed"] = time.perf_counter() - started
    return ("ok", answer)


def open_store(spec):
    """The worker's store: the build's embedded store, or a view of the build in a remote
    SPARQL store (the same interface)."""
    if spec.remote is not None:
        from tdkg.stores.build_view import BuildView
        from tdkg.stores.sparql_store import QueryConnection
        remote = spec.remote
        return BuildView(QueryConnection(remote.query_url, remote.socket_path, remote.auth,
                                         remote.params), remote.build,
                         remote.timeout)
    return ox.Store(spec.path) if spec.writable else ox.Store.read_only(spec.path)


class Running:
    """Which job a worker runs, so that the pool can cancel that one and no other: a cancel
    names the job's number, and is applied under the same lock that starts and ends jobs."""

    def __init__(self, store):
        self.store = store
        self.lock = threading.Lock()
        self.seq: int | None = None

    def start(self, seq: int | None) -> None:
        with self.lock:
            self.seq = seq
            if hasattr(self.store, "begin"):
                self.store.begin()

    def end(self) -> None:
        with self.lock:
            self.seq = None

    def cancel(self, seq: int) -> None:
        with self.lock:
            if seq is not None and self.seq == seq and hasattr(self.store, "cancel"):
                self.store.cancel()


def serve(conn, spec, control=None) -> None:
    """Worker process main: confine this process while it is single-threaded (no network, the
    memory ceiling), open the store once, then answer jobs until the pipe closes. Jobs run on a
    thread with a large stack, so that deeply nested queries cannot overflow it (the query size
    and nesting limits of :mod:`.guard` keep them below what that stack holds). Over a remote
    store the main thread meanwhile reads ``control``: ``("cancel", n)`` stops job ``n``'s store
    call by closing its connection, so the pool keeps the worker instead of killing it."""
    status = sandbox.confine() if spec.sandbox else {"confined": False}
    if spec.memory_mib:
        sandbox.limit_memory(spec.memory_mib)
    status["memory_mib"] = spec.memory_mib
    try:
        store = open_store(spec)
    except OSError as err:
        conn.send(("failed", f"cannot open the store {spec.path}: {err}"))
        return
    conn.send(("ready", status))
    threading.stack_size(spec.stack_mib * 1024 * 1024)
    running = Running(store)
    loop = threading.Thread(target=_answer_jobs, args=(conn, store, spec.path, running),
                            name="tdkg-evaluate")
    loop.start()
    while control is not None and loop.is_alive():
        try:
            if control.poll(0.5):
                message = control.recv()
                if message[0] == "cancel":
                    running.cancel(message[1])
        except (EOFError, OSError):
            break
    loop.join()


def _answer_jobs(conn, store: ox.Store, path: str, running: Running) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        job.setdefault("store_path", path)
        running.start(job.get("seq"))
        try:
            conn.send(("started",))     # the pool tells a worker that died idle by its absence
        except OSError:
            return
        outcome = run(store, job)
        running.end()
        try:
            conn.send(outcome)
        except OSError:
            return
        if outcome[:2] == ("error", "memory"):
            return
