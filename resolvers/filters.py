"""Turning typed filter inputs into adapter queries: scope narrowing, pushed filters, semi-joins.

A filter on a department-sourced attribute (living alone, disability, ...) becomes a key
set fetched from that department and handed to the owner of the root entity as a
semi-join (``keys_in``). Every filter names the field it reads; the caller must be
allowed to read that field in full, or the filter is refused as an oracle.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Eq, Filter, ListQuery, Range
from common.errors import BadRequestError, UnauthorizedFieldError
from common.jurisdiction import validate_scope
from resolvers.access import ALLOW
from resolvers.execute import Executor


@dataclass
class Plan:
    scope: str | None  # None = the narrowing left nothing in reach
    filters: dict[str, Filter] = field(default_factory=dict)
    keys_in: tuple[str, ...] | None = None


# filter argument -> (coordinates that must be readable in full, how it applies)
PUSHED: dict[str, dict[str, str]] = {  # entity -> {argument: field of that entity}
    "Person": {"gender": "gender", "registrationType": "registrationType"},
    "House": {"propertyType": "propertyType"},
    "Building": {"hasElevator": "hasElevator"},
    "Shop": {"category": "category", "foodSafetyGrade": "foodSafetyGrade"},
    "Event": {"category": "category"},
}
# argument -> (relation coordinate on Person, record type, record field, key field)
SEMI_JOINS: dict[str, tuple[str, str, str]] = {
    "livingAlone": ("Person.welfare", "Welfare", "livingAlone"),
    "careLevel": ("Person.welfare", "Welfare", "careLevel"),
    "elderlyAllowance": ("Person.welfare", "Welfare", "elderlyAllowance"),
    "disabilityCategory": ("Person.disability", "Disability", "category"),
    "hasDisability": ("Person.disability", "Disability", ""),
    "isVeteran": ("Person.veteran", "VeteranStatus", ""),
}


def narrow(caller: str, f: Any) -> str | None:
    scope: str | None = caller
    for attr in ("committee", "compound", "building"):
        code = getattr(f, attr, None)
        if code is None or scope is None:
            continue
        validate_scope(code)
        if code.startswith(scope):
            scope = code
        elif not scope.startswith(code):
            scope = None
    return scope


def require(ex: Executor, coordinate: str, argument: str) -> None:
    if ex.ctx.access.enforced(coordinate) != ALLOW:
        raise UnauthorizedFieldError(f"filtering on {coordinate} is not allowed for this role",
                                     coordinate=coordinate, argument=argument)


def _value(v: Any) -> Any:
    return v.value if hasattr(v, "value") else v


def years_ago(today: dt.date, n: int) -> dt.date:
    try:
        return today.replace(year=today.year - n)
    except ValueError:  # 29 February
        return today.replace(year=today.year - n, day=28)


def record_scope(scope: str) -> str:
    """Scope for fetching key sets from departments' person records.

    Those records carry at most a committee code, so a finer scope would find none; the
    key set only restricts a root query that is itself scoped, so nothing leaves the gateway.
    """
    return scope[:12]


def places_given(f: Any) -> bool:
    return any(getattr(f, a, None) is not None for a in ("committee", "compound", "building"))


async def plan(ex: Executor, entity: str, f: Any) -> Plan:
    if f is not None and places_given(f):
        # narrowing by place reveals where the rows are: only for callers who may read that
        require(ex, f"{entity}.jurisdictionCode", "committee/compound/building")
    p = Plan(narrow(ex.scope, f) if f is not None else ex.scope)
    if entity in ex.row_keys:
        p.keys_in = tuple(sorted(ex.row_keys[entity]))
    if f is None or p.scope is None:
        return p
    for arg, fld in PUSHED.get(entity, {}).items():
        v = getattr(f, arg, None)
        if v is not None:
            require(ex, f"{entity}.{fld}", arg)
            p.filters[fld] = Eq((_value(v),))
    if entity != "Person":
        return p
    if f.ageMin is not None or f.ageMax is not None:
        require(ex, "Person.age", "ageMin/ageMax")
        for bound in (f.ageMin, f.ageMax):
            if bound is not None and not 0 <= bound <= 200:
                raise BadRequestError("ageMin and ageMax must be between 0 and 200", argument="ageMin/ageMax")
        today = dt.date.today()
        hi = years_ago(today, f.ageMin) if f.ageMin is not None else None
        lo = years_ago(today, f.ageMax + 1) + dt.timedelta(days=1) if f.ageMax is not None else None
        p.filters["birthDate"] = Range(lo, hi)
    keysets: list[set[str]] = []
    for arg, (rel, rtype, rfield) in SEMI_JOINS.items():
        v = getattr(f, arg, None)
        if v is None:
            continue
        require(ex, rel, arg)
        if rfield:
            require(ex, f"{rtype}.{rfield}", arg)
        elif v is not True:
            _bad(arg)
        keysets.append(set(await keyset(ex, rtype, rfield, _value(v), record_scope(p.scope))))
    if p.keys_in is not None:
        keysets.append(set(p.keys_in))
    if keysets:
        p.keys_in = tuple(sorted(set.intersection(*keysets)))
    return p


async def keyset(ex: Executor, rtype: str, rfield: str, value: Any, scope: str) -> frozenset[str]:
    """ID numbers of the persons whose ``rtype`` record has ``rfield == value`` (any record when
    ``rfield`` is empty) within the scope, from the gateway's kept key sets when it keeps them (never
    for a caller whose rows are restricted by a relationship)."""
    async def fetch() -> frozenset[str]:
        filters = {rfield: Eq((value,))} if rfield else {}
        records, _ = await ex.list_root(rtype, ListQuery(scope=scope, filters=filters, limit=None))
        return frozenset(r["idNumber"] for r in records if r.get("idNumber"))

    cache = ex.ctx.keysets
    if cache is None or ex.row_keys:
        return await fetch()
    # the records are kept only within the caller's own scope (Executor.in_scope): it is part of the key;
    # so is the department's data version, where it has one (a ledger file's): a new version is a new set
    key = (rtype, rfield, value, scope, ex.scope, ex.owner(rtype).version(rtype))
    return await cache.get(key, fetch)  # type: ignore[no-any-return]


def _bad(arg: str) -> None:
    raise BadRequestError(f"{arg} accepts only true (there is no anti-join)", argument=arg)
