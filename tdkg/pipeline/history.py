"""Build history: the published builds a state folder keeps, and going back to one of them.

Publishing (:func:`.store.publish`) marks a build's folder with the time it was first published
(``builds/<id>/published``), adds a line to ``history.jsonl`` and keeps the newest
``keep_builds`` published builds plus the one served. This module reads that record:

    tdkg builds            the kept builds, newest first: id, time, input digest, triples, current
    tdkg rollback [BUILD]  publish an earlier build again, with the same atomic switch of
                           ``current`` a build uses; the running server follows on its next request

``rollback`` with no build undoes the last publication: it goes back to the build that was
served before the current one was published, and run again keeps stepping back (a rollback
by id is a publication like a build's, so the next plain rollback returns from it). A build is
named by its id or any prefix of it that only one kept build has. A rollback takes the build
lock, so it waits for no one: while a build runs it fails and changes nothing. Everything here
only reads JSON and small files, so the server's ``/builds`` pages use it without opening a store.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from ..settings import Settings
from . import store
from .errors import BuildError

#: events of ``history.jsonl`` shown with the builds
RECENT_EVENTS = 20
SHORT_DIGEST = 12
#: written into a build's folder at build time: what it changed against the build before it
CHANGES = "changes.json"


class HistoryError(BuildError):
    """A rollback that cannot be done: nothing changed."""


def builds(root: Path) -> list[dict]:
    """The kept builds, newest publication first, each with its id, times, input digest,
    statistics, whether it is served, the build it replaced when it was published (what its
    changes are against) and whether those changes were recorded."""
    live = store.current_build(root)
    events = store.read_history(root)
    last = {e["build"]: e.get("time") for e in events}
    replaced = {}       # the build each one replaced when first published: its changes' base
    for event in events:
        if event.get("action") == "publish":
            replaced.setdefault(event["build"], event.get("previous"))
    found = store.published_builds(root)
    if live is not None and live.name not in {b.name for b in found}:
        found.append(live)      # served but not (yet) marked: a publication cut short
    entries = []
    for build_dir in reversed(found):
        try:
            info = store.read_info(build_dir)
        except (OSError, ValueError):
            continue            # removed by a prune while we looked
        first = store.published_at(build_dir) or store.created_at(build_dir)
        entries.append({
            "id": build_dir.name, "published": first, "last_published": last.get(
                build_dir.name, first), "created": info.get("created"),
            "digest": info.get("digest"), "stats": info.get("stats", {}),
            "current": live is not None and build_dir.name == live.name,
            "replaced": replaced.get(build_dir.name), "changes": (build_dir / CHANGES).is_file()})
    return entries


def listing(root: Path, keep: int | None = None) -> dict:
    """What ``tdkg builds --json`` prints and ``/builds`` serves."""
    live = store.current_build(root)
    return {"current": live.name if live is not None else None, "keep": keep,
            "builds": builds(root), "history": store.read_history(root)[-RECENT_EVENTS:]}


def build_dir(root: Path, build_id: str) -> Path | None:
    """The folder of the kept build with exactly this id (never a path made from the id)."""
    for entry in builds(root):
        if entry["id"] == build_id:
            return root / "builds" / entry["id"]
    return None


def resolve(root: Path, name: str) -> str:
    """The id of the kept build that ``name`` is the id or a unique prefix of."""
    kept = [e["id"] for e in builds(root)]
    if name in kept:
        return name
    matches = [i for i in kept if i.startswith(name)] if name else []
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(kept) or "none"
    if matches:
        raise HistoryError(f"{name!r} is the start of {len(matches)} kept builds "
                           f"({', '.join(matches)}): give more of the id")
    raise HistoryError(f"no kept build is called {name!r}; kept builds: {listed}")


def undo_stack(events: list[dict]) -> list[str]:
    """The builds served one after another, as plain rollbacks left them: a publication (or a
    rollback by id) pushes its build, a plain rollback pops back to the build it went to."""
    stack: list[str] = []
    for event in events:
        if event.get("action") == "rollback" and event.get("undo"):
            while stack and stack[-1] != event["build"]:
                stack.pop()
            if not stack:
                stack.append(event["build"])
        else:
            stack.append(event["build"])
    return stack


def previous_build(root: Path) -> str:
    """The build served before the current one was published (see :func:`undo_stack`), or,
    without a usable record, the newest kept build first published before the current one."""
    entries = builds(root)
    kept = {e["id"] for e in entries}
    current = next((e["id"] for e in entries if e["current"]), None)
    if current is None:
        raise HistoryError("no build is published: nothing to roll back")
    stack = undo_stack(store.read_history(root))
    if stack and stack[-1] == current:
        for build_id in reversed(stack[:-1]):
            if build_id in kept and build_id != current:
                return build_id
    order = [e["id"] for e in entries]      # newest first publication first
    older = order[order.index(current) + 1:]
    if older:
        return older[0]
    raise HistoryError(f"no build published before {current} is kept (kept builds: "
                       f"{', '.join(order)})")


def rollback(settings: Settings, name: str | None = None) -> tuple[str, str]:
    """Publish a kept build again; return (the build served before, the build served now).
    Raises :class:`BuildError` (while a build runs, or for an unknown build)."""
    root = settings.store_root
    with _locked(root):
        store.adopt_unrecorded(root)
        live = store.current_build(root)
        target = resolve(root, name) if name is not None else previous_build(root)
        before = live.name if live is not None else None
        if target == before:
            raise HistoryError(f"{target} is already the published build")
        if settings.store == "sparql":
            _republish(settings, root / "builds" / target)
        store.publish(root, root / "builds" / target, keep=settings.keep_builds,
                      action="rollback", undo=name is None)
    return before or "", target


def _republish(settings: Settings, build_dir: Path) -> None:
    """Publish a kept build in the sparql store again (its graphs are loaded anew from the
    build's folder when the store no longer has them)."""
    from .. import stores
    try:
        stores.publish_remote(stores.open_store(settings), build_dir)
    except stores.StoreError as err:
        raise HistoryError(f"nothing was rolled back: the SPARQL store failed: {err}") from None


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """The build lock, or an error that says the rollback changed nothing."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store.exclusive(root))
        except BuildError:
            holder = (root / ".build.lock").read_text(encoding="utf-8").strip()
            raise HistoryError(f"a build is running in {root} ({holder or 'another process'}); "
                               "nothing was rolled back: roll back once it has finished") from None
        yield


def rolled_back_from(root: Path, digest: str) -> bool:
    """True when the last publications were rollbacks away from a build of ``digest``: sources
    deliberately rolled back are not stale, so ``tdkg serve`` must not build them again."""
    events = store.read_history(root)
    digests = {e["build"]: e.get("digest") for e in events}
    left = set()
    for event in reversed(events):
        if event.get("action") != "rollback":
            break
        left.add(digests.get(event.get("previous")))
    return digest in left


# --- the commands -------------------------------------------------------------------------------

def _builds_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="the builds, current one and recent history as JSON")


def _run_builds(args: argparse.Namespace, settings: Settings) -> int:
    found = listing(settings.store_root, settings.keep_builds)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    if not found["builds"]:
        print(f"no published build in {settings.store_root}: run `tdkg build`", file=sys.stderr)
        return 1
    print(format_table(found["builds"]))
    print(f"\n{len(found['builds'])} build(s) kept (keep_builds {settings.keep_builds}, plus the "
          "one served); `tdkg rollback [BUILD]` publishes one again")
    return 0


def format_table(entries: list[dict]) -> str:
    rows = [("", "BUILD", "PUBLISHED (UTC)", "DIGEST", "TRIPLES")]
    for e in entries:
        rows.append(("*" if e["current"] else "", e["id"], short_time(e["published"]),
                     (e["digest"] or "-")[:SHORT_DIGEST],
                     f"{e['stats'].get('triples', 0):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i == 4 else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
    return "\n".join(lines + ["(* the build being served)"])


def short_time(stamp: str | None) -> str:
    """``2026-11-27T16:45:09.123456Z`` as ``2026-11-27 16:45:09``."""
    return (stamp or "-")[:19].replace("T", " ")


def _rollback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("build", nargs="?", metavar="BUILD",
                        help="id of a kept build, or a prefix of one (default: the build served "
                             "before the current one)")


def _run_rollback(args: argparse.Namespace, settings: Settings) -> int:
    try:
        before, now = rollback(settings, args.build)
    except BuildError as err:
        print(f"rollback failed: {err}", file=sys.stderr)
        return 1
    print(f"rolled back: {before or 'nothing'} -> {now} is published", file=sys.stderr)
    print(now)
    return 0


COMMANDS = {
    "builds": ("list the kept builds: id, time, input digest, triples, the one served",
               _builds_arguments, _run_builds),
    "rollback": ("publish an earlier kept build again, atomically (the server follows)",
                 _rollback_arguments, _run_rollback),
}
