"""The coverage rows still to do: what ``tdkg build`` warns about and ``tdkg build --strict``
refuses to publish while any remain.

A row is still to do when its facts are ``none`` and its reason is ``todo``
(:data:`tdkg.coverage.TODO`); ``tdkg new-source`` writes a new document's table with every row
so. The tables are ``data/coverage/doc-NNN.tsv`` under the project folder.
"""
from __future__ import annotations

from pathlib import Path

from .. import coverage
from ..pipeline.errors import BuildError
from ..settings import Settings

COVERAGE_DIR = Path("data") / "coverage"


class CoverageTableError(BuildError):
    """A coverage table that cannot be read: names the file and, where it can, the line."""


def coverage_dir(settings: Settings) -> Path:
    return settings.project_dir / COVERAGE_DIR


def pending_rows(settings: Settings) -> dict[str, int]:
    """``{"doc-004": 9, …}``: for each document whose table has rows still marked todo, how
    many; documents with none are left out. Raises :class:`CoverageTableError` for a table
    that cannot be read (so that ``--strict`` never passes on a table nobody could count)."""
    pending = {}
    for path in sorted(coverage_dir(settings).glob("doc-*.tsv")):
        try:
            rows = coverage.read_table(path)
        except UnicodeDecodeError as err:
            raise CoverageTableError(f"{path}: not UTF-8 text (byte {err.start})") from None
        except (OSError, ValueError) as err:
            raise CoverageTableError(str(err)) from None
        count = sum(1 for row in rows if row.todo)
        if count:
            pending[path.stem] = count
    return pending
