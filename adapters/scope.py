"""Pushing a jurisdiction scope down to a department's raw place-code values.

A record is in scope when its canonical place code starts with the scope. Departments
store place codes their own way, so the spec's jurisdiction transform is inverted here:
identity/strip (raw is the code), ``prefix: P`` (raw is the code without P) or ``map``
(raw is a department word per code). Anything else cannot be pushed down and is refused
when the spec is validated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PUSHABLE = ("strip", "str", "prefix", "map")


@dataclass(frozen=True)
class ScopeFilter:
    mode: str  # all | none | prefix | in
    value: str = ""
    values: tuple[str, ...] = ()


ALL = ScopeFilter("all")
NONE = ScopeFilter("none")


def check_pushable(transform: list[Any]) -> str | None:
    """Return an error message when the jurisdiction transform cannot be pushed down."""
    names = [t if isinstance(t, str) else next(iter(t)) for t in transform]
    bad = [n for n in names if n not in PUSHABLE]
    if bad or sum(n in ("prefix", "map") for n in names) > 1:
        return ("jurisdiction transforms must be at most one of prefix or map, optionally with strip, "
                f"so the scope can be pushed down (got {names})")
    return None


def scope_filter(transform: list[Any], scope: str | None) -> ScopeFilter:
    if scope is None:
        return ALL
    for t in transform:
        if isinstance(t, dict) and "prefix" in t:
            p = str(t["prefix"])
            if scope.startswith(p):
                rest = scope[len(p):]
                return ScopeFilter("prefix", rest) if rest else ALL
            return ALL if p.startswith(scope) else NONE
        if isinstance(t, dict) and "map" in t:
            raws = tuple(str(k) for k, v in t["map"].items() if str(v).startswith(scope))
            return ScopeFilter("in", values=raws) if raws else NONE
    return ScopeFilter("prefix", scope)
