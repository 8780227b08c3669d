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

from tdkg.pipeline import derivations

from . import resource, results, sandbox


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
    answer = store.query(job["text"], base_iri=job.get("base_iri"), prefixes=job.get("prefixes"),
                         **dataset_args(job))
    fmt, cap = job.get("fmt"), job["cap"]
    if isinstance(answer, ox.QueryBoolean):
        fmt = fmt if fmt in results.RESULTS_FORMAT else "json"
        return {"kind": "boolean", "fmt": fmt, "body": results.boolean(answer, fmt),
                "count": 1, "truncated": False}
    if isinstance(answer, ox.QuerySolutions):
        fmt = fmt if fmt in results.RESULTS_FORMAT else "json"
        body, count, truncated = results.solutions(answer, fmt, cap)
        return {"kind": "bindings", "fmt": fmt, "body": body, "count": count, "truncated": truncated}
    fmt = fmt if fmt in results.RDF_FORMAT else "turtle"
    body, count, truncated = results.graph(answer, fmt, cap)
    return {"kind": "graph", "fmt": fmt, "body": body, "count": count, "truncated": truncated}


def run_update(store: ox.Store, job: dict) -> dict:
    store.update(job["text"], base_iri=job.get("base_iri"), prefixes=job.get("prefixes"))
    store.flush()
    return {"kind": "update", "fmt": None, "body": b"", "count": 0, "truncated": False}


def run_why(store: ox.Store, job: dict) -> dict:
    build_dir = Path(job["store_path"]).parent
    graphs = [ox.NamedNode(g) for g in job["default_graph"]]
    tree = derivations.why(build_dir, store, graphs, *job["triple"])
    answer = {"found": tree is not None, "explanation": tree}
    if tree is not None:
        answer["labels"] = resource.labels_in(store, tree)
    body = json.dumps(answer, ensure_ascii=False)
    return {"kind": "why", "fmt": "json", "body": body.encode(), "count": int(tree is not None),
            "truncated": False}


OPERATIONS = {"query": run_query, "update": run_update, "why": run_why,
              "describe": resource.describe_rdf, "page": resource.page_model,
              "ontology": resource.ontology_rdf, "exists": resource.exists_op}


def run(store: ox.Store, job: dict) -> tuple:
    """('ok', answer) or ('error', kind, message); kinds: syntax, eval, memory."""
    started = time.perf_counter()
    try:
        answer = OPERATIONS[job["op"]](store, job)
    except SyntaxError as err:
        return ("error", "syntax", str(err))
    except MemoryError:
        return ("error", "memory", "the answer did not fit in the query worker's memory")
    except (OSError, ValueError, TypeError, RuntimeError, sqlite3.Error) as err:
        return ("error", "eval", f"{type(err).__name__}: {err}")
    answer["elapsed"] = time.perf_counter() - started
    return ("ok", answer)


def open_store(path: str, writable: bool) -> ox.Store:
    return ox.Store(path) if writable else ox.Store.read_only(path)


def serve(conn, spec) -> None:
    """Worker process main: confine this process while it is single-threaded (no network, the
    memory ceiling), open the store once, then answer jobs until the pipe closes. Jobs run on a
    thread with a large stack, so that deeply nested queries cannot overflow it (the query size
    and nesting limits of :mod:`.guard` keep them below what that stack holds)."""
    status = sandbox.confine() if spec.sandbox else {"confined": False}
    if spec.memory_mib:
        sandbox.limit_memory(spec.memory_mib)
    status["memory_mib"] = spec.memory_mib
    try:
        store = open_store(spec.path, spec.writable)
    except OSError as err:
        conn.send(("failed", f"cannot open the store {spec.path}: {err}"))
        return
    conn.send(("ready", status))
    threading.stack_size(spec.stack_mib * 1024 * 1024)
    loop = threading.Thread(target=_answer_jobs, args=(conn, store, spec.path),
                            name="tdkg-evaluate")
    loop.start()
    loop.join()


def _answer_jobs(conn, store: ox.Store, path: str) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        job.setdefault("store_path", path)
        try:
            conn.send(("started",))     # the pool tells a worker that died idle by its absence
        except OSError:
            return
        outcome = run(store, job)
        try:
            conn.send(outcome)
        except OSError:
            return
        if outcome[:2] == ("error", "memory"):
            return
