"""The query workers' memory allocator: jemalloc, when it is installed.

pyoxigraph (Oxigraph and RocksDB) and the interpreter allocate through the C library's malloc.
Preloaded into each query worker (``LD_PRELOAD``), Debian's jemalloc (package ``libjemalloc2``)
made the benchmark's aggregate over the 100k store about 1 to 2 ms faster in process (14.7–15.2
against 16.5–17.5 ms, five interleaved runs each; ``bench/README.md``). Only the query workers
get it: they are started as new interpreters (:mod:`.child`), where the preload takes effect,
and they do the work that allocates. The ``allocator`` setting ``system`` keeps glibc's malloc,
which is also what runs when jemalloc is not installed.

The memory ceiling (``RLIMIT_DATA``) counts address space, not resident memory, and jemalloc
by default keeps the address space of what it frees: with it, a worker running the hardening
tests' 8-way join passed 512 MiB within a second, where glibc's malloc stayed at 470 MiB.
``retain:false`` gives the address space back (504 MiB there) at no cost in speed (measured
in process: 12.4–13.6 ms against 13.6–14.3 ms with jemalloc's defaults). A worker runs one
operation at a time on one thread, so one arena (``narenas:1``) is enough; it keeps a worker
at 56 MiB after a load where jemalloc's default arenas held 57 and glibc's malloc 54.
"""
from __future__ import annotations

import ctypes.util
import functools
import os

#: jemalloc's options for the query workers (see above)
MALLOC_CONF = "retain:false,narenas:1"


@functools.cache
def library(allocator: str) -> str | None:
    """The shared library to preload for ``allocator``; None for the system's malloc, or when
    the library is not installed."""
    if allocator == "system":
        return None
    return ctypes.util.find_library(allocator)


def environment(preload: str | None) -> dict[str, str] | None:
    """The environment of a child that preloads ``preload`` (None: the parent's, unchanged)."""
    if preload is None:
        return None
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(p for p in (preload, env.get("LD_PRELOAD")) if p)
    # options given later win: an operator's own MALLOC_CONF still has the last word
    env["MALLOC_CONF"] = ",".join(p for p in (MALLOC_CONF, env.get("MALLOC_CONF")) if p)
    return env
