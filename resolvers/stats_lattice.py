"""The finest stats lattice of a subject and its true counts, fetched from the departments.

Persons: building x age band x gender x living alone; houses: building x property type;
shops: building x category. The buildings are the housing department's buildings in
scope, inhabited or not, so the lattice (and every grouping of it) has the same shape
whatever the data holds. Units whose building the housing department does not list, or
whose dimension values are unknown (no birth date, an unmapped gender), are not counted.

Age is in whole years on the reporting date (today), exact to the day like ``Person.age``
and the ``ageMin``/``ageMax`` filters: each age band is one birth-date range pushed down to
the population department.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from adapters.base import Eq, GroupBy, ListQuery, Range
from adapters.mapping import JURISDICTION
from common.dates import age_on, years_ago
from common.grid import cell_of
from resolvers.execute import Executor
from resolvers.keysets import record_scope
from resolvers.relations import KEYS
from resolvers.tags import Evaluation
from schema.enums import AgeBand, Gender, PropertyType, ShopCategory
from schema.inputs import StatsDimension, StatsSubject

D = StatsDimension
# age band -> (lowest age, highest age or None)
BANDS: dict[AgeBand, tuple[int, int | None]] = {
    AgeBand.AGE_0_17: (0, 17), AgeBand.AGE_18_34: (18, 34), AgeBand.AGE_35_59: (35, 59),
    AgeBand.AGE_60_69: (60, 69), AgeBand.AGE_70_79: (70, 79), AgeBand.AGE_80_PLUS: (80, None),
}
# subject -> its dimensions below the building, in lattice order, with every value each can take
DIMENSIONS: dict[StatsSubject, dict[StatsDimension, tuple[Any, ...]]] = {
    StatsSubject.PERSONS: {D.AGE_BAND: tuple(AgeBand), D.GENDER: tuple(Gender), D.LIVING_ALONE: (False, True)},
    StatsSubject.HOUSES: {D.PROPERTY_TYPE: tuple(PropertyType)},
    StatsSubject.SHOPS: {D.SHOP_CATEGORY: tuple(ShopCategory)},
}
PLACES: dict[StatsDimension, tuple[str, int]] = {  # place dimension -> (housing entity, code length)
    D.COMMITTEE: ("Committee", 12), D.COMPOUND: ("Compound", 15), D.BUILDING: ("Building", 18),
}
Cell = tuple[Any, ...]  # (building, *dimension values)
UNLOCATED = "UNLOCATED"  # the grid cell of a building without coordinates
TAG_FINEST = StatsDimension.COMMITTEE  # the finest place of a tag's counts (tagged_counts)


@dataclass(frozen=True)
class Lattice:
    """What every stats answer of one (subject, scope) is computed from: the housing department's
    places of each level overlapping the scope (buildings make the finest cells), the true count
    of each non-empty finest cell (never released as such) and, once protected, the protected
    value of every finest cell (resolvers/stats.py)."""
    places: dict[StatsDimension, list[str]]
    true: dict[Cell, int]
    protected: dict[Cell, int] = field(default_factory=dict)
    grid: dict[str, str] = field(default_factory=dict)  # building -> its planning grid cell (common/grid.py)
    # sums of ``protected`` per grouping (finest place level, value dimensions), made once per kept
    # lattice: a request answered from a kept lattice costs its answer's size, not the finest table's
    sums: dict[tuple[Any, ...], dict[tuple[Any, ...], int]] = field(default_factory=dict)


EMPTY = Lattice({d: [] for d in PLACES}, {})


async def lattice(ex: Executor, subject: StatsSubject, scope: str, tag: str | None = None) -> Lattice:
    """The lattice of the subject's units in the scope, or of those in ``tag`` only."""
    levels = await asyncio.gather(*(places(ex, d, scope) for d in PLACES))
    at = dict(zip(PLACES, levels, strict=True))
    buildings = at[StatsDimension.BUILDING]
    if not buildings:
        return Lattice(at, {})
    if tag is not None:  # a tag's counts are per committee: no grid (resolvers/stats.py refuses GRID_CELL)
        return Lattice(at, await tagged_counts(ex, subject, scope, at[TAG_FINEST], tag))
    counts, grid = await asyncio.gather(true_counts(ex, subject, scope, buildings), grid_of(ex, scope))
    return Lattice(at, counts, grid={b: grid.get(b, UNLOCATED) for b in buildings})


async def grid_of(ex: Executor, scope: str) -> dict[str, str]:
    """The planning grid cell of each building overlapping the scope, from the housing department's
    coordinates (a building without them is UNLOCATED)."""
    length = PLACES[StatsDimension.BUILDING][1]
    records, _ = await ex.list_root("Building", ListQuery(scope=scope[:length], limit=None))
    return {str(r["code"]): cell_of(r.get("longitude"), r.get("latitude")) or UNLOCATED
            for r in records if isinstance(r.get("code"), str)}


async def tagged_counts(ex: Executor, subject: StatsSubject, scope: str, committees: Sequence[str],
                        tag: str) -> dict[Cell, int]:
    """True count per non-empty finest cell of the members of a tag (resolvers/tags.py), from the records
    the tag was evaluated on: the subject's own (place, birth date, gender, property type) and, for
    persons, the civil affairs bureau's living-alone records. A tag's finest place is the committee
    (``TAG_FINEST``): a tag is a small set, and per building most of its cells would be empty, each
    released as 0 or k alike, so that sums over many of them would be mostly noise."""
    entity = "Person" if subject is StatsSubject.PERSONS else "House"
    ev = Evaluation(ex, entity, scope)
    members = (await ev.tag(tag)).keys
    key = KEYS[entity]
    today = dt.date.today()
    alone: set[str] = set()
    if subject is StatsSubject.PERSONS:
        alone = {str(r.get("idNumber")) for r in await ev.records("Welfare", record_scope(scope))
                 if r.get("livingAlone") is True}
    known = set(committees)
    length = PLACES[TAG_FINEST][1]
    out: dict[Cell, int] = {}
    for r in await ev.universe():
        k, b = str(r.get(key)), str(r.get(JURISDICTION) or "")[:length]
        if k not in members or b not in known:
            continue
        if subject is StatsSubject.PERSONS:
            cell: Cell = (b, band_of(r.get("birthDate"), today), _member(Gender, r.get("gender")), k in alone)
        else:
            cell = (b, _member(PropertyType, r.get("propertyType")))
        if all(v is not None for v in cell[1:]):
            out[cell] = out.get(cell, 0) + 1
    return out


def band_of(born: Any, today: dt.date) -> AgeBand | None:
    age = age_on(born, today)
    if age is None or age < 0:
        return None
    return next(b for b, (lo, hi) in BANDS.items() if lo <= age and (hi is None or age <= hi))


def band_range(band: AgeBand, today: dt.date) -> Range:
    """Birth dates of the persons whose age on ``today`` is in the band (as the age filters compute it)."""
    lo, hi = BANDS[band]
    oldest = years_ago(today, hi + 1) + dt.timedelta(days=1) if hi is not None else None
    return Range(oldest, years_ago(today, lo))


def cells_of(subject: StatsSubject, buildings: Sequence[str]) -> list[Cell]:
    """Every finest cell of the lattice, empty ones included."""
    return [(b, *values) for b in buildings for values in itertools.product(*DIMENSIONS[subject].values())]


async def places(ex: Executor, dim: StatsDimension, scope: str) -> list[str]:
    """Codes of the housing department's places of one level that overlap the scope."""
    entity, length = PLACES[dim]
    records, _ = await ex.list_root(entity, ListQuery(scope=scope[:length], limit=None))
    codes = {r.get("code") for r in records}
    return sorted(c for c in codes if isinstance(c, str) and len(c) == length
                  and (c.startswith(scope) or scope.startswith(c)))


async def true_counts(ex: Executor, subject: StatsSubject, scope: str,
                      buildings: Sequence[str]) -> dict[Cell, int]:
    """True count per non-empty finest cell of the given buildings (never released as such)."""
    known = set(buildings)
    bld = GroupBy("__jurisdiction", "prefix", 18)
    q = ListQuery(scope=scope, limit=None)
    if subject is StatsSubject.PERSONS:
        raw = await _persons(ex, scope, bld)
    else:
        entity, field, enum = (("House", "propertyType", PropertyType) if subject is StatsSubject.HOUSES
                               else ("Shop", "category", ShopCategory))
        raw = [((b, _member(enum, v)), n) for (b, v), n in await ex.aggregate(entity, q, [bld, GroupBy(field)])]
    out: dict[Cell, int] = {}
    for cell, n in raw:
        if cell[0] in known and all(v is not None for v in cell[1:]):
            out[cell] = out.get(cell, 0) + n
    return out


async def _persons(ex: Executor, scope: str, bld: GroupBy) -> list[tuple[Cell, int]]:
    today = dt.date.today()
    gender = GroupBy("gender")
    alone_recs, _ = await ex.list_root("Welfare", ListQuery(scope=record_scope(scope), limit=None,
                                                            filters={"livingAlone": Eq((True,))}))
    alone_keys = tuple(sorted({r["idNumber"] for r in alone_recs if r.get("idNumber")}))
    per_band = [ex.aggregate("Person", ListQuery(scope=scope, filters={"birthDate": band_range(b, today)},
                                                 limit=None), [bld, gender]) for b in BANDS]
    alone_q = ListQuery(scope=scope, keys_in=alone_keys, limit=None)
    # the few living alone by exact birth date (banded here), everyone by band (pushed down)
    alone_task = ex.aggregate("Person", alone_q, [bld, GroupBy("birthDate"), gender]) if alone_keys else _none()
    *everyone, alone = await asyncio.gather(*per_band, alone_task)
    out: list[tuple[Cell, int]] = []
    for band, cells in zip(BANDS, everyone, strict=True):
        out += [((b, band, _member(Gender, g), False), n) for (b, g), n in cells]
    for (b, born, g), n in alone:
        a = band_of(born, today)
        if a is not None:
            out += [((b, a, _member(Gender, g), False), -n), ((b, a, _member(Gender, g), True), n)]
    return out


async def _none() -> list[tuple[tuple[Any, ...], int]]:
    return []


def _member(enum: type[Enum], v: Any) -> Any:
    try:
        return enum(getattr(v, "value", v))
    except ValueError:
        return None
