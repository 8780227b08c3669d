"""Settings shared by the pipeline, the server and the command line.

Every setting has an environment variable (``TDKG_*``) and a command-line flag of the same
name; flags win over the environment, the environment over the defaults below. The README's
"Settings" table is generated from :data:`FIELDS` and checked by a test.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Settings:
    project_dir: Path = Path(".")
    state_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    timeout: float = 30.0
    max_results: int = 10_000
    max_body: int = 1_048_576
    max_query: int = 65_536
    max_depth: int = 128
    service_allowlist: tuple[str, ...] = ()
    update_token: str | None = None
    workers: int = 1
    threads: int = 8
    query_workers: int = 0
    short_query: float = 2.0
    worker_memory: int = 0
    sandbox: str = "required"
    allocator: str = "jemalloc"
    cache_entries: int = 2048
    cache_mib: int = 32
    keep_builds: int = 5
    store: str = "embedded"
    store_url: str = ""
    store_update_url: str = ""
    store_graph_url: str = ""
    store_graph_param: str = "graph"
    store_auth: str = "digest"
    store_poll: float = 1.0
    store_query_params: str = ""

    @property
    def store_root(self) -> Path:
        """Absolute, so that it means the same to every part of the server (Flask's send_file
        reads a relative path against the app's package folder, not the working folder)."""
        root = self.state_dir if self.state_dir is not None else self.project_dir / "var"
        return root.absolute()

    @property
    def ontology_dir(self) -> Path:
        return self.project_dir / "ontology"

    @property
    def data_dir(self) -> Path:
        return self.project_dir / "data" / "ttl"

    @property
    def updates_enabled(self) -> bool:
        return bool(self.update_token)

    @property
    def http_workers(self) -> int:
        """Updates run on one process over a writable store; reads on ``workers``."""
        return 1 if self.updates_enabled else self.workers

    @property
    def pool_size(self) -> int:
        """Query workers per HTTP worker process (one over a writable store). By default 3 over
        the embedded store, whose workers evaluate queries on the machine's cores; over a sparql
        store, whose workers wait on the store, one per thread, so that the front end passes its
        clients' concurrency on to the store instead of queueing them."""
        if self.updates_enabled:
            return 1
        if self.query_workers > 0:
            return self.query_workers
        return max(1, self.threads) if self.store == "sparql" else 3

    def worker_memory_mib(self, machine_bytes: int) -> int:
        """Each query worker's memory ceiling: the setting, or (0, the default) an equal share
        of half the machine's memory among every query worker of the server, at most 2 GiB."""
        if self.worker_memory > 0:
            return self.worker_memory
        workers = self.http_workers * (self.pool_size + (1 if self.service_allowlist else 0))
        share = machine_bytes // 2 // max(1, workers) // (1024 * 1024)
        return max(256, min(2048, share)) if share else 2048


#: field name → (help text, parser)
FIELDS: dict[str, tuple[str, type]] = {
    "project_dir": ("folder holding ontology/ and data/ttl/ (default: current folder)", Path),
    "state_dir": ("where builds and the live store are kept (default: PROJECT_DIR/var)", Path),
    "host": ("interface to bind; keep it on loopback", str),
    "port": ("TCP port of the HTTP server", int),
    "timeout": ("seconds a query may run before it is killed (503 with a message)", float),
    "max_results": ("most rows or triples in one answer; larger answers are cut and say so", int),
    "max_body": ("largest request body in bytes (413 above it)", int),
    "max_query": ("largest query or update text in bytes (413 above it)", int),
    "max_depth": ("deepest nesting of brackets in a query (400 above it)", int),
    "service_allowlist": ("comma-separated endpoint IRIs that SERVICE may call (empty: none)", str),
    "update_token": ("bearer token that enables SPARQL Update (unset: read-only)", str),
    "workers": ("HTTP worker processes, each with its own query workers and answer cache (one "
                "is enough on 2 cores, where the query workers do the work; each more serves "
                "cached answers faster for about 80 MB)", int),
    "threads": ("threads per worker process", int),
    "query_workers": ("query worker processes per HTTP worker; all but one may run long queries "
                      "(0: 3 over the embedded store, one per thread over a sparql store)", int),
    "short_query": ("seconds a query may run before it needs a long-query slot (503 busy "
                    "when none is free)", float),
    "worker_memory": ("memory ceiling of each query worker in MiB (0: half the machine shared "
                      "among all query workers, at most 2048)", int),
    "sandbox": ("required: query workers run without network access, or the server does not "
                "start; off: rely on the SERVICE check alone", str),
    "allocator": ("memory allocator of the query workers: jemalloc (Debian's libjemalloc2, "
                  "preloaded when installed; the benchmark aggregate 8 % faster in process) "
                  "or system", str),
    "cache_entries": ("answers kept in each worker's answer cache (0 disables it)", int),
    "cache_mib": ("memory for cached answers in each HTTP worker, in MiB (an answer larger than "
                  "an eighth of it is not kept)", int),
    "keep_builds": (("published builds kept for `tdkg builds` and `tdkg rollback`; the one "
                     "served is always kept too"), int),
    "store": ("embedded: each build is an Oxigraph store in the state folder; sparql: the builds "
              "live in a SPARQL 1.1 store at STORE_URL (credentials: TDKG_STORE_USER and "
              "TDKG_STORE_PASSWORD in the environment)", str),
    "store_url": ("the SPARQL 1.1 query endpoint of the sparql store kind", str),
    "store_update_url": ("its SPARQL Update endpoint (default: STORE_URL)", str),
    "store_graph_url": ("its Graph Store Protocol endpoint (default: STORE_URL)", str),
    "store_graph_param": ("the Graph Store endpoint's graph parameter (graph; Virtuoso 7: "
                          "graph-uri)", str),
    "store_auth": ("how credentials go to the sparql store: digest or basic", str),
    "store_query_params": ("protocol parameters added to every query sent to the sparql store, "
                           "form-encoded (e.g. Virtuoso's timeout=25000; an answer the store "
                           "marks as partial is a 503, never passed off as complete)", str),
    "store_poll": ("seconds a front end trusts the sparql store's published build before it "
                   "asks again", float),
}


STORE_KINDS = ("embedded", "sparql")
SANDBOX_MODES = ("required", "off")
ALLOCATORS = ("jemalloc", "system")


def env_name(field: str) -> str:
    return "TDKG_" + field.upper()


def _coerce(field: str, raw: object) -> object:
    if field == "service_allowlist":
        if isinstance(raw, (tuple, list)):
            return tuple(raw)
        return tuple(s.strip() for s in str(raw).split(",") if s.strip())
    if field == "keep_builds" and int(raw) < 1:
        raise ValueError(f"keep_builds must be at least 1, not {raw!r}")
    if field == "sandbox" and str(raw) not in SANDBOX_MODES:
        raise ValueError(f"sandbox must be one of {', '.join(SANDBOX_MODES)}, not {raw!r}")
    if field == "allocator" and str(raw) not in ALLOCATORS:
        raise ValueError(f"allocator must be one of {', '.join(ALLOCATORS)}, not {raw!r}")
    if field == "store" and str(raw) not in STORE_KINDS:
        raise ValueError(f"store must be one of {', '.join(STORE_KINDS)}, not {raw!r}")
    if field == "store_auth" and str(raw) not in ("digest", "basic"):
        raise ValueError(f"store_auth must be digest or basic, not {raw!r}")
    return FIELDS[field][1](raw)


def load_settings(overrides: dict[str, object] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then ``TDKG_*`` environment variables, then explicit ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in FIELDS:
        if env_name(field) in environ and environ[env_name(field)] != "":
            values[field] = _coerce(field, environ[env_name(field)])
    for field, raw in (overrides or {}).items():
        if raw is not None:
            values[field] = _coerce(field, raw)
    settings = Settings(**values)
    if settings.store == "sparql" and not settings.store_url:
        raise ValueError("the sparql store kind needs store_url (TDKG_STORE_URL or --store-url): "
                         "the store's SPARQL query endpoint")
    return settings
