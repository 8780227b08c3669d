"""Typed build errors: each names what failed and where, and the CLI prints it as is."""
from __future__ import annotations

from pathlib import Path


class BuildError(Exception):
    """A build that must not be published. The last good store keeps serving."""


class LoadError(BuildError):
    """A source file that does not parse: names the file, line and column."""

    def __init__(self, path: Path, line: int | None, column: int | None, message: str):
        self.path, self.line, self.column, self.message = path, line, column, message
        where = f"{path}:{line}:{column}" if line is not None else str(path)
        super().__init__(f"{where}: syntax error: {message}")


class ValidationError(BuildError):
    """SHACL violations; ``report`` is pyshacl's readable report."""

    def __init__(self, report: str, count: int):
        self.report, self.count = report, count
        super().__init__(f"SHACL validation failed with {count} violation(s):\n{report}")


class InconsistencyError(BuildError):
    """The ontology and data contradict each other; the message names the clash."""
