"""Typed build errors: each names what failed and where, and the CLI prints it as is."""
from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Problem:
    """One finding at a place in a source file: ``path:line: message``."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else \
            f"{self.path}: {self.message}"


class VocabularyError(BuildError):
    """Terms the ontology does not declare, or things used but never described; every problem
    of the build in one error, each naming file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"closed vocabulary: {len(problems)} unknown or undescribed term(s):\n"
                         f"{lines}")
