"""How fast the pages are usable — the query page (``/``, YASGUI), the largest resource page and the
two views — in Debian's Chromium driven by Playwright.

Builds the bundled data (``ontology/`` + ``data/ttl/``) into a temporary folder, starts
``tdkg serve`` on a free loopback port, then opens the page ``--runs`` times, each time in a new
browser context (empty HTTP cache and storage: a first visit), and reads the page's own
``performance`` marks (set by ``server/static/query.js``):

* **editor usable** — navigation start → ``tdkg-editor-ready`` (YASGUI drawn, examples and
  share link wired, the run button works);
* **editor usable, revisit** — the same after a reload in the same context (vendor files cached);
* **run → results** — click on ▶ for an example → ``tdkg-results-drawn`` (YASR table drawn);
  the first run of the query on the server executes it, later runs are replayed from its cache;
* **share link → results** — navigation start of ``/?query=<example>`` in a fresh context →
  results drawn (what someone opening a shared link waits for).

and, each in a fresh context of its own (a first visit):

* **resource page: content** — navigation start → ``DOMContentLoaded`` of the largest resource's
  page (the one with the most triples about it, found with SPARQL, or ``--resource``): the header
  card, every group and fact are in the HTML, readable and clickable from then on;
* **resource page: ties drawn** — → the ``tdkg-ties-drawn`` mark of ``server/static/resource.js``
  (its small network laid out and drawn);
* **network view** / **timeline view** — navigation start → the view's ``ready`` flag (its queries
  answered and the drawing laid out), read with ``requestAnimationFrame`` polling (±1 frame).

Prints median, p95 (nearest rank), min and max in milliseconds against the target "usable within
a second", the bytes the first visit transfers, and any request that tried to leave 127.0.0.1
(aborted; there should be none). Figures also go to ``bench/results/page-load.json``. Bounded:
``--runs`` at most 200, the whole measurement by ``--deadline`` seconds, each wait by 30 s; the
server runs in its own process group and is stopped at the end (also on Ctrl-C).

Usage::

    python bench/page_load.py [--runs 20] [--example indirect-partners-through-pakistan]
                              [--resource /page/id/turkiye] [--only query,resource,views]

Needs the ``[test]`` extra (Playwright) and Debian's chromium (``apt-get install chromium``);
never downloads a browser.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402  (sibling module)

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
VENV_BIN = PROJECT_DIR / ".venv" / "bin"
TARGET_MS = 1000.0
MAX_RUNS = 200
WAIT_MS = 30_000
#: the same switches as the browser tests (tests/conftest.py): quiet, no DNS but loopback
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--metrics-recording-only", "--disable-breakpad", "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
#: the latest of the page's performance marks of that name (ms from navigation start)
MARK = ("() => { const m = performance.getEntriesByName(%r);"
        " return m.length ? m[m.length - 1].startTime : null; }")


#: the parts of the site measured: the query page, the largest resource page, the two views
PARTS = ("query", "resource", "views")
#: the resource under /id/ with the most triples about it (as subject or object), as the tests
#: find it (tests/test_resource_page.py)
LARGEST = """SELECT ?x (COUNT(*) AS ?n) WHERE {
  { GRAPH ?g { ?x ?p ?o } } UNION { GRAPH ?g { ?s ?p ?x } }
  FILTER(isIRI(?x) && STRSTARTS(STR(?x), "https://w3id.org/tdkg/id/")) }
GROUP BY ?x ORDER BY DESC(?n) ?x LIMIT 1"""
VIEWS = {"network_ms": ("/network", "tdkgNetwork"), "timeline_ms": ("/timeline", "tdkgTimeline")}
#: milliseconds from navigation start to DOMContentLoaded
DCL = "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


def default_tool(name: str) -> str:
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else shutil.which(name) or name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20, help=f"page loads per figure (≤ {MAX_RUNS})")
    ap.add_argument("--example", default="indirect-partners-through-pakistan",
                    help="name of the queries/*.rq example to run")
    ap.add_argument("--resource", default=None,
                    help="path of the resource page to measure (default: the largest resource's)")
    ap.add_argument("--only", default=",".join(PARTS),
                    help="which pages to measure, comma-separated: " + ", ".join(PARTS))
    ap.add_argument("--deadline", type=float, default=300.0,
                    help="stop measuring after this many seconds (figures so far are kept)")
    ap.add_argument("--ready-timeout", type=float, default=120.0, help="server start deadline (s)")
    ap.add_argument("--build-timeout", type=float, default=600.0, help="build deadline (s)")
    ap.add_argument("--tdkg", default=default_tool("tdkg"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--quiet-timeout", type=float, default=30.0,
                    help="wait up to this many seconds for the CPUs to be ≤ 15 %% busy first")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "page-load.json")
    args = ap.parse_args(argv)
    if not 1 <= args.runs <= MAX_RUNS:
        ap.error(f"--runs must be between 1 and {MAX_RUNS}")
    args.parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown or not args.parts:
        ap.error(f"--only takes some of {', '.join(PARTS)}; not {', '.join(sorted(unknown))}")
    return args


def build(args: argparse.Namespace, work: Path) -> float:
    cmd = [args.tdkg, "build", "--project-dir", str(PROJECT_DIR), "--state-dir",
           str(work / "var"), "--no-downloads", "--no-owl-files"]
    return servers.run_step(cmd, work / "build.log", args.build_timeout)


def serve(args: argparse.Namespace, work: Path, stack: ExitStack) -> str:
    port = servers.free_port()
    base = f"http://{servers.LOOPBACK}:{port}"
    cmd = [args.tdkg, "serve", "--project-dir", str(PROJECT_DIR), "--no-build", "--state-dir",
           str(work / "var"), "--host", servers.LOOPBACK, "--port", str(port)]
    stack.enter_context(servers.serving(cmd, f"{base}/healthz", work / "serve.log",
                                        args.ready_timeout))
    return base


def example_query(base: str, name: str) -> str:
    import requests
    listed = requests.get(base + "/queries.json", timeout=30).json()["examples"]
    for ex in listed:
        if ex["name"] == name:
            return ex["query"]
    raise SystemExit(f"no example {name!r}; try one of: " + ", ".join(e["name"] for e in listed))


class Browser:
    """Headless Chromium; every context aborts and records requests leaving 127.0.0.1."""

    def __init__(self, executable: str):
        from playwright.sync_api import sync_playwright
        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        except Exception:
            self.playwright.stop()
            raise
        self.offsite: list[str] = []

    def context(self):
        context = self.browser.new_context(viewport={"width": 1280, "height": 900},
                                           service_workers="block")
        context.set_default_timeout(WAIT_MS)

        def guard(route) -> None:
            url = route.request.url
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about") or parts.hostname == servers.LOOPBACK:
                route.continue_()
            else:
                self.offsite.append(url)
                route.abort("blockedbyclient")

        context.route("**/*", guard)
        return context

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.playwright.stop()


def largest_resource(base: str) -> str:
    import requests
    answer = requests.get(base + "/sparql", params={"query": LARGEST},
                          headers={"Accept": "application/sparql-results+json"}, timeout=60)
    answer.raise_for_status()
    rows = answer.json()["results"]["bindings"]
    if not rows:
        raise SystemExit("no resource under /id/ in the store")
    return "/page/" + rows[0]["x"]["value"].split("https://w3id.org/tdkg/", 1)[1]


def pages_round(browser: Browser, base: str, resource: str | None,
                views: bool) -> dict[str, float]:
    """One cold visit of the resource page and of each view, each in a fresh context."""
    figures: dict[str, float] = {}
    if resource:
        context = browser.context()
        try:
            page = context.new_page()
            page.goto(base + resource)
            figures["resource_content_ms"] = page.evaluate(DCL)
            page.wait_for_function(
                "() => performance.getEntriesByName('tdkg-ties-drawn').length")
            figures["resource_ties_ms"] = page.evaluate(MARK % "tdkg-ties-drawn")
            figures["resource_bytes"] = transferred_bytes(page)
        finally:
            context.close()
    for key, (path, flag) in (VIEWS.items() if views else ()):
        context = browser.context()
        try:
            page = context.new_page()
            page.goto(base + path)
            page.wait_for_function(f"() => window.{flag} && window.{flag}.ready", polling="raf")
            figures[key] = page.evaluate("() => performance.now()")
            figures[key.replace("_ms", "_bytes")] = transferred_bytes(page)
        finally:
            context.close()
    return figures


def transferred_bytes(page) -> int:
    return int(page.evaluate("""() => performance.getEntriesByType('navigation')
        .concat(performance.getEntriesByType('resource'))
        .reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0)"""))


def one_round(browser: Browser, base: str, example: str, query: str) -> dict[str, float]:
    """One cold visit (load, revisit, run the example) and one cold share-link visit."""
    figures: dict[str, float] = {}
    context = browser.context()
    try:
        page = context.new_page()
        page.goto(base + "/")
        page.wait_for_selector("html[data-query-ready=true]")
        figures["editor_ms"] = page.evaluate(MARK % "tdkg-editor-ready")
        figures["bytes"] = transferred_bytes(page)

        page.select_option("#examples", example)
        page.locator(".tabPanel.active .yasqe_queryButton").click()
        page.wait_for_function("() => performance.getEntriesByName('tdkg-results-drawn').length")
        figures["run_ms"] = (page.evaluate(MARK % "tdkg-results-drawn")
                             - page.evaluate(MARK % "tdkg-query-start"))

        page.goto(base + "/")          # a revisit: vendor files come from the HTTP cache
        page.wait_for_selector("html[data-query-ready=true]")
        figures["editor_revisit_ms"] = page.evaluate(MARK % "tdkg-editor-ready")
    finally:
        context.close()

    context = browser.context()
    try:
        page = context.new_page()
        page.goto(base + "/?" + urlencode({"query": query}))
        page.wait_for_function("() => performance.getEntriesByName('tdkg-results-drawn').length")
        figures["share_ms"] = page.evaluate(MARK % "tdkg-results-drawn")
    finally:
        context.close()
    return figures


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95,
            "min": ordered[0], "max": ordered[-1]}


LABELS = [("editor_ms", "editor usable (first visit)"),
          ("editor_revisit_ms", "editor usable (revisit, cached)"),
          ("run_ms", "run example → results drawn"),
          ("share_ms", "share link → results drawn"),
          ("resource_content_ms", "resource page: content shown"),
          ("resource_ties_ms", "resource page: ties drawn"),
          ("network_ms", "network view drawn"),
          ("timeline_ms", "timeline view drawn")]
#: the figures held to "usable within a second" at p95
GOALS = ("editor_ms", "share_ms", "resource_content_ms", "resource_ties_ms", "network_ms",
         "timeline_ms")
BYTES = [("bytes", "query page"), ("resource_bytes", "resource page"),
         ("network_bytes", "network view"), ("timeline_bytes", "timeline view")]


def report(rounds: list[dict[str, float]], args: argparse.Namespace, offsite: list[str],
           timings: dict[str, float]) -> dict:
    measured = [(key, label) for key, label in LABELS if all(key in r for r in rounds)]
    stats = {key: summary([r[key] for r in rounds]) for key, _ in measured}
    print(f"\n{', '.join(args.parts)}: {len(rounds)} rounds, example {args.example!r}, "
          f"resource {args.resource} "
          f"({os.cpu_count()} CPUs; build {timings['build_s']:.1f} s; CPUs "
          f"{timings['cpu_busy_before_pct']:.0f} % busy before, load average "
          f"{timings['load_average_before']:.1f} → {timings['load_average_after']:.1f})")
    print(f"{'figure':34} {'median':>8} {'p95':>8} {'min':>8} {'max':>8}   (ms)")
    for key, label in measured:
        s = stats[key]
        print(f"{label:34} {s['median']:8.0f} {s['p95']:8.0f} {s['min']:8.0f} {s['max']:8.0f}")
    sizes = {key: statistics.median(r[key] for r in rounds) for key, _ in BYTES
             if all(key in r for r in rounds)}
    print("bytes transferred by a first visit: " + ", ".join(
        f"{name} {sizes[key] / 1024:.0f} KiB" for key, name in BYTES if key in sizes))
    first_bytes = sizes.get("bytes")
    goals = {}
    for key in (k for k in GOALS if k in stats):
        met = stats[key]["p95"] <= TARGET_MS
        goals[key] = met
        print(f"target: {dict(LABELS)[key]} within {TARGET_MS:.0f} ms at p95 — "
              f"{'met' if met else 'NOT met'} ({stats[key]['p95']:.0f} ms)")
    print(f"requests that tried to leave 127.0.0.1: {len(offsite)}"
          + (f" {sorted(set(offsite))[:5]}" if offsite else ""))
    return {"measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rounds": len(rounds),
            "example": args.example, "resource": args.resource, "parts": args.parts,
            "stats": stats, "first_visit_bytes": first_bytes, "first_visit_bytes_by_page": sizes,
            "target_ms": TARGET_MS, "goals": goals, "offsite_requests": offsite,
            "timings": timings, "raw": rounds,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()}}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"no chromium at {args.chromium}: apt-get install chromium "
              "(do not use `playwright install`)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tdkg-page-load-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        timings = {"build_s": build(args, work)}
        started = time.monotonic()
        base = serve(args, work, stack)
        timings["server_start_s"] = time.monotonic() - started
        query = example_query(base, args.example) if "query" in args.parts else None
        if "resource" in args.parts and args.resource is None:
            args.resource = largest_resource(base)
        browser = Browser(args.chromium)
        stack.callback(browser.close)

        def measure() -> dict[str, float]:
            figures = one_round(browser, base, args.example, query) if query else {}
            figures.update(pages_round(browser, base, args.resource if "resource" in args.parts
                                       else None, "views" in args.parts))
            return figures

        # one discarded round: the server's first answers and Chromium's first start
        measure()
        timings["cpu_busy_before_pct"] = servers.wait_quiet(15.0, args.quiet_timeout)
        timings["load_average_before"] = os.getloadavg()[0]
        rounds: list[dict[str, float]] = []
        deadline = time.monotonic() + args.deadline
        while len(rounds) < args.runs and time.monotonic() < deadline:
            rounds.append(measure())
            print(f"round {len(rounds):3}: " + ", ".join(
                f"{k} {v:.0f}" for k, v in rounds[-1].items() if not k.endswith("bytes")),
                flush=True)
        if len(rounds) < args.runs:
            print(f"deadline of {args.deadline:.0f} s reached after {len(rounds)} rounds")
        timings["load_average_after"] = os.getloadavg()[0]
        result = report(rounds, args, browser.offsite, timings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"figures written to {args.out}")
    return 0 if not result["offsite_requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
