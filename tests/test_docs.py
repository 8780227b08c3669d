"""The README stays true: its generated sections are current, and every setting and command is
documented."""
from __future__ import annotations

from support import PROJECT
from tdkg.cli import parser
from tdkg.readme import render
from tdkg.settings import FIELDS, env_name, load_settings

README = (PROJECT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    lines = [l for l in README.splitlines() if l.startswith("./scripts/setup.sh")]
    assert "tdkg serve" in lines[0] and "pytest" in lines[1]


def test_every_setting_is_documented():
    for field in FIELDS:
        assert env_name(field) in README and "--" + field.replace("_", "-") in README


def test_every_command_is_documented():
    commands = parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"tdkg {name}" in README


def test_generated_sections_are_current(built_state):
    settings = load_settings({"project_dir": PROJECT, "state_dir": built_state})
    assert render(README, settings) == README, "README is stale: run `tdkg readme`"


def test_tdkg_readme_command_fills_stale_sections(built_state, tmp_path):
    import shutil
    from support import run_tdkg
    shutil.copytree(PROJECT / "queries", tmp_path / "queries")
    shutil.copytree(PROJECT / "data" / "coverage", tmp_path / "data" / "coverage")
    stale = README.replace("| `--timeout` |", "| `--timeout-stale` |")
    (tmp_path / "README.md").write_text(stale)
    result = run_tdkg("readme", "--project-dir", str(tmp_path), "--state-dir", str(built_state))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "README.md").read_text() == README
