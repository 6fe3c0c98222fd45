"""The policy decision point: one decision per (roles, purpose, field), cached.

Casbin answers "may this role do this action on this coordinate?"; this module turns the
three answers (read, read_masked, aggregate) plus the purpose rules into one effect the
gateway applies to the whole field for the whole request. Nothing here runs per row.

>>> engine = PolicyEngine(field_meta={"Person.idNumber": {"sensitive": "identity", "mask": "id_number"}})
>>> engine.decide(["committee_worker"], None, "Person.idNumber").effect
<Effect.MASK: 'mask'>
>>> str(engine.decide(["committee_worker"], None, "Person.idNumber").label())
'masked'
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin

from common.errors import UnknownPurposeError
from policies.loader import MODEL_FILE, PURPOSE_CATEGORIES, Rule, RulesAdapter, load
from policies.vocabulary import Effect, Label, Reason, word

DEFAULT_DIR = Path(__file__).resolve().parent
NO_RULE = "default: no rule grants it"
# Actions that return something about a field, most revealing first.
_FIELD_ACTIONS = ("read", "read_masked", "aggregate")
NAMED_ONLY = ("spec", "link")  # field origins (schema/model.py) granted only by rules that name them
_EFFECT_OF = {"read": (Effect.ALLOW, Reason.GRANTED), "read_masked": (Effect.MASK, Reason.MASKED),
              "aggregate": (Effect.AGGREGATE, Reason.AGGREGATE_ONLY)}
CAPABILITY_PREFIX = "Gateway."
MUTATION_PREFIX = "Mutation."


@dataclass(frozen=True)
class Decision:
    effect: Effect
    rule: str  # the policy line(s) that decided, or NO_RULE, as one readable text
    reason: Reason
    mask: str | None = None  # mask kind to apply when effect is MASK
    purpose: str | None = None  # purpose that unlocked a sensitive category, if any
    rules: tuple[str, ...] = ()  # the deciding p/p2 lines, each as its text (``PolicyEngine.source`` finds it)
    capability: bool = False  # a gateway feature (action use) rather than a field

    @property
    def visible(self) -> bool:
        return self.effect.visible

    def label(self, standing: Collection[str] = ()) -> Label:
        """The decision in the matrix's words; ``standing``: the standing purposes of the role asked about."""
        purposes = (self.purpose,) if self.purpose is not None else ()
        return Label(word(self.effect, self.reason, self.capability), purposes, self.purpose in standing)


class PolicyEngine:
    def __init__(self, policy_dir: Path | None = None,
                 field_meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.policy_dir = Path(policy_dir) if policy_dir is not None else DEFAULT_DIR
        ps = load(self.policy_dir)
        self.version: str = ps.digest
        self._purposes = dict(ps.purposes)
        self._duties = dict(ps.duties)
        self.lines: tuple[Rule, ...] = tuple(ps.lines)
        self._sources = {r.text: r for r in reversed(ps.casbin_rules)}  # the first line of a text wins
        self._capabilities = tuple(dict.fromkeys(
            r.tokens[2] for r in ps.casbin_rules
            if r.tokens[0] == "p" and r.tokens[2].startswith(CAPABILITY_PREFIX) and "*" not in r.tokens[2]))
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
        self._budgets: dict[str, int] = {}
        for role in ps.roles:
            lineage = [role, *self._enforcer.get_implicit_roles_for_user(role)]
            own = next((ps.budgets[r] for r in lineage if r in ps.budgets), None)
            if own is not None:
                self._budgets[role] = own
        self.casbin_calls: int = 0
        self._cache: dict[tuple[tuple[str, ...], str | None, str], Decision] = {}
        self._use_cache: dict[tuple[tuple[str, ...], str, str], Decision] = {}  # (roles, coordinate, action)
        self._lines: dict[str, list[list[str]]] = {}

    # -- catalogue -------------------------------------------------------------------
    def roles(self) -> list[str]:
        """The assignable roles (every role that inherits from another; base roles excluded)."""
        return list(self._roles)

    def budget(self, roles: Sequence[str]) -> int | None:
        """The largest cost budget the policy gives any of these roles (None: the setting applies)."""
        given = [self._budgets[r] for r in roles if r in self._budgets]
        return max(given) if given else None

    def purposes(self) -> dict[str, str]:
        return dict(self._purposes)

    def duties(self) -> dict[str, str]:
        """role -> what it is for (``duty`` lines)."""
        return dict(self._duties)

    def capabilities(self) -> tuple[str, ...]:
        """The gateway features (``Gateway.*``) the policy names, in policy order."""
        return self._capabilities

    def source(self, text: str) -> Rule | None:
        """The policy line (file and line number) of a p, p2 or g rule given as its text."""
        return self._sources.get(text)

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
        """One role's decision for a field, a capability (``Gateway.*``) or a mutation (``Mutation.*``)."""
        if coordinate.startswith(CAPABILITY_PREFIX):
            return self.decide_use([role], coordinate)
        if coordinate.startswith(MUTATION_PREFIX):
            return self.decide_write([role], coordinate)
        return self.decide([role], purpose, coordinate)

    def can_use(self, roles: Sequence[str], capability: str) -> bool:
        return self.decide_use(roles, capability).effect is Effect.ALLOW

    def decide_use(self, roles: Sequence[str], capability: str) -> Decision:
        return self._decide_one(roles, capability, "use")

    def decide_write(self, roles: Sequence[str], mutation: str) -> Decision:
        """May these roles run ``Mutation.x`` (action ``write``)? Which rows it may write is the
        mutation's own check of the caller's jurisdiction on its target."""
        return self._decide_one(roles, mutation, "write")

    def _decide_one(self, roles: Sequence[str], coordinate: str, act: str) -> Decision:
        """A decision on one action, nothing else to weigh: a deny rule, else an allow rule, else none."""
        key = (tuple(sorted(set(roles))), coordinate, act)
        hit = self._use_cache.get(key)
        if hit is None:
            allowed, denied = self._ask(key[0], coordinate, act)
            cap = act == "use"
            if denied:
                found = tuple(dict.fromkeys(denied))
                hit = Decision(Effect.DENY, "; ".join(found), Reason.DENIED_BY_RULE, rules=found, capability=cap)
            elif allowed:
                hit = Decision(Effect.ALLOW, allowed[0][1], Reason.GRANTED, rules=(allowed[0][1],), capability=cap)
            else:
                hit = Decision(Effect.DENY, NO_RULE, Reason.NO_GRANT, capability=cap)
            self._use_cache[key] = hit
        return hit

    # -- internals -------------------------------------------------------------------
    def _enforce(self, *rvals: Any) -> tuple[bool, list[str]]:
        self.casbin_calls += 1
        ok, rule = self._enforcer.enforce_ex(*rvals)
        return bool(ok), list(rule)

    def _ask(self, roles: tuple[str, ...], coordinate: str, act: str,
             origin: str | None = None) -> tuple[list[tuple[str, str]], list[str]]:
        """(roles allowed with the allowing rule, deny rules matched) for one action.

        A field a department's spec declares (``origin`` spec) is granted only by a rule naming
        its type (``MealSubsidy.*`` or the field); one it adds to a core type (``origin`` link)
        only by a rule naming the field itself (``Person.mealSubsidy``): grants written before
        it existed (``Person.*``, ``*.idNumber``) never reach it. Deny rules reach it as any field.
        """
        allowed: list[tuple[str, str]] = []
        denied: list[str] = []
        for role in roles:
            ok, rule = self._enforce(role, coordinate, act)
            if ok and origin in NAMED_ONLY and not _names(rule[1], coordinate, origin):
                named = self._named_rule(role, coordinate, act, str(origin))
                if named is None:
                    continue
                ok, rule = True, named
            if ok:
                allowed.append((role, "p, " + ", ".join(rule)))
            elif rule and rule[-1] == "deny":
                denied.append("p, " + ", ".join(rule))
        return allowed, denied

    def _named_rule(self, role: str, coordinate: str, act: str, origin: str) -> list[str] | None:
        """The last allow rule of the role (or a role it inherits) that names the coordinate, if any."""
        lines = self._lines.get(role)
        if lines is None:
            lines = self._lines[role] = [list(x) for x in self._enforcer.get_implicit_permissions_for_user(role)]
        named = [x for x in lines if len(x) >= 4 and x[3] == "allow" and x[2] in (act, "*")
                 and _names(x[1], coordinate, origin)]
        return named[-1] if named else None

    def _purpose_rule(self, role: str, category: str, declared: str | None) -> tuple[str, str] | None:
        candidates = self._standing.get(role, ()) + ((declared,) if declared else ())
        for purpose in dict.fromkeys(candidates):
            ok, line = self._enforce(self._ctx2, role, category, purpose)
            if ok:  # the p2 line that matched: the role's own or one it inherits
                return purpose, "p2, " + ", ".join(line or (role, category, purpose))
        return None

    def _decide(self, roles: tuple[str, ...], purpose: str | None, coordinate: str) -> Decision:
        meta = self._field_meta.get(coordinate) or {}
        origin = meta.get("origin")
        category = meta.get("sensitive")
        mask = meta.get("mask")
        needs_purpose = category in PURPOSE_CATEGORIES
        deny_rules: list[str] = []
        purpose_blocked: list[str] = []
        unmaskable: list[str] = []
        for act in _FIELD_ACTIONS:
            allowed, denied = self._ask(roles, coordinate, act, origin)
            if denied:
                deny_rules.extend(denied)
                continue
            if not allowed:
                continue
            if act == "read_masked" and not mask:
                unmaskable.extend(rule for _, rule in allowed)
                continue
            effect, reason = _EFFECT_OF[act]
            kind = mask if act == "read_masked" else None
            if not needs_purpose or act == "aggregate":
                # Aggregates leave the gateway only as k-suppressed counts: no purpose needed.
                return Decision(effect, allowed[0][1], reason, kind, rules=(allowed[0][1],))
            for role, rule in allowed:
                found = self._purpose_rule(role, str(category), purpose)
                if found is not None:
                    return Decision(effect, f"{rule}; {found[1]}", reason, kind, found[0], rules=(rule, found[1]))
            purpose_blocked.extend(rule for _, rule in allowed)
        if deny_rules:
            denials = tuple(dict.fromkeys(deny_rules))
            return Decision(Effect.DENY, "; ".join(denials), Reason.DENIED_BY_RULE, rules=denials)
        if purpose_blocked:
            blocked = tuple(dict.fromkeys(purpose_blocked))
            why = f"{'; '.join(blocked)}; no p2 rule lets these roles use " + (
                f"purpose {purpose} for {category}" if purpose else f"{category} without a declared purpose")
            return Decision(Effect.DENY, why, Reason.PURPOSE_NOT_ALLOWED if purpose else Reason.PURPOSE_REQUIRED,
                            rules=blocked)
        if unmaskable:
            return Decision(Effect.DENY, "; ".join(f"{r} (but the field has no mask)" for r in unmaskable),
                            Reason.NO_GRANT, rules=tuple(unmaskable))
        return Decision(Effect.DENY, NO_RULE, Reason.NO_GRANT)


def _names(pattern: str, coordinate: str, origin: str | None) -> bool:
    """Whether a rule's object names the coordinate the way its origin requires (see PolicyEngine._ask)."""
    if pattern == coordinate:
        return True
    return origin == "spec" and pattern == coordinate.split(".", 1)[0] + ".*"
