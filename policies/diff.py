"""`gateway policy diff A B`: every matrix cell two versions of the policy decide differently, and why.

Both sides answer the matrix's questions (policies/matrix.py) over the same rows: the root and
schema fields the caller passes (one schema for both sides), then the capabilities either side
names; the columns are the roles of either side, so a field, capability or role that only B
knows reads ``no grant → ...``. A changed cell is written in the matrix's words
(policies/vocabulary.py) with the lines behind it: ``+`` a line of B that A lacks, `` `` a line
both have (where B has it), ``-`` a line of A that B lacks; a rule held through inheritance
brings the ``g`` lines that pass it on (and such a change follows the others of its field). For fields of a purpose category whose cell stays as it
was, the decision without a purpose and with each purpose is compared as well (the cell shows
only the best), so e.g. a new aggregate grant under a purpose-bound read still shows. Changed lines that no change cites (``rows``, ``budget``, ``duty``, a redundant
rule) are listed last.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.engine import CAPABILITY_PREFIX, MUTATION_PREFIX, Decision, PolicyEngine
from policies.loader import Rule
from policies.matrix import cell, coordinates, fast, needs_purpose

ARROW = "→"
NO_PURPOSE = "no purpose"


@dataclass(frozen=True)
class Cited:
    mark: str  # "+" only in B, " " in both (B's place), "-" only in A
    rule: Rule

    def __str__(self) -> str:
        return f"{self.mark} {self.rule.file}:{self.rule.line}  {self.rule.text}"

    def as_json(self) -> dict[str, Any]:
        return {"mark": self.mark, "file": self.rule.file, "line": self.rule.line, "text": self.rule.text}


@dataclass(frozen=True)
class Change:
    role: str
    field: str
    before: str
    after: str
    asked: tuple[str, ...] = ()  # the cell when empty; else the purposes asked with (NO_PURPOSE: none)
    rules: tuple[Cited, ...] = ()

    def __str__(self) -> str:
        what = f"{self.role} {self.field}" + (f" asked with {', '.join(self.asked)}" if self.asked else "")
        return f"{what}: {self.before} {ARROW} {self.after}"

    def as_json(self) -> dict[str, Any]:
        return {"role": self.role, "field": self.field, "asked": list(self.asked), "before": self.before,
                "after": self.after, "rules": [c.as_json() for c in self.rules]}


@dataclass(frozen=True)
class PolicyDiff:
    a: str
    b: str
    versions: tuple[str, str]
    changes: tuple[Change, ...]
    others: tuple[Cited, ...]  # changed lines no change cites

    def text(self) -> str:
        if not self.changes:
            out = [f"no change: {self.a} and {self.b} decide every cell alike"]
        else:
            out = [(f"{len(self.changes)} change(s) from {self.a} to {self.b} "
                    f"(policy version {self.versions[0]} {ARROW} {self.versions[1]})")]
        for c in self.changes:
            out += [str(c), *(f"  {r}" for r in c.rules)]
        if self.others:
            out += ["other changed lines (no matrix cell changes with them):", *(f"  {r}" for r in self.others)]
        return "\n".join(out) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "versions": list(self.versions),
                "changes": [c.as_json() for c in self.changes], "others": [r.as_json() for r in self.others]}


class _Side:
    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = fast(engine)
        self.purposes = set(engine.purposes())
        self.by_text: dict[str, Rule] = {}
        self.parents: dict[str, list[Rule]] = {}
        self.standing: dict[str, list[Rule]] = {}  # purpose -> its standing lines
        for rule in engine.lines:
            self.by_text.setdefault(rule.text, rule)
            if rule.tokens[0] == "g":
                self.parents.setdefault(rule.tokens[1], []).append(rule)
            elif rule.tokens[0] == "standing":
                self.standing.setdefault(rule.tokens[2], []).append(rule)

    def chain(self, role: str, holder: str) -> list[Rule] | None:
        """The g lines that pass the rules of ``holder`` on to ``role`` ([] for the role itself), else None."""
        paths: list[tuple[str, list[Rule]]] = [(role, [])]
        seen = {role}
        while paths:
            at, path = paths.pop(0)
            if at == holder:
                return path
            for g in self.parents.get(at, ()):
                if g.tokens[2] not in seen:
                    seen.add(g.tokens[2])
                    paths.append((g.tokens[2], [*path, g]))
        return None

    def behind(self, role: str, decisions: Iterable[Decision]) -> list[Rule]:
        """The lines that made the decisions: their rules, the g lines that pass them on, standing purposes."""
        out: list[Rule] = []
        for decision in decisions:
            for text in decision.rules:
                rule = self.by_text.get(text)
                if rule is not None:
                    out += [rule, *(self.chain(role, rule.tokens[1]) or ())]
            for rule in self.standing.get(decision.purpose or "", ()):
                via = self.chain(role, rule.tokens[1])
                if via is not None:
                    out += [rule, *via]
        return out

    def decide(self, role: str, purpose: str | None, field: str) -> Decision:
        """A purpose this side does not know is asked as none (the gateway would refuse it outright); a
        capability or a mutation is decided on its one action (use, write)."""
        if field.startswith((CAPABILITY_PREFIX, MUTATION_PREFIX)):
            return self.engine.explain(role, None, field)
        return self.engine.decide([role], purpose if purpose in self.purposes else None, field)


def _cite(role: str, da: Sequence[Decision], db: Sequence[Decision], a: _Side, b: _Side) -> tuple[Cited, ...]:
    cited = [Cited(" " if r.text in a.by_text else "+", r) for r in b.behind(role, db)]
    cited += [Cited("-", r) for r in a.behind(role, da) if r.text not in b.by_text]
    return tuple(dict.fromkeys(cited))


def diff(a: PolicyEngine, b: PolicyEngine, field_meta: Mapping[str, Mapping[str, Any]], roots: Sequence[str],
         names: tuple[str, str] = ("A", "B")) -> PolicyDiff:
    sa, sb = _Side(a), _Side(b)
    roles = sorted({*a.roles(), *b.roles()})
    purposes = sorted(sa.purposes | sb.purposes)
    changes: list[Change] = []
    for field in coordinates(field_meta, roots, [*a.capabilities(), *b.capabilities()]):
        sensitive = needs_purpose(field_meta, field)
        found: list[Change] = []
        for role in roles:
            ca, cb = cell(sa.engine, role, field, True, sensitive), cell(sb.engine, role, field, True, sensitive)
            if ca.label != cb.label:
                cites = _cite(role, ca.decisions, cb.decisions, sa, sb)
                found.append(Change(role, field, str(ca.label), str(cb.label), (), cites))
            elif sensitive:
                found += _per_purpose(role, field, purposes, sa, sb)
        # per field: roles whose own rules changed, then those inheriting the change (g lines cited)
        changes += sorted(found, key=lambda c: any(r.rule.tokens[0] == "g" for r in c.rules))
    cited = {c.rule.text for ch in changes for c in ch.rules}
    others = [Cited("-", r) for r in _unique(a.lines) if r.text not in sb.by_text and r.text not in cited]
    others += [Cited("+", r) for r in _unique(b.lines) if r.text not in sa.by_text and r.text not in cited]
    return PolicyDiff(names[0], names[1], (a.version, b.version), tuple(changes), tuple(others))


def _per_purpose(role: str, field: str, purposes: Sequence[str], a: _Side, b: _Side) -> list[Change]:
    """The decisions asked without and with each purpose that change, one Change per (before, after)."""
    found: dict[tuple[str, str], tuple[list[str], list[Decision], list[Decision]]] = {}
    for purpose in (None, *purposes):
        da, db = a.decide(role, purpose, field), b.decide(role, purpose, field)
        la, lb = str(da.label(a.engine.standing_purposes(role))), str(db.label(b.engine.standing_purposes(role)))
        if la != lb:
            asked, was, now = found.setdefault((la, lb), ([], [], []))
            asked.append(purpose or NO_PURPOSE)
            was.append(da)
            now.append(db)
    return [Change(role, field, la, lb, tuple(asked), _cite(role, was, now, a, b))
            for (la, lb), (asked, was, now) in found.items()]


def _unique(lines: Iterable[Rule]) -> list[Rule]:
    """The first line of each text, in order."""
    first: dict[str, Rule] = {}
    for rule in lines:
        first.setdefault(rule.text, rule)
    return list(first.values())
