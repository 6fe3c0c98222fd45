"""Problems found in a spec, each naming department, file, line and key; all of them at once.

The loader never stops at the first mistake: it gathers every problem of every spec and
raises one SpecError whose ``details`` are those of the first problem (department, path,
key, line) plus ``problems``: the list of all, each a dict with the same keys and a
``message``. ``pydantic_problems`` turns a pydantic ValidationError into such a list.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from common.errors import SpecEnvError, SpecError

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    department: str
    path: str
    key: str | None
    line: int | None
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        return {"department": self.department, "path": self.path, "key": self.key, "line": self.line,
                **self.extra}

    def as_dict(self) -> dict[str, Any]:
        return {**self.details(), "message": self.message}

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        return f"department {self.department!r}: {where}: " + (f"{self.key}: " if self.key else "") + self.message


def line_of(node: yaml.Node | None, loc: Loc) -> int | None:
    """The line of the deepest key of ``loc`` present in the YAML node tree (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


@dataclass
class SpecSource:
    """One spec file being read: where its problems are, and the problems found so far."""

    department: str
    path: Path
    node: yaml.Node | None = None
    problems: list[Problem] = field(default_factory=list)

    def line(self, loc: Loc) -> int | None:
        return line_of(self.node, loc) if self.node is not None else None

    def problem(self, loc: Loc, message: str, **extra: Any) -> Problem:
        key = ".".join(str(p) for p in loc) or None
        return Problem(self.department, str(self.path), key, self.line(loc), message, extra)

    def add(self, loc: Loc, message: str, **extra: Any) -> None:
        self.problems.append(self.problem(loc, message, **extra))


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r} (misspelt? see docs/adapter-spec.md for the allowed keys)"
    if err["type"] == "missing":
        return "required key is missing"
    return str(err["msg"])


def pydantic_problems(e: ValidationError, src: SpecSource, prefix: Loc = ()) -> list[Problem]:
    """Every error of a pydantic validation as a Problem (an unknown key sorts before the key it
    leaves missing, since a misspelt key is the usual cause of both)."""
    errs = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")
    return [src.problem((*prefix, *err["loc"]), _message(err)) for err in errs]


def ordered(problems: Iterable[Problem]) -> list[Problem]:
    """Unique problems, by file, then line (unplaced last), keeping the order found within a line."""
    out = list({str(p): p for p in problems}.values())
    return sorted(out, key=lambda p: (p.path, p.line if p.line is not None else 1 << 30))


def spec_error(problems: Sequence[Problem]) -> SpecError:
    """One error for all the problems: SPEC_ENV_MISSING when only variables are missing, else SPEC_INVALID."""
    first = problems[0]
    err: type[SpecError] = SpecEnvError if all("env" in p.extra for p in problems) else SpecError
    return err("\n".join(str(p) for p in problems), **first.details(),
               problems=[p.as_dict() for p in problems])
