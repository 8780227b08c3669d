"""The ``tdkg`` command: a thin layer over the pipeline and the server.

    tdkg build   parse, validate, reason and publish a new store (the old one stays on failure)
    tdkg serve   build if the sources changed, then serve the SPARQL endpoint with gunicorn
    tdkg why     explain a triple: the rule and premises behind it, down to the sources
    tdkg readme  regenerate the generated sections of README.md from the published build
    tdkg export  copy the published build's downloads (RDF dumps, register, context) to a folder

Curating a new document (see the README's curation section):

    tdkg new-source  register a new source document: its entry, a Turtle file, a coverage table
    tdkg find        look for an existing entity by name or Wikidata ID before creating one
    tdkg diff        what the working tree would change against the published build
    tdkg builds      list the kept builds;  tdkg rollback [BUILD]  republish an earlier one
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .pipeline.errors import BuildError
from .settings import FIELDS, Settings, load_settings


def _add_settings(parser: argparse.ArgumentParser) -> None:
    for field, (help_text, kind) in FIELDS.items():
        flag = "--" + field.replace("_", "-")
        parser.add_argument(flag, dest=field, default=None, metavar=field.upper(),
                            help=f"{help_text} [env TDKG_{field.upper()}]".replace("%", "%%"))


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given the arguments, it imports only the curation module
    their command needs (none for ``serve``: gunicorn's master forks every HTTP worker from
    this process, and those modules held 21 MiB in it)."""
    top = argparse.ArgumentParser(prog="tdkg", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="build and publish the store")
    b.add_argument("--data-dir", type=Path, help="read facts from here instead of data/ttl/")
    b.add_argument("--skip-validation", action="store_true", help="do not run the SHACL shapes")
    b.add_argument("--validator", choices=("fast", "pyshacl"), default="fast",
                   help="SHACL engine: fast (default) or pyshacl, the reference")
    b.add_argument("--no-owl-files", action="store_true",
                   help="do not write the RDF/XML files for Protégé (for large synthetic data)")
    b.add_argument("--no-downloads", action="store_true",
                   help="do not write the RDF dumps, register and JSON-LD context (benchmarks)")
    b.add_argument("--strict", action="store_true",
                   help="fail while any coverage table has rows still marked todo")
    b.add_argument("--dry-run", action="store_true",
                   help="build without publishing and print what would change (as tdkg diff)")
    b.add_argument("--json", action="store_true", help="with --dry-run: the changes as JSON")
    s = commands.add_parser("serve", help="serve the SPARQL endpoint (builds first if needed)")
    s.add_argument("--no-build", action="store_true", help="serve the published store as it is")
    w = commands.add_parser("why", help="explain a triple of the published build")
    for name in ("subject", "predicate", "object"):
        w.add_argument(name, help="IRI, prefixed name (tdi:turkiye) or N-Triples literal")
    r = commands.add_parser("readme", help="regenerate README.md's generated sections")
    e = commands.add_parser("export", help="write the published build's downloads to a folder")
    e.add_argument("--out", metavar="PATH",
                   help="folder to write to (default ./exports); with --register a file, "
                        "or - for standard output (the default)")
    e.add_argument("--register", action="store_true",
                   help="write only the SIPRI-style register of deals and transfers (CSV)")
    subs = [b, s, w, r, e]
    for name, (help_text, add_arguments, _) in _curation_commands(_command_of(argv)).items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        subs.append(sub)
    for sub in subs:
        _add_settings(sub)
    return top


#: each curation command → its module, which defines COMMANDS = {name: (help,
#: add_arguments(parser), run(args, settings))} (tests/test_cli_startup.py checks the two agree)
CURATION_COMMAND_MODULES = {"new-source": "tdkg.curation.new_source",
                            "find": "tdkg.curation.find", "diff": "tdkg.curation.diff",
                            "builds": "tdkg.pipeline.history",
                            "rollback": "tdkg.pipeline.history"}
CURATION_MODULES = tuple(dict.fromkeys(CURATION_COMMAND_MODULES.values()))
CORE_COMMANDS = ("build", "serve", "why", "readme", "export")


def _command_of(argv: list[str] | None) -> str | None:
    """The command the arguments name (their first word that is not an option), if any."""
    words = sys.argv[1:] if argv is None else argv
    return next((word for word in words if not word.startswith("-")), None)


def _curation_commands(command: str | None = None) -> dict:
    """The curation commands to offer: none for a core command, the one named, or (for help,
    an error message, or no command) all of them."""
    if command in CORE_COMMANDS:
        modules: tuple[str, ...] = ()
    elif command in CURATION_COMMAND_MODULES:
        modules = (CURATION_COMMAND_MODULES[command],)
    else:
        modules = CURATION_MODULES
    found = {}
    for module in modules:
        found.update(importlib.import_module(module).COMMANDS)
    return found


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings({f: getattr(args, f, None) for f in FIELDS})


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from .curation import todo
    from .pipeline.build import Options, build
    try:        # a table nobody can read is an error: --strict must never pass uncounted
        pending = todo.pending_rows(settings)
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    for document, count in pending.items():
        print(f"warning: {document}: {count} coverage row(s) still marked todo", file=sys.stderr)
    if args.strict and pending:
        print(f"build failed (--strict): {sum(pending.values())} coverage row(s) marked todo in "
              f"{', '.join(pending)}", file=sys.stderr)
        return 1
    options = Options(validate=not args.skip_validation, owl_files=not args.no_owl_files,
                      downloads=not args.no_downloads, validator=args.validator)
    if args.dry_run:
        from .curation import diff
        return diff.dry_run(settings, data_dir=args.data_dir, options=options, as_json=args.json)
    try:
        build(settings, data_dir=args.data_dir, options=options,
              log=lambda m: print(m, file=sys.stderr))
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if not args.no_build and not _build_before_serving(settings):
        return 1
    from .server.runner import serve
    from .server.sandbox import probe
    if settings.sandbox == "required" and not (status := probe()).get("confined"):
        print(f"cannot serve: this OS does not let TDKG take query workers off the network "
              f"(no network namespace, no seccomp filter: {status}). Run where unshare(2) or "
              "seccomp is allowed, or start with --sandbox off to rely on the SERVICE check "
              "alone", file=sys.stderr)
        return 2
    print(f"serving http://{settings.host}:{settings.port}/sparql", file=sys.stderr)
    serve(settings)
    return 0


def _build_before_serving(settings: Settings) -> bool:
    """Build if the sources changed, in a child process, so that the server (whose processes
    fork from this one) never holds the build's libraries and memory; False when there is
    nothing to serve."""
    import os
    pid = os.fork()
    if pid == 0:            # the child: build, report through the exit status, never return
        code = 0
        try:
            from .pipeline.build import build, is_stale
            if is_stale(settings):
                try:
                    build(settings, log=lambda m: print(m, file=sys.stderr))
                except BuildError as err:
                    print(f"build failed: {err}", file=sys.stderr)
                    code = 3
        except BaseException as err:  # noqa: BLE001 - the parent reports; never run its code
            print(f"build failed: {type(err).__name__}: {err}", file=sys.stderr)
            code = 3
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return True
    from .pipeline.store import current_build
    if current_build(settings.store_root) is None:
        return False
    print("serving the last good store", file=sys.stderr)
    return True


def cmd_why(args: argparse.Namespace, settings: Settings) -> int:
    import json

    import pyoxigraph as ox

    from . import namespaces as ns
    from .pipeline import derivations, store
    build_dir = store.current_build(settings.store_root)
    if build_dir is None:
        print("no published build: run `tdkg build` first", file=sys.stderr)
        return 1
    graphs = [ox.NamedNode(g) for g in ns.FACT_GRAPHS]
    tree = derivations.why(build_dir, ox.Store.read_only(str(build_dir / "store")), graphs,
                           args.subject, args.predicate, args.object)
    if tree is None:
        print("the graph holds no such triple", file=sys.stderr)
        return 1
    print(json.dumps(tree, indent=2, ensure_ascii=False))
    return 0


def cmd_readme(args: argparse.Namespace, settings: Settings) -> int:
    from .readme import update
    print("README.md updated" if update(settings) else "README.md already current",
          file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from .pipeline import downloads, store
    build_dir = store.current_build(settings.store_root)
    if build_dir is None:
        print(f"no published store in {settings.store_root}: run `tdkg build` first",
              file=sys.stderr)
        return 2
    queries = settings.project_dir / "queries"
    if args.register:
        text = downloads.register_text(build_dir, queries)
        if args.out in (None, "-"):
            sys.stdout.buffer.write(text)
            sys.stdout.flush()
        else:
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(text)
            print(f"wrote {out} ({len(text):,} bytes)", file=sys.stderr)
        return 0
    out = Path(args.out or "exports")
    if downloads.read_manifest(build_dir) is not None:
        written = downloads.copy_downloads(build_dir, out)
    else:
        print(f"{build_dir.name} was built without downloads: writing them from its store",
              file=sys.stderr)
        downloads.write_downloads(build_dir, out=out, queries_dir=queries)
        written = [out / name for name in downloads.file_names() + [downloads.MANIFEST]]
    for path in written:
        print(f"{path}\t{path.stat().st_size} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser(argv).parse_args(argv)
    try:
        settings = settings_from(args)
    except ValueError as err:       # a setting with a value it cannot take: say which
        print(f"tdkg: {err}", file=sys.stderr)
        return 2
    commands = {"build": cmd_build, "serve": cmd_serve, "why": cmd_why, "readme": cmd_readme,
                "export": cmd_export}
    if args.command not in commands:
        return _curation_commands(args.command)[args.command][2](args, settings)
    return commands[args.command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
