"""The role x field matrix an auditor reads: what each role gets for each field.

The matrix asks the engine about ten thousand questions; pycasbin evaluates every policy
line for each one (tens of seconds). ``matrix`` therefore runs the same engine over a
``_Replay`` of the enforcer: the same rules and role links, indexed by subject, with each
glob evaluated once; it answers ``enforce_ex`` exactly as pycasbin does for the matchers of
model.conf, and the matrix falls back to pycasbin itself if the model ever changes.

The rows are the root fields the caller passes (``Query.*`` and interface fields such as
``Node.id``: the policy layer knows no schema), every coordinate of ``field_meta``, then the
gateway features the policy names (``PolicyEngine.capabilities``). Cells are ``Label``s in
the words of policies/vocabulary.py.

>>> rows = matrix(PolicyEngine(), {"Person.name": {"department": "population", "sensitive": "identity"}},
...               roots=["Query.persons"])
>>> print(render(rows, "csv").splitlines()[0].split(",")[:4])
['field', 'department', 'sensitivity', 'auditor']
>>> [r["field"] for r in rows][:3]
['Query.persons', 'Person.name', 'Gateway.trace']
"""
from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from casbin.core_enforcer import EnforceContext
from casbin.util.builtin_operators import glob_match

from policies.engine import CAPABILITY_PREFIX, MUTATION_PREFIX, Decision, PolicyEngine
from policies.loader import PURPOSE_CATEGORIES
from policies.matrix_page import page
from policies.vocabulary import Effect, Label

# The model the replay reproduces; any other model is left to pycasbin.
_MODEL = {
    ("m", "m"): 'g(r_sub, p_sub) && globMatch(r_obj, p_obj) && (r_act == p_act || p_act == "*")',
    ("m", "m2"): "g(r2_sub, p2_sub) && r2_cat == p2_cat && r2_pur == p2_pur",
    ("e", "e"): "some(where (p_eft == allow)) && !some(where (p_eft == deny))",
}


_GLOB_CHARS = frozenset("*?[{")
_GLOBS: dict[tuple[str, str], bool] = {}  # (coordinate, pattern) -> match; shared by replays (diff has two)


class _Replay:
    """``enforce_ex`` of the model above without the expression evaluator.

    pycasbin walks the policy lines in order; a matching deny line ends the walk and is the
    explanation, otherwise the last matching line is; the answer is allow when some line
    allowed and none denied. p2 lines carry no effect: a match allows.
    """

    def __init__(self, enforcer: Any) -> None:
        self._enforcer = enforcer
        self._lines: dict[str, dict[str, list[tuple[int, list[str]]]]] = {}
        for ptype in ("p", "p2"):
            by_sub: dict[str, list[tuple[int, list[str]]]] = {}
            for i, line in enumerate(enforcer.model["p"][ptype].policy):
                by_sub.setdefault(line[0], []).append((i, line))
            self._lines[ptype] = by_sub
        self._candidates_of: dict[tuple[str, str], list[list[str]]] = {}

    @staticmethod
    def applies(enforcer: Any) -> bool:
        model = enforcer.model
        try:
            return (all(model[sec][key].value == text for (sec, key), text in _MODEL.items())
                    and model["p"]["p"].tokens == ["p_sub", "p_obj", "p_act", "p_eft"]
                    and model["p"]["p2"].tokens == ["p2_sub", "p2_cat", "p2_pur"]
                    and bool(model["p"]["p"].policy))
        except KeyError:
            return False

    def _candidates(self, ptype: str, sub: str) -> list[list[str]]:
        """The lines whose subject is ``sub`` or a role it inherits, in policy order."""
        hit = self._candidates_of.get((ptype, sub))
        if hit is None:
            lineage = dict.fromkeys((sub, *self._enforcer.get_implicit_roles_for_user(sub)))
            lines = sorted((x for s in lineage for x in self._lines[ptype].get(s, ())), key=lambda x: x[0])
            hit = self._candidates_of[ptype, sub] = [line for _, line in lines]
        return hit

    def get_implicit_permissions_for_user(self, sub: str) -> list[list[str]]:
        return self._candidates("p", sub)

    @staticmethod
    def _glob(name: str, pattern: str) -> bool:
        if not _GLOB_CHARS.intersection(pattern):  # a literal pattern (most rules) matches only itself
            return name == pattern
        hit = _GLOBS.get((name, pattern))
        if hit is None:
            hit = _GLOBS[name, pattern] = bool(glob_match(name, pattern))
        return hit

    def enforce_ex(self, *rvals: Any) -> tuple[bool, list[str]]:
        if rvals and isinstance(rvals[0], EnforceContext):
            sub, cat, pur = rvals[1:]
            matched = [line for line in self._candidates("p2", sub) if line[1] == cat and line[2] == pur]
            return bool(matched), (matched[-1] if matched else [])
        sub, obj, act = rvals
        allowed, explain = False, []
        for line in self._candidates("p", sub):
            if (line[2] == act or line[2] == "*") and self._glob(obj, line[1]):
                explain = line
                if line[3] == "deny":
                    return False, line
                allowed = allowed or line[3] == "allow"
        return allowed, explain


def fast(engine: PolicyEngine) -> PolicyEngine:
    """A copy of the engine whose enforcer is replayed (decisions are identical, only quicker)."""
    enforcer = engine._enforcer  # read only: the replay stands in for it
    if not _Replay.applies(enforcer):
        return engine
    quick = copy.copy(engine)
    quick._enforcer = _Replay(enforcer)
    quick._cache, quick._use_cache, quick._lines = {}, {}, {}
    return quick


def coordinates(field_meta: Mapping[str, Any], roots: Iterable[str], capabilities: Iterable[str]) -> list[str]:
    """The matrix's rows: root fields, schema fields, capabilities; each once, in that order."""
    return list(dict.fromkeys([*roots, *field_meta, *capabilities]))


def needs_purpose(field_meta: Mapping[str, Mapping[str, Any]], coordinate: str) -> bool:
    return (field_meta.get(coordinate) or {}).get("sensitive") in PURPOSE_CATEGORIES


@dataclass(frozen=True)
class Cell:
    label: Label
    decisions: tuple[Decision, ...]  # the decision behind it; one per purpose when purposes unlock it


def cell(engine: PolicyEngine, role: str, coordinate: str, purpose_per_role: bool = True,
         sensitive: bool = False) -> Cell:
    """The most revealing decision without a purpose or, for ``sensitive`` fields, with any purpose."""
    if coordinate.startswith((CAPABILITY_PREFIX, MUTATION_PREFIX)):  # one action: use, write
        d = engine.explain(role, None, coordinate)
        return Cell(d.label(), (d,))
    top: Decision = engine.decide([role], None, coordinate)
    if purpose_per_role and sensitive and top.effect is not Effect.ALLOW:  # a purpose may lift it
        asked = [engine.decide([role], purpose, coordinate) for purpose in engine.purposes()]
        rank = max(d.effect.rank for d in asked)
        if rank > top.effect.rank:
            lifted = tuple(d for d in asked if d.effect.rank == rank)
            purposes = tuple(d.purpose for d in lifted if d.purpose is not None)
            return Cell(Label(lifted[0].label().word, purposes), lifted)
    return Cell(top.label(engine.standing_purposes(role)), (top,))


def matrix(engine: PolicyEngine, field_meta: Mapping[str, Mapping[str, Any]], roots: Sequence[str] = (),
           roles: Sequence[str] | None = None, purpose_per_role: bool = True,
           capabilities: Sequence[str] | None = None) -> list[dict[str, str]]:
    """One row per coordinate (root fields, schema fields, capabilities), one column per role."""
    roles = list(roles) if roles is not None else engine.roles()
    caps = engine.capabilities() if capabilities is None else capabilities
    engine = fast(engine)
    rows: list[dict[str, str]] = []
    for coordinate in coordinates(field_meta, roots, caps):
        meta = field_meta.get(coordinate) or {}
        row = {"field": coordinate, "department": str(meta.get("department") or "gateway"),
               "sensitivity": str(meta.get("sensitive") or "")}
        sensitive = needs_purpose(field_meta, coordinate)
        for role in roles:
            row[role] = str(cell(engine, role, coordinate, purpose_per_role, sensitive).label)
        rows.append(row)
    return rows


def render(rows: Sequence[Mapping[str, str]], fmt: str = "md", duties: Mapping[str, str] | None = None,
           titles: Mapping[str, str] | None = None, version: str | None = None) -> str:
    """The matrix as md, csv or html (a page: ``duties``, ``titles`` and ``version`` annotate it)."""
    if not rows:
        return ""
    header = list(rows[0])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r[h] for h in header) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        return page(rows, duties or {}, titles or {}, version)
    raise ValueError(f"unknown matrix format {fmt!r} (expected md, csv or html)")
