"""Reads and validates the policy folder: every ``*.csv`` file, one rule per line.

Line types (first column):

- ``p, role, Type.field, action, allow|deny``  field and capability grants (Casbin);
- ``g, role, parent_role``                     role inheritance (Casbin);
- ``p2, role, category, purpose``              purpose grants for sensitive categories (Casbin);
- ``purpose, id, description``                 the purpose catalogue;
- ``standing, role, purpose``                  a purpose the role's duty always implies;
- ``rows, role, Entity, Type.field``           relationship row scope: the role sees an Entity
                                               row only when that related field equals the
                                               caller's user id (on top of the jurisdiction).
- ``budget, role, cost``                       the role's query cost budget, overriding the
                                               ``cost_budget`` setting (inherited by child roles).
- ``duty, role, text``                         what the role is for, in a few words (the column
                                               notes of the HTML matrix); at most one per role,
                                               quote the text when it holds a comma.

Blank lines and lines starting with ``#`` are comments. Any other line is an error that
names the file and line: a policy that cannot be read must stop the gateway at start-up.
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from casbin import persist

from common.errors import PolicyFileError

ACTIONS = frozenset({"read", "read_masked", "aggregate", "write", "use"})
PURPOSE_CATEGORIES = frozenset({"health", "disability", "minors", "whereabouts"})
MODEL_FILE = "model.conf"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PART = r"(?:\*|[A-Za-z_][A-Za-z0-9_]*\*?)"
_COORD = re.compile(rf"^{_PART}\.{_PART}$")


@dataclass(frozen=True)
class Rule:
    """One policy line, kept with where it came from (for explain and error messages)."""

    tokens: tuple[str, ...]
    file: str
    line: int

    @property
    def text(self) -> str:
        return ", ".join(self.tokens)


@dataclass
class PolicySet:
    model_text: str
    casbin_rules: list[Rule] = field(default_factory=list)
    purposes: dict[str, str] = field(default_factory=dict)
    standing: dict[str, list[str]] = field(default_factory=dict)
    row_rules: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    budgets: dict[str, int] = field(default_factory=dict)
    roles: set[str] = field(default_factory=set)
    duties: dict[str, str] = field(default_factory=dict)
    lines: list[Rule] = field(default_factory=list)  # every line of every kind, in file order (for diff)
    digest: str = ""


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    text = path.read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        row = next(csv.reader([stripped], skipinitialspace=True))
        out.append((lineno, [c.strip() for c in row]))
    return out


def _fail(path: Path, lineno: int, why: str) -> PolicyFileError:
    return PolicyFileError(f"{path.name}:{lineno}: {why}", file=path.name, line=lineno)


def load(policy_dir: Path) -> PolicySet:
    model_path = policy_dir / MODEL_FILE
    if not model_path.is_file():
        raise PolicyFileError(f"{MODEL_FILE} not found in {policy_dir}", file=MODEL_FILE)
    files = sorted(policy_dir.glob("*.csv"))
    if not files:
        raise PolicyFileError(f"no policy files (*.csv) in {policy_dir}", file=str(policy_dir))
    ps = PolicySet(model_text=model_path.read_text(encoding="utf-8"))
    digest = hashlib.sha256(ps.model_text.encode())
    parsed: list[tuple[Path, int, list[str]]] = []
    for path in files:
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
        parsed.extend((path, n, row) for n, row in _rows(path))
    ps.digest = digest.hexdigest()[:12]

    # Pass 1: catalogue and role declarations (so files may be read in any order).
    for path, n, row in parsed:
        kind = row[0]
        if kind == "purpose":
            if len(row) != 3 or not _NAME.match(row[1]) or not row[2]:
                raise _fail(path, n, "expected: purpose, id, description")
            if row[1] in ps.purposes:
                raise _fail(path, n, f"purpose {row[1]!r} declared twice")
            ps.purposes[row[1]] = row[2]
        elif kind == "g":
            if len(row) != 3 or not all(_NAME.match(t) for t in row[1:]):
                raise _fail(path, n, "expected: g, role, parent_role")
            ps.roles.update(row[1:])
    # Pass 2: everything else, checked against the catalogue and the declared roles.
    for path, n, row in parsed:
        kind = row[0]
        ps.lines.append(Rule(tuple(row), path.name, n))
        if kind == "purpose":
            continue
        if kind == "g":
            ps.casbin_rules.append(Rule(tuple(row), path.name, n))
        elif kind == "p":
            _check_p(path, n, row, ps.roles)
            ps.casbin_rules.append(Rule(tuple(row), path.name, n))
        elif kind == "p2":
            if len(row) != 4:
                raise _fail(path, n, "expected: p2, role, category, purpose")
            _check_role(path, n, row[1], ps.roles)
            if row[2] not in PURPOSE_CATEGORIES:
                raise _fail(path, n, f"category must be one of {sorted(PURPOSE_CATEGORIES)}")
            _check_purpose(path, n, row[3], ps.purposes)
            ps.casbin_rules.append(Rule(tuple(row), path.name, n))
        elif kind == "standing":
            if len(row) != 3:
                raise _fail(path, n, "expected: standing, role, purpose")
            _check_role(path, n, row[1], ps.roles)
            _check_purpose(path, n, row[2], ps.purposes)
            ps.standing.setdefault(row[1], []).append(row[2])
        elif kind == "rows":
            if len(row) != 4 or not _COORD.match(row[3]) or "*" in row[3]:
                raise _fail(path, n, "expected: rows, role, Entity, Type.field")
            _check_role(path, n, row[1], ps.roles)
            ps.row_rules.setdefault(row[1], []).append((row[2], row[3]))
        elif kind == "budget":
            if len(row) != 3 or not row[2].isdigit() or int(row[2]) < 1:
                raise _fail(path, n, "expected: budget, role, cost (a positive whole number)")
            _check_role(path, n, row[1], ps.roles)
            if row[1] in ps.budgets:
                raise _fail(path, n, f"budget of {row[1]!r} declared twice")
            ps.budgets[row[1]] = int(row[2])
        elif kind == "duty":
            if len(row) != 3 or not row[2]:
                raise _fail(path, n, "expected: duty, role, text")
            _check_role(path, n, row[1], ps.roles)
            if row[1] in ps.duties:
                raise _fail(path, n, f"duty of {row[1]!r} declared twice")
            ps.duties[row[1]] = row[2]
        else:
            raise _fail(path, n, f"unknown line type {kind!r} (expected p, g, p2, purpose, standing, rows, budget "
                                 "or duty)")
    return ps


def _check_role(path: Path, n: int, role: str, roles: set[str]) -> None:
    if role not in roles:
        raise _fail(path, n, f"role {role!r} is not declared by any g line in roles.csv")


def _check_purpose(path: Path, n: int, purpose: str, purposes: dict[str, str]) -> None:
    if purpose not in purposes:
        raise _fail(path, n, f"purpose {purpose!r} is not in the purpose catalogue")


def _check_p(path: Path, n: int, row: list[str], roles: set[str]) -> None:
    if len(row) != 5:
        raise _fail(path, n, "expected: p, role, Type.field, action, allow|deny")
    _, role, obj, act, eft = row
    _check_role(path, n, role, roles)
    if not _COORD.match(obj):
        raise _fail(path, n, f"object {obj!r} is not a coordinate like Type.field, Type.* or *.field")
    if eft not in ("allow", "deny"):
        raise _fail(path, n, "effect must be allow or deny")
    if act == "*" and eft != "deny":
        raise _fail(path, n, "action * is only allowed in deny rules")
    if act != "*" and act not in ACTIONS:
        raise _fail(path, n, f"action must be one of {sorted(ACTIONS)}")
    if (act == "use") != obj.startswith("Gateway.") and act != "*":
        raise _fail(path, n, "action use goes with Gateway.* capabilities, and only with them")


class RulesAdapter(persist.Adapter):  # type: ignore[misc]
    """Feeds already-validated rules to Casbin (read-only: policies change by editing files)."""

    def __init__(self, rules: list[Rule]) -> None:
        self._rules = rules

    def load_policy(self, model: object) -> None:
        for rule in self._rules:
            persist.load_policy_line(rule.text, model)
