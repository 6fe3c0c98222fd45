"""Stats with small-cell suppression that survives differencing.

Every count is computed from one fixed finest lattice per subject (persons: building x
age band x gender x living alone; houses: building x property type; shops: building x
category), counted in the owning department (GROUP BY push-down). Two rules:

1. A requested cell with fewer than k units is suppressed (count null, flagged).
2. Released counts never contain a small finest cell's true size: each finest cell with
   0 < n < k contributes 0 or k, drawn once by keyed, unbiased random rounding
   (P(k) = n/k); cells of k or more contribute exactly. A released cell is at least k.

The only filters are place filters, which select whole buildings. So any released number
is a sum of exact large finest cells plus a multiple of k, and any difference of two
released numbers over the same units differs from exact large cells by a multiple of k:
complementary queries cannot recover the size of a suppressed cell or isolate a person,
and totals stay unbiased (suppressing small cells outright would undercount the
oldest age bands badly).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from adapters.base import Eq, GroupBy, ListQuery
from common.errors import BadRequestError, UnauthorizedFieldError
from resolvers.access import AGGREGATE, ALLOW
from resolvers.execute import Executor
from resolvers.filters import narrow, places_given, record_scope
from schema.enums import AgeBand
from schema.inputs import StatsDimension, StatsSubject

D = StatsDimension
BANDS: tuple[tuple[int, AgeBand], ...] = (
    (17, AgeBand.AGE_0_17), (34, AgeBand.AGE_18_34), (59, AgeBand.AGE_35_59),
    (69, AgeBand.AGE_60_69), (79, AgeBand.AGE_70_79), (10_000, AgeBand.AGE_80_PLUS),
)
SUBJECTS: dict[StatsSubject, tuple[str, str, dict[D, str]]] = {
    # subject -> (entity, root coordinate, allowed dimensions -> coordinate that must allow aggregate)
    StatsSubject.PERSONS: ("Person", "Query.persons", {D.AGE_BAND: "Person.age", D.GENDER: "Person.gender",
                                                       D.LIVING_ALONE: "Welfare.livingAlone"}),
    StatsSubject.HOUSES: ("House", "Query.houses", {D.PROPERTY_TYPE: "House.propertyType"}),
    StatsSubject.SHOPS: ("Shop", "Query.shops", {D.SHOP_CATEGORY: "Shop.category"}),
}
PLACES = {D.COMMITTEE: 12, D.COMPOUND: 15, D.BUILDING: 18}
CELL_FIELD = {D.COMMITTEE: "committee", D.COMPOUND: "compound", D.BUILDING: "building", D.AGE_BAND: "ageBand",
              D.GENDER: "gender", D.LIVING_ALONE: "livingAlone", D.PROPERTY_TYPE: "propertyType",
              D.SHOP_CATEGORY: "shopCategory"}


def band(birth_year: Any, year: int) -> AgeBand | None:
    if not isinstance(birth_year, int):
        return None
    age = year - birth_year
    return next(b for hi, b in BANDS if age <= hi)


async def finest(ex: Executor, subject: StatsSubject, scope: str) -> dict[tuple[Any, ...], int]:
    """Counts per finest cell: (building, *subject dimensions)."""
    bld = GroupBy("__jurisdiction", "prefix", 18)
    q = ListQuery(scope=scope, limit=None)
    if subject is StatsSubject.HOUSES:
        return dict(await ex.aggregate("House", q, [bld, GroupBy("propertyType")]))
    if subject is StatsSubject.SHOPS:
        return dict(await ex.aggregate("Shop", q, [bld, GroupBy("category")]))
    year = dt.date.today().year
    dims = [bld, GroupBy("birthDate", "year"), GroupBy("gender")]
    alone_recs, _ = await ex.list_root("Welfare", ListQuery(scope=record_scope(scope),
                                                            filters={"livingAlone": Eq((True,))},
                                                            limit=None))
    alone_keys = tuple(sorted({r["idNumber"] for r in alone_recs if r.get("idNumber")}))
    every = await ex.aggregate("Person", q, dims)
    alone = await ex.aggregate("Person", ListQuery(scope=scope, keys_in=alone_keys, limit=None), dims) \
        if alone_keys else []
    cells: dict[tuple[Any, ...], int] = {}
    for (b, y, g), n in every:
        k = (b, band(y, year), _v(g), False)
        cells[k] = cells.get(k, 0) + n
    for (b, y, g), n in alone:
        f, t = (b, band(y, year), _v(g), False), (b, band(y, year), _v(g), True)
        cells[f] -= n
        cells[t] = cells.get(t, 0) + n
    return cells


def _v(x: Any) -> Any:
    return getattr(x, "value", x)


async def run_stats(ex: Executor, subject: StatsSubject, group_by: Sequence[StatsDimension],
                    place: Any) -> dict[str, Any]:
    _entity, _root, allowed = SUBJECTS[subject]
    access = ex.ctx.access
    entity = SUBJECTS[subject][0]
    if any(d in PLACES for d in group_by) or (place is not None and places_given(place)):
        coord = f"{entity}.jurisdictionCode"  # grouping or filtering by place reveals where units are
        if access.enforced(coord) not in (ALLOW, AGGREGATE):
            raise UnauthorizedFieldError(f"grouping or filtering by place needs {coord}", coordinate=coord,
                                         argument="groupBy/filter")
    for d in group_by:
        if d in PLACES:
            continue
        dim_coord = allowed.get(d)
        if dim_coord is None:
            raise BadRequestError(f"{subject.value} cannot be grouped by {d.value}", argument="groupBy")
        if access.enforced(dim_coord) not in (ALLOW, AGGREGATE):
            raise UnauthorizedFieldError(f"grouping by {d.value} needs {dim_coord}", coordinate=dim_coord,
                                         argument="groupBy")
    scope = narrow(ex.scope, place) if place is not None else ex.scope
    k = ex.ctx.limits.k_anonymity
    cells = await finest(ex, subject, scope) if scope is not None else {}
    dims_of_cell = [d for d in (D.AGE_BAND, D.GENDER, D.LIVING_ALONE) if subject is StatsSubject.PERSONS] or \
        [D.PROPERTY_TYPE if subject is StatsSubject.HOUSES else D.SHOP_CATEGORY]
    true: dict[tuple[Any, ...], int] = {}
    released: dict[tuple[Any, ...], int] = {}
    for key, n in cells.items():
        if n <= 0:
            continue
        building, *rest = key
        values = dict(zip(dims_of_cell, rest, strict=True))
        gkey = tuple(building[:PLACES[d]] if d in PLACES and building else values.get(d) for d in group_by)
        true[gkey] = true.get(gkey, 0) + n
        released[gkey] = released.get(gkey, 0) + (n if n >= k else rounded(ex.ctx.limits.stats_key, subject, key, n, k))
    out = []
    suppressed = 0
    for gkey in sorted(true, key=lambda t: tuple(str(x) for x in t)):
        cell: dict[str, Any] = {CELL_FIELD[d]: v for d, v in zip(group_by, gkey, strict=True)}
        if true[gkey] < k:
            cell["count"], cell["suppressed"] = None, True
            suppressed += 1
        else:  # at least k units: never shown as fewer, even when its small parts all rounded down
            cell["count"], cell["suppressed"] = max(released[gkey], k), False
        out.append(cell)
    return {"k": k, "cells": out, "suppressedCells": suppressed,
            "total": sum(c["count"] for c in out if c["count"] is not None)}


def rounded(secret: bytes, subject: StatsSubject, cell: tuple[Any, ...], n: int, k: int) -> int:
    """Unbiased random rounding of a small finest cell (0 < n < k) to 0 or k.

    The draw is keyed by the cell's identity with a server secret, so asking again (or
    through another grouping) gives the same answer and averaging learns nothing.
    """
    digest = hmac.new(secret, repr((subject.value, *cell)).encode(), hashlib.sha256).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return k if u < n / k else 0
