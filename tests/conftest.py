"""Session fixtures: one real build of the bundled data and one real read-only server over it;
Debian's Chromium driven by Playwright for the browser tests."""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from store_kinds import any_kind, remote_kind, store_kinds  # noqa: F401 (fixtures)
from support import PROJECT, Server, run_tdkg


@pytest.fixture(scope="session")
def built_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder holding a real build of ontology/ and data/ttl/."""
    state = tmp_path_factory.mktemp("state") / "var"
    result = run_tdkg("build", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    return state


@pytest.fixture(scope="session")
def live_server(built_state: Path):
    server = Server(built_state)
    yield server
    server.stop()


LONG_LABEL = "Firm " + "with a very long name " * 9_000      # about 200 KB


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory):
    """A build whose data holds hostile values (markup in labels, ``javascript:`` IRIs, a
    200 KB label), served on its own port."""
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    shutil.copytree(PROJECT / "data" / "ttl", data)
    (data / "zz-hostile.ttl").write_text("""
@prefix tdi: <https://w3id.org/tdkg/id/> .
@prefix tds: <https://w3id.org/tdkg/source/> .
@prefix tdkg: <https://w3id.org/tdkg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
tdi:turkiye skos:altLabel "<b>bold</b> & \\"quoted\\""@en .
tdi:hostile-firm a tdkg:Company ; rdfs:label "<script>alert('x')</script> Firm"@en ;
    tdkg:mentionedIn tds:doc-000 ; rdfs:seeAlso <javascript:alert(1)> , <data:text/html,x> ,
    <https://example.org/ok> .
tdi:long-label-firm a tdkg:Company ; rdfs:label "%s"@en ; tdkg:mentionedIn tds:doc-000 .
tdi:f999-home-state-long a tdkg:HomeStateAttribution ; rdfs:label "home state of a long name"@en ;
    tdkg:attributedCompany tdi:long-label-firm ; tdkg:attributedState tdi:turkiye ;
    tdkg:statedIn tds:doc-000 ; tdkg:status tdkg:reported .
""" % LONG_LABEL, encoding="utf-8")
    state = root / "var"
    done = run_tdkg("build", "--state-dir", str(state), "--data-dir", str(data), "--no-owl-files")
    assert done.returncode == 0, done.stderr
    server = Server(state)
    yield server
    server.stop()


@pytest.fixture()
def scratch_state(built_state: Path, tmp_path: Path) -> Path:
    """A private copy of the built state, for tests that rebuild or change it."""
    copy = tmp_path / "var"
    shutil.copytree(built_state, copy, symlinks=True)
    return copy


# --- browser tests: Debian's chromium (apt package `chromium`) driven by Playwright ---------------
# Playwright never downloads a browser here: it is pointed at the system's chromium. Every request
# a page makes goes through a route that lets loopback requests through and aborts (and records)
# any other, so a test can assert that nothing left the machine.

SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--metrics-recording-only", "--disable-breakpad", "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no DNS for anything else
]
LOOPBACK_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                         else None)
    if found is None:
        pytest.fail("the browser tests need Debian's chromium (apt package `chromium`, "
                    "/usr/bin/chromium): install it with `./scripts/setup.sh --test` "
                    "(or `apt-get install chromium`); do not use `playwright install`",
                    pytrace=False)
    return found


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session, closed (with Playwright) at the end."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail(f"the browser tests need the Playwright package (the [test] extra): {err}",
                    pytrace=False)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_ARGS, timeout=60_000)
    except Exception as err:
        playwright.stop()
        pytest.fail(f"could not start {executable} through Playwright: {err}", pytrace=False)
    yield browser
    try:
        browser.close()
    finally:
        playwright.stop()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOOPBACK_HOSTS


@pytest.fixture()
def offsite_requests() -> list[str]:
    """URLs the test's page tried to fetch from anywhere but 127.0.0.1 (they were aborted)."""
    return []


@pytest.fixture()
def page(browser, offsite_requests: list[str]):
    """A new page in its own browser context; requests that would leave 127.0.0.1 are aborted
    and recorded in ``offsite_requests``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  service_workers="block")
    context.set_default_timeout(15_000)

    def guard(route) -> None:
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            offsite_requests.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture()
def screenshot(page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``screenshot(name)`` saves the page as tests/artifacts/screenshots/<test>-<name>.png."""
    def save(name: str = "page") -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{name}").strip("_")
        path = SCREENSHOTS / f"{stem}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return save
