"""Turning typed filter inputs into adapter queries: scope narrowing, pushed filters, semi-joins.

A filter on a department-sourced attribute (living alone, disability, ...) becomes a key
set fetched from that department. A small intersection (at most ``SHIP_KEYS``) is handed
to the owner of the root entity as a semi-join (``keys_in``); a larger one is intersected
in the gateway with the root's own key set for the scope and pushed filters, kept like the
department key sets, so the set is exact without shipping it anywhere: its size is the
``totalCount`` and a page is the records of its next keys in order; the intersection itself is
kept too, so a warm filtered count costs a look-up. Every filter names the
field it reads; the caller must be allowed to read that field in full, or the filter is
refused as an oracle.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.base import Eq, Filter, ListQuery, Range, Record
from common.dates import years_ago
from common.errors import BadRequestError, UnauthorizedFieldError
from common.jurisdiction import validate_scope
from resolvers.access import ALLOW
from resolvers.execute import Executor
from resolvers.keysets import record_scope, root_keys
from resolvers.shop_grade import grades
from resolvers.tags import data_versions, named
from resolvers.tags import filtered as tag_filter


@dataclass
class Plan:
    scope: str | None  # None = the narrowing left nothing in reach
    filters: dict[str, Filter] = field(default_factory=dict)
    keys_in: tuple[str, ...] | None = None  # sorted
    exact: bool = False  # keys_in is the answer itself (scope and filters applied), not a restriction


SHIP_KEYS = 2000  # keys at most handed to the root's owner as a semi-join (three IN lists); more: exact sets
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
    "minimumLivingGuarantee": ("Person.welfare", "Welfare", "minimumLivingGuarantee"),
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
    if entity == "Shop" and getattr(f, "grade", None) is not None:
        require(ex, "Shop.grade", "grade")
        shops = await graded(ex, p.scope, _value(f.grade))
        p.keys_in = tuple(sorted(shops if p.keys_in is None else shops & set(p.keys_in)))
    if entity != "Person":
        await tagged(ex, entity, p, f)
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
    joins: list[tuple[str, str, Any]] = []
    for arg, (rel, rtype, rfield) in SEMI_JOINS.items():
        v = getattr(f, arg, None)
        if v is None:
            continue
        require(ex, rel, arg)
        if rfield:
            require(ex, f"{rtype}.{rfield}", arg)
        elif v is not True:
            _bad(arg)
        joins.append((rtype, rfield, _value(v)))
    if joins:
        found = await joined(ex, entity, p, joins)
        p.keys_in, p.exact = found.keys, found.exact
    await tagged(ex, entity, p, f)
    return p


async def tagged(ex: Executor, entity: str, p: Plan, f: Any) -> None:
    """``tags`` and ``notTags`` (resolvers/tags.py): the tags' key set over the plan's scope, with the plan's
    keys and pushed filters applied, is the exact answer; kept sorted like a joined key set."""
    if not getattr(f, "tags", None) and not getattr(f, "notTags", None):
        return
    require(ex, f"{entity}.tags", "tags")
    yes, no = named(ex, entity, f.tags or (), "tags"), named(ex, entity, f.notTags or (), "notTags")
    assert p.scope is not None
    scope = p.scope

    async def compute() -> KeySet:
        found = set(await tag_filter(ex, entity, scope, yes, no))
        if p.keys_in is not None:
            found.intersection_update(p.keys_in)
        if p.filters:
            found &= await root_keys(ex, entity, scope, p.filters)
        return KeySet(tuple(sorted(found)), True)

    cache = ex.ctx.keysets
    if cache is None or ex.row_keys or p.keys_in is not None:
        ks = await compute()
    else:
        key = ("tagged", entity, scope, ex.scope, tuple(yes), tuple(no),
               tuple(sorted(p.filters.items(), key=lambda kv: kv[0])), ex.owner(entity).version(entity),
               data_versions(ex, yes + no), ex.today)
        ks = await cache.get(key, compute)
    p.keys_in, p.exact = ks.keys, True


@dataclass(frozen=True)
class KeySet:
    """The sorted keys a plan's semi-joins leave; ``exact``: intersected with the root's own key set too."""
    keys: tuple[str, ...]
    exact: bool

    def __len__(self) -> int:
        return len(self.keys)


async def joined(ex: Executor, entity: str, p: Plan, joins: list[tuple[str, str, Any]]) -> KeySet:
    """The intersection of the joins' key sets (and of the plan's keys), exact when large; kept whole like
    the key sets it is made of, so a warm filtered count neither intersects nor sorts."""
    assert p.scope is not None
    scope = p.scope

    async def compute() -> KeySet:
        keysets = [set(await keyset(ex, rtype, rfield, v, record_scope(scope))) for rtype, rfield, v in joins]
        if p.keys_in is not None:
            keysets.append(set(p.keys_in))
        keysets.sort(key=len)
        found = keysets[0].intersection(*keysets[1:])
        exact = len(found) > SHIP_KEYS and ex.ctx.keysets is not None and not ex.row_keys
        if exact:
            found &= await root_keys(ex, entity, scope, p.filters)
        return KeySet(tuple(sorted(found)), exact)

    cache = ex.ctx.keysets
    if cache is None or ex.row_keys or p.keys_in is not None:
        return await compute()
    key = ("joined", SHIP_KEYS, entity, scope, ex.scope, tuple(joins), tuple(sorted(p.filters.items(), key=lambda kv: kv[0])),
           ex.owner(entity).version(entity), *(ex.owner(rtype).version(rtype) for rtype, _, _ in joins))
    return await cache.get(key, compute)  # type: ignore[no-any-return]


async def page(ex: Executor, entity: str, p: Plan, offset: int, n: int,
               count: bool) -> tuple[list[Record], bool, int | None]:
    """Up to ``n`` of the plan's records in key order, whether more follow, and their number when
    ``count``: from the exact key set when the plan has one (no department asked whether more follow);
    otherwise from the root's owner (one record more than the page, to know), the count of a list not
    restricted by keys kept like the key sets (a scope's totalCount is read far more often than it
    changes)."""
    if p.scope is None or (p.keys_in is not None and not p.keys_in):
        return [], False, 0
    if p.exact:
        assert p.keys_in is not None
        keys = p.keys_in[offset:offset + n]
        return (await ex.get_many(entity, keys) if keys else []), offset + n < len(p.keys_in), len(p.keys_in)
    records, total = await _listed(ex, entity, p, ListQuery(scope=p.scope, filters=p.filters, keys_in=p.keys_in,
                                                            offset=offset, limit=n + 1, count=count))
    return records[:n], len(records) > n, total


async def _listed(ex: Executor, entity: str, p: Plan, q: ListQuery) -> tuple[list[Record], int | None]:
    cache = ex.ctx.counts
    if not q.count or p.keys_in is not None or cache is None or ex.row_keys:
        return await ex.list_root(entity, q)
    key = (entity, p.scope, ex.scope, tuple(sorted(p.filters.items(), key=lambda kv: kv[0])),
           ex.owner(entity).version(entity))
    if not cache.holds(key):  # counted with the page, in the same call, and kept
        records, n = await ex.list_root(entity, q)
        if n is not None:
            cache.put(key, n)
        return records, n

    async def total() -> int:  # a refresh behind the requests, once the kept count is stale
        _, n = await ex.list_root(entity, ListQuery(scope=p.scope, filters=p.filters, limit=0, count=True))
        assert n is not None
        return n

    records, _ = await ex.list_root(entity, replace(q, count=False))
    return records, await cache.get(key, total)


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


async def graded(ex: Executor, scope: str, grade: str) -> frozenset[str]:
    """Credit codes of the shops in the scope with that grade (resolvers/shop_grade.py), kept like the key
    sets: the grades of a scope's shops cost one batched call per department of the shop file."""
    async def fetch() -> frozenset[str]:
        shops, _ = await ex.list_root("Shop", ListQuery(scope=scope, limit=None))
        found = await grades(ex, shops)  # a department that fails fails the filter: never an empty answer
        return frozenset(k for k, g in found.items() if g == grade)

    cache = ex.ctx.keysets
    if cache is None or ex.row_keys:
        return await fetch()
    return await cache.get(("grade", scope, ex.scope, grade, dt.date.today()), fetch)  # type: ignore[no-any-return]


def _bad(arg: str) -> None:
    raise BadRequestError(f"{arg} accepts only true (there is no anti-join)", argument=arg)
