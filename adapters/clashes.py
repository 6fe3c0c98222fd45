"""Problems between specs: two departments claiming one name.

A department name, a declared type or enum, a field added to a core type, and the supply
of an entity each belong to one department. A clash is reported on the department found
second, naming the other one with its file and line (``other_department``,
``other_path``, ``other_line``), so neither is blamed alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from adapters.loader import LoadedSpec
from adapters.problems import Loc, Problem


def declared_elsewhere(paths: Sequence[Path]) -> dict[str, str]:
    """Declared type -> declaring department, read cheaply from every spec that parses."""
    out: dict[str, str] = {}
    for p in paths:
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeError, yaml.YAMLError):
            continue
        types = raw.get("types") if isinstance(raw, dict) else None
        if isinstance(types, dict):
            for t in types:
                out.setdefault(str(t), p.parent.name)
    return out


def _claims(ls: LoadedSpec) -> list[tuple[str, Loc, str]]:
    """(what is claimed, where in the spec, the claim's wording) for one spec."""
    spec = ls.spec
    out: list[tuple[str, Loc, str]] = [(f"department {ls.name}", ("department",), "department name")]
    out += [(f"name {t}", ("types", t), f"type {t}") for t in spec.types]
    out += [(f"name {e}", ("enums", e), f"enum {e}") for e in spec.enums]
    out += [(f"field {coord}", ("types", t, "links", coord), f"field {coord}")
            for t, td in spec.types.items() for coord in td.links]
    out += [(f"supply {e}", ("entities", e), f"the supply of {e}") for e in spec.entities]
    return out


def clashes(loaded: Sequence[LoadedSpec]) -> list[Problem]:
    owners: dict[str, tuple[LoadedSpec, Loc]] = {}
    problems: list[Problem] = []
    for ls in loaded:
        for claim, loc, words in _claims(ls):
            first = owners.get(claim)
            if first is None:
                owners[claim] = (ls, loc)
                continue
            other, oloc = first
            extra: dict[str, Any] = {"other_department": other.name, "other_path": str(other.path),
                                     "other_line": other.line(oloc)}
            where = f"{other.path}" + (f":{extra['other_line']}" if extra["other_line"] else "")
            problems.append(ls.problem(loc, f"duplicate: {words} already belongs to department "
                                            f"{other.name!r} ({where}); each belongs to one department", **extra))
    return problems
