"""Render benchmark results (``bench/results/<size>.json``) as Markdown tables for the README.

Usage::

    python bench/report.py bench/results/10k.json bench/results/100k.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BUSY_MARK_PCT = 15.0   # same threshold as run.QUIET_BUSY_PCT
COLUMNS = ("server", "query", "conc.", "req/s", "spread", "p50 ms", "p99 ms", "× Oxigraph")


def table_row(r: dict) -> str:
    """One Markdown row of a result."""
    cells = (r["server"], r["query"], str(r["concurrency"]), f"{r['rps']:.1f}",
             f"{r['spread_pct']:.0f}%", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
             (f"{r['ratio']:.2f}" if r["ratio"] is not None else "–")
             + (" \\*" if r.get("max_background_busy_pct", 0) > BUSY_MARK_PCT else ""))
    return "| " + " | ".join(cells) + " |"


def heading(report: dict) -> str:
    """A one-paragraph description of the run behind a table."""
    t = report["timings"]
    builds = ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.1f} s"
                       for k, v in t.items() if k.endswith("_s"))
    return (f"**{report['size']}** ({report['triples']:,} triples; client `{report['client']}`; "
            f"median of {report['repeat']} × {report['duration_s']:g} s runs after "
            f"{report['warmup_s']:g} s warm-up; measured {report['measured_at']}). "
            f"Timings: {builds}.")


def render(report: dict) -> str:
    """Heading, row counts and the results table of one report."""
    checks = "; ".join(f"{q}: " + ", ".join(f"{s} {n}" for s, n in c["rows"].items())
                       for q, c in report["checks"].items())
    lines = [heading(report), "", f"Rows returned — {checks}.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += [table_row(r) for r in report["results"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Print the tables of the given result files."""
    for path in argv:
        print(render(json.loads(Path(path).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
