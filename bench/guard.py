"""How long the federation check takes before a query reaches a worker, against the regex
tokenizer it replaced (tdkg.sparqltext, still used to locate terms in the project's own files).

    python bench/guard.py            # prints a table; bounded: each input at most --rounds runs

Inputs: every analyst query in queries/, and adversarial texts at sizes up to the default query
limit (64 KiB): ``a.a.a…`` (quadratic in the old tokenizer), ``<a<a…`` and a query full of
IRIs that may be read two ways (``?s <x#a> ?o``, which makes the lexer read a shadow). The old
tokenizer only runs up to 16 KiB, where it already takes seconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tdkg import namespaces as ns, sparqltext  # noqa: E402
from tdkg.server import guard  # noqa: E402

OLD_MAX = 16 * 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    queries = [p.read_text() for p in sorted((ROOT / "queries").glob("*.rq"))]
    total = sum(len(q) for q in queries)
    new = timed(lambda: [check(q) for q in queries], args.rounds)
    old = timed(lambda: [sparqltext.tokens(sparqltext.decode_escapes(q)) for q in queries],
                args.rounds)
    print("| input | bytes | check (new) | old tokenizer | new ÷ old |")
    print("|---|---|---|---|---|")
    print(f"| {len(queries)} analysts' queries | {total:,} | {new * 1e3:.1f} ms | "
          f"{old * 1e3:.1f} ms | {new / old:.1f} |")
    for size in (4 * 1024, 16 * 1024, 64 * 1024):
        for name, text in adversarial(size).items():
            new = timed(lambda: check(text), args.rounds)
            if size <= OLD_MAX:
                old = timed(lambda: sparqltext.tokens(text), 1)
                ratio = f"{new / old:.3f}"
                old_cell = f"{old * 1e3:,.0f} ms"
            else:
                old_cell, ratio = "(not run)", "–"
            print(f"| `{name}` | {size:,} | {new * 1e3:,.0f} ms | {old_cell} | {ratio} |")


if __name__ == "__main__":
    main()
