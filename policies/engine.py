"""The policy decision point: one decision per (roles, purpose, field), cached.

Casbin answers "may this role do this action on this coordinate?"; this module turns the
three answers (read, read_masked, aggregate) plus the purpose rules into one effect the
gateway applies to the whole field for the whole request. Nothing here runs per row.

>>> engine = PolicyEngine(field_meta={"Person.idNumber": {"sensitive": "identity", "mask": "id_number"}})
>>> engine.decide(["committee_worker"], None, "Person.idNumber").effect
'mask'
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin

from common.errors import UnknownPurposeError
from policies.loader import MODEL_FILE, PURPOSE_CATEGORIES, RulesAdapter, load

DEFAULT_DIR = Path(__file__).resolve().parent
NO_RULE = "default: no rule grants it"
# Actions that return something about a field, most revealing first.
_FIELD_ACTIONS = ("read", "read_masked", "aggregate")
_EFFECT_OF = {"read": ("allow", "granted"), "read_masked": ("mask", "masked"),
              "aggregate": ("aggregate", "aggregate_only")}


@dataclass(frozen=True)
class Decision:
    effect: str  # "allow" | "mask" | "deny" | "aggregate"
    rule: str  # the policy line(s) that decided, or NO_RULE
    reason: str  # granted | masked | no_grant | denied_by_rule | purpose_required | purpose_not_allowed | aggregate_only
    mask: str | None = None  # mask kind to apply when effect == "mask"
    purpose: str | None = None  # purpose that unlocked a sensitive category, if any

    @property
    def visible(self) -> bool:
        return self.effect in ("allow", "mask")


class PolicyEngine:
    def __init__(self, policy_dir: Path | None = None,
                 field_meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.policy_dir = Path(policy_dir) if policy_dir is not None else DEFAULT_DIR
        ps = load(self.policy_dir)
        self.version: str = ps.digest
        self._purposes = dict(ps.purposes)
        self._field_meta: Mapping[str, Mapping[str, Any]] = field_meta or {}
        for name in ("casbin", "casbin.policy", "casbin.enforcer", "casbin.role"):
            # pycasbin logs every policy line at load, every allowed request at INFO and every
            # denied one at WARNING; `gateway policy explain` shows any decision on demand
            logging.getLogger(name).setLevel(logging.ERROR)
        self._enforcer = casbin.Enforcer(str(self.policy_dir / MODEL_FILE), RulesAdapter(ps.casbin_rules))
        self._ctx2 = self._enforcer.new_enforce_context("2")
        self._roles = sorted({r.tokens[1] for r in ps.casbin_rules if r.tokens[0] == "g"})
        self._standing: dict[str, tuple[str, ...]] = {}
        for role in ps.roles:
            lineage = [role, *self._enforcer.get_implicit_roles_for_user(role)]
            self._standing[role] = tuple(dict.fromkeys(p for r in lineage for p in ps.standing.get(r, ())))
        self._row_rules: dict[str, tuple[tuple[str, str], ...]] = {}
        for role in ps.roles:
            lineage = [role, *self._enforcer.get_implicit_roles_for_user(role)]
            self._row_rules[role] = tuple(dict.fromkeys(r for x in lineage for r in ps.row_rules.get(x, ())))
        self.casbin_calls: int = 0
        self._cache: dict[tuple[tuple[str, ...], str | None, str], Decision] = {}
        self._use_cache: dict[tuple[tuple[str, ...], str], bool] = {}

    # -- catalogue -------------------------------------------------------------------
    def roles(self) -> list[str]:
        """The assignable roles (every role that inherits from another; base roles excluded)."""
        return list(self._roles)

    def purposes(self) -> dict[str, str]:
        return dict(self._purposes)

    def standing_purposes(self, role: str) -> tuple[str, ...]:
        return self._standing.get(role, ())

    def row_rules(self, roles: Sequence[str]) -> tuple[tuple[str, str], ...]:
        """(Entity, Type.field) pairs restricting rows to those related to the caller's user id."""
        return tuple(dict.fromkeys(r for role in roles for r in self._row_rules.get(role, ())))

    def check_purpose(self, purpose: str | None) -> None:
        if purpose is not None and purpose not in self._purposes:
            raise UnknownPurposeError(f"unknown purpose {purpose!r}", purpose=purpose)

    # -- decisions -------------------------------------------------------------------
    def decide(self, roles: Sequence[str], purpose: str | None, coordinate: str) -> Decision:
        self.check_purpose(purpose)
        key = (tuple(sorted(set(roles))), purpose, coordinate)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._decide(key[0], purpose, coordinate)
        return hit

    def explain(self, role: str, purpose: str | None, coordinate: str) -> Decision:
        return self.decide([role], purpose, coordinate)

    def can_use(self, roles: Sequence[str], capability: str) -> bool:
        key = (tuple(sorted(set(roles))), capability)
        hit = self._use_cache.get(key)
        if hit is None:
            allowed, denied = self._ask(key[0], capability, "use")
            hit = self._use_cache[key] = bool(allowed) and not denied
        return hit

    # -- internals -------------------------------------------------------------------
    def _enforce(self, *rvals: Any) -> tuple[bool, list[str]]:
        self.casbin_calls += 1
        ok, rule = self._enforcer.enforce_ex(*rvals)
        return bool(ok), list(rule)

    def _ask(self, roles: tuple[str, ...], coordinate: str, act: str) -> tuple[list[tuple[str, str]], list[str]]:
        """(roles allowed with the allowing rule, deny rules matched) for one action."""
        allowed: list[tuple[str, str]] = []
        denied: list[str] = []
        for role in roles:
            ok, rule = self._enforce(role, coordinate, act)
            if ok:
                allowed.append((role, "p, " + ", ".join(rule)))
            elif rule and rule[-1] == "deny":
                denied.append("p, " + ", ".join(rule))
        return allowed, denied

    def _purpose_rule(self, role: str, category: str, declared: str | None) -> tuple[str, str] | None:
        candidates = self._standing.get(role, ()) + ((declared,) if declared else ())
        for purpose in dict.fromkeys(candidates):
            ok, _ = self._enforce(self._ctx2, role, category, purpose)
            if ok:
                return purpose, f"p2, {role}, {category}, {purpose}"
        return None

    def _decide(self, roles: tuple[str, ...], purpose: str | None, coordinate: str) -> Decision:
        meta = self._field_meta.get(coordinate) or {}
        category = meta.get("sensitive")
        mask = meta.get("mask")
        needs_purpose = category in PURPOSE_CATEGORIES
        deny_rules: list[str] = []
        purpose_blocked: list[str] = []
        unmaskable: list[str] = []
        for act in _FIELD_ACTIONS:
            allowed, denied = self._ask(roles, coordinate, act)
            if denied:
                deny_rules.extend(denied)
                continue
            if not allowed:
                continue
            if act == "read_masked" and not mask:
                unmaskable.extend(f"{rule} (but the field has no mask)" for _, rule in allowed)
                continue
            effect, reason = _EFFECT_OF[act]
            if not needs_purpose or act == "aggregate":
                # Aggregates leave the gateway only as k-suppressed counts: no purpose needed.
                return Decision(effect, allowed[0][1], reason, mask if act == "read_masked" else None)
            for role, rule in allowed:
                found = self._purpose_rule(role, str(category), purpose)
                if found is not None:
                    return Decision(effect, f"{rule}; {found[1]}", reason,
                                    mask if act == "read_masked" else None, found[0])
            purpose_blocked.extend(rule for _, rule in allowed)
        if deny_rules:
            return Decision("deny", "; ".join(dict.fromkeys(deny_rules)), "denied_by_rule")
        if purpose_blocked:
            why = f"{'; '.join(dict.fromkeys(purpose_blocked))}; no p2 rule lets these roles use " + (
                f"purpose {purpose} for {category}" if purpose else f"{category} without a declared purpose")
            return Decision("deny", why, "purpose_not_allowed" if purpose else "purpose_required")
        if unmaskable:
            return Decision("deny", "; ".join(unmaskable), "no_grant")
        return Decision("deny", NO_RULE, "no_grant")
