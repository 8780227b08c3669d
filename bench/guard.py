"""How long the federation check takes before a query reaches a worker, side by side with the
engine's own parsing of the same text (pyoxigraph on an empty in-memory store: parsing and
planning, nothing to evaluate).

    python bench/guard.py            # prints a table; bounded: each input at most --rounds runs

Inputs: every analyst query in queries/, and adversarial texts at sizes up to the default query
limit (64 KiB): ``a.a.a…`` (the regex tokenizer this check replaced took 2 s on 16 KiB of it:
it was quadratic), ``<a<a…``, and a one-line query full of IRIs that may be read two ways
(``?s <x#a> ?o``, which makes the lexer read a shadow for each).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyoxigraph as ox  # noqa: E402

from tdkg import namespaces as ns  # noqa: E402
from tdkg.server import guard  # noqa: E402


def adversarial(size: int) -> dict[str, str]:
    return {"a.a.a…": ("a." * size)[:size], "<a<a…": ("<a" * size)[:size],
            "?s <x#a> ?o …": ("SELECT * { " + "?s <http://x/#a> ?o . " * size)[:size - 1] + "}"}


def timed(fn, rounds: int) -> float:
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        try:
            fn()
        except Exception:   # malformed input is refused: that is the measured path too
            pass
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def check(text: str) -> None:
    guard.check(text, update=False, allowlist=(), predeclared=ns.PREFIXES, max_depth=128)


def engine(store: ox.Store, text: str) -> None:
    answer = store.query(text, prefixes=ns.PREFIXES)
    if not isinstance(answer, ox.QueryBoolean):
        list(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    queries = [p.read_text() for p in sorted((ROOT / "queries").glob("*.rq"))]
    total = sum(len(q) for q in queries)
    store = ox.Store()
    new = timed(lambda: [check(q) for q in queries], args.rounds)
    ref = timed(lambda: [engine(store, q) for q in queries], args.rounds)
    print("| input | bytes | the check | the engine parsing it | check ÷ engine |")
    print("|---|---|---|---|---|")
    print(f"| {len(queries)} analysts' queries | {total:,} | {new * 1e3:.1f} ms | "
          f"{ref * 1e3:.1f} ms | {new / ref:.1f} |")
    for size in (4 * 1024, 16 * 1024, 64 * 1024):
        for name, text in adversarial(size).items():
            new = timed(lambda: check(text), args.rounds)
            ref = timed(lambda: engine(store, text), args.rounds)
            print(f"| `{name}` | {size:,} | {new * 1e3:,.1f} ms | {ref * 1e3:,.1f} ms | "
                  f"{new / ref:,.1f} |")


if __name__ == "__main__":
    main()
