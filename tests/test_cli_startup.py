"""The command line imports only what its command needs: `tdkg serve` runs gunicorn's master in
the very process that parsed the command line, and every HTTP worker is forked from it."""
from __future__ import annotations

import importlib
import subprocess
import sys

from support import PROJECT, run_tdkg

from tdkg import cli

HEAVY = ("pyoxigraph", "sqlite3", "tdkg.curation.diff", "tdkg.curation.find",
         "tdkg.curation.new_source", "tdkg.pipeline.history")


def test_each_curation_command_is_mapped_to_the_module_that_defines_it():
    defined = {name: module for module in cli.CURATION_MODULES
               for name in importlib.import_module(module).COMMANDS}
    assert cli.CURATION_COMMAND_MODULES == defined
    assert not set(defined) & set(cli.CORE_COMMANDS)


def imported_after_parsing(argv: list[str]) -> set[str]:
    """The modules of HEAVY that parsing ``argv`` imports, in a fresh interpreter."""
    code = ("import sys\nfrom tdkg.cli import parser\n"
            f"parser({argv!r}).parse_args({argv!r})\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_serve_imports_no_curation_module_nor_the_store_library():
    assert imported_after_parsing(["serve", "--port", "8000"]) == set()


def test_a_curation_command_imports_its_own_module_only():
    imported = imported_after_parsing(["builds"])
    assert "tdkg.pipeline.history" in imported
    assert not imported & {"tdkg.curation.diff", "tdkg.curation.find", "tdkg.curation.new_source"}


def test_every_command_prints_its_help():
    # argparse formats help text with %: a setting's help with a bare "%" once broke them all
    for name in [*cli.CORE_COMMANDS, *cli.CURATION_COMMAND_MODULES]:
        result = run_tdkg(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.startswith(f"usage: tdkg {name}"), name
    assert "8 % faster" in run_tdkg("serve", "--help").stdout.replace("\n", " ")


def test_help_still_lists_every_command():
    result = run_tdkg("--help")
    assert result.returncode == 0, result.stderr
    for name in [*cli.CORE_COMMANDS, *cli.CURATION_COMMAND_MODULES]:
        assert name in result.stdout, name
    result = run_tdkg("no-such-command")
    assert result.returncode == 2 and "new-source" in result.stderr
