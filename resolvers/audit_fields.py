"""What the audit record needs from a request's document and its released records.

- ``decisions``: every coordinate the operation asks, with the policy's word for it, and
  whether any identity or sensitive-category field would be released (the fail-closed test,
  made before execution);
- ``subject_field``: per type and request, the field naming the person a record is about,
  when the selection releases one of that type's sensitive fields (the Executor then reads
  it once per record while shaping).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from graphql import FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode

from resolvers.access import AGGREGATE, ALLOW, DENY, MASK, Access
from resolvers.selection import coordinates

WORDS: dict[str, str] = {e: str(e.word) for e in (ALLOW, MASK, DENY, AGGREGATE)}  # the words of `gateway policy matrix`
SUBJECT_KEY = "idNumber"  # the canonical key of a person, on Person and on every person-keyed record


def sensitive(access: Access, coordinate: str) -> bool:
    """Released (allowed or masked) and of a sensitive category (identity, contact, health, ...)."""
    return bool((access.meta.get(coordinate) or {}).get("sensitive")) and access.readable(coordinate)


def decisions(schema: GraphQLSchema, operation: OperationDefinitionNode,
              fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any], access: Access,
              policed: Collection[str]) -> tuple[dict[str, str], bool]:
    out: dict[str, str] = {}
    releases = False
    for tname, fname, _path, _node in coordinates(schema, operation, fragments, variables):
        c = f"{tname}.{fname}"
        if c in out or tname not in policed:
            continue
        effect = access.effect(c)
        out[c] = WORDS.get(effect, effect)
        releases = releases or sensitive(access, c)
    return out, releases


def subject_field(access: Access, type_name: str, selected: Collection[str]) -> str | None:
    if SUBJECT_KEY not in access.type_fields.get(type_name, ()):
        return None
    return SUBJECT_KEY if any(sensitive(access, f"{type_name}.{f}") for f in selected) else None


def standing_purposes(access: Access) -> list[str]:
    """Purposes the caller's roles always imply (in force with or without a declared one)."""
    of = getattr(access.engine, "standing_purposes", None)
    return sorted({p for role in access.roles for p in of(role)}) if of is not None else []
