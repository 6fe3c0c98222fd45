"""One request's view of the policy: a decision per schema coordinate, asked once.

The policy engine caches decisions per (policy version, roles, purpose); this object
adds the per-type tables the planner needs (which fields to null, which to mask) so
shaping a record costs a few dict operations, never a policy call.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from policies.masks import MASKS
from policies.vocabulary import Effect

ALLOW, MASK, DENY, AGGREGATE = Effect.ALLOW, Effect.MASK, Effect.DENY, Effect.AGGREGATE


class Decides(Protocol):
    def decide(self, roles: Sequence[str], purpose: str | None, coordinate: str) -> Any: ...

    def can_use(self, roles: Sequence[str], capability: str) -> bool: ...

    def decide_write(self, roles: Sequence[str], mutation: str) -> Any: ...

    def row_rules(self, roles: Sequence[str]) -> tuple[tuple[str, str], ...]: ...

    def check_purpose(self, purpose: str | None) -> None: ...

    def budget(self, roles: Sequence[str]) -> int | None: ...


@dataclass(frozen=True)
class TypeRules:
    denied: tuple[str, ...]
    masked: tuple[tuple[str, Callable[[Any], Any]], ...]


class Access:
    def __init__(self, engine: Decides, roles: Sequence[str], purpose: str | None,
                 field_meta: Mapping[str, Mapping[str, Any]], type_fields: Mapping[str, Sequence[str]],
                 mode: str = "filter") -> None:
        self.engine = engine
        self.roles = tuple(roles)
        self.purpose = purpose
        self.meta = field_meta
        self.type_fields = type_fields
        self.mode = mode  # filter | reject | dry_run
        self._effects: dict[str, str] = {}
        self._rules: dict[str, TypeRules] = {}
        self.row_rules = engine.row_rules(self.roles)

    def effect(self, coordinate: str) -> str:
        e = self._effects.get(coordinate)
        if e is None:
            if coordinate == "Node.id" or coordinate.endswith(".id") and coordinate.split(".")[0] in self.type_fields:
                e = ALLOW  # opaque ids reveal nothing
            elif coordinate.startswith("Mutation."):
                e = self.engine.decide_write(self.roles, coordinate).effect  # allow or deny: nothing to mask
            else:
                e = self.engine.decide(self.roles, self.purpose, coordinate).effect
            self._effects[coordinate] = e
        return e

    def enforced(self, coordinate: str) -> str:
        """The effect the planner applies: in dry_run nothing is denied or masked."""
        return ALLOW if self.mode == "dry_run" else self.effect(coordinate)

    def readable(self, coordinate: str) -> bool:
        return self.enforced(coordinate) in (ALLOW, MASK)

    def can_use(self, capability: str) -> bool:
        return self.engine.can_use(self.roles, capability)

    def rules(self, type_name: str) -> TypeRules:
        r = self._rules.get(type_name)
        if r is None:
            denied: list[str] = []
            masked: list[tuple[str, Callable[[Any], Any]]] = []
            for f in self.type_fields.get(type_name, ()):
                e = self.enforced(f"{type_name}.{f}")
                if e == MASK:
                    kind = (self.meta.get(f"{type_name}.{f}") or {}).get("mask")
                    if kind in MASKS:
                        masked.append((f, MASKS[kind]))
                    else:
                        denied.append(f)
                elif e != ALLOW:
                    denied.append(f)
            r = TypeRules(tuple(denied), tuple(masked))
            self._rules[type_name] = r
        return r


class AllowAll:
    """The policy of a gateway with access control switched off (the benchmark floor), and of the gateway's
    own components reading for themselves (the water alert's watch list, resolvers/alerts.py)."""

    @dataclass(frozen=True)
    class _D:
        effect: str = ALLOW
        rule: str = "allow-all"
        reason: str = "granted"

    def decide(self, roles: Sequence[str], purpose: str | None, coordinate: str) -> Any:
        return self._D()

    def decide_write(self, roles: Sequence[str], mutation: str) -> Any:
        return self._D()

    def can_use(self, roles: Sequence[str], capability: str) -> bool:
        return True

    def row_rules(self, roles: Sequence[str]) -> tuple[tuple[str, str], ...]:
        return ()

    def check_purpose(self, purpose: str | None) -> None:
        return None

    def budget(self, roles: Sequence[str]) -> int | None:
        return None
