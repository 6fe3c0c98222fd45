"""Stats: every released figure is a sum of cells of one protected finest table.

1. The finest lattice of a subject (persons: building x age band x gender x living alone;
   houses: building x property type; shops: building x category) is fixed by the schema's
   enum values and the housing department's buildings in scope: empty cells are part of it.
2. Each finest cell's true count is replaced once by a protected value, a multiple of k
   drawn by the cell key method (resolvers/perturbation.py) with the key
   ``limits.stats_key``: deterministic, so asking again or through another grouping
   gives the same value, and 0 is released exactly like 1.
3. A requested cell is the sum of the protected finest cells it covers; every combination
   of the requested dimension values in scope is listed, empty or not; the total is the sum.

So any set of answers is a function of the protected finest table: combining queries
(differencing, averaging, solving) learns nothing the finest table does not already show,
and that table never pins a true count (policies/README.md, "Statistics"). Nothing is
suppressed: suppression decided on true counts leaks them, and on protected values it
would hide nothing the finest table does not already show.
"""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from common.errors import BadRequestError, UnauthorizedFieldError
from resolvers.access import AGGREGATE, ALLOW
from resolvers.execute import Executor
from resolvers.filters import narrow, places_given
from resolvers.perturbation import released
from resolvers.stats_lattice import DIMENSIONS, EMPTY, PLACES, TAG_FINEST, Cell, Lattice, cells_of, lattice
from resolvers.tags import catalogue
from schema.inputs import StatsDimension, StatsSubject
from schema.tags import RULE_PREFIX

D = StatsDimension
SUBJECTS: dict[StatsSubject, tuple[str, dict[D, str]]] = {
    # subject -> (entity, allowed dimensions -> coordinate that must allow aggregate)
    StatsSubject.PERSONS: ("Person", {D.AGE_BAND: "Person.age", D.GENDER: "Person.gender",
                                      D.LIVING_ALONE: "Welfare.livingAlone"}),
    StatsSubject.HOUSES: ("House", {D.PROPERTY_TYPE: "House.propertyType"}),
    StatsSubject.SHOPS: ("Shop", {D.SHOP_CATEGORY: "Shop.category"}),
}
GRID = D.GRID_CELL  # a place grouping too, but by the buildings' coordinates, not by their codes
GRID_NEEDS = ("Building.longitude", "Building.latitude")
CELL_FIELD = {D.COMMITTEE: "committee", D.COMPOUND: "compound", D.BUILDING: "building", D.GRID_CELL: "gridCell",
              D.AGE_BAND: "ageBand",
              D.GENDER: "gender", D.LIVING_ALONE: "livingAlone", D.PROPERTY_TYPE: "propertyType",
              D.SHOP_CATEGORY: "shopCategory"}


def authorize(ex: Executor, subject: StatsSubject, group_by: Sequence[StatsDimension], place: Any) -> None:
    entity, allowed = SUBJECTS[subject]
    access = ex.ctx.access
    if GRID in group_by:
        if any(d in PLACES for d in group_by):
            raise BadRequestError("GRID_CELL is a place grouping of its own: it cannot be combined with COMMITTEE, "
                                  "COMPOUND or BUILDING", argument="groupBy")
        for coord in GRID_NEEDS:
            if access.enforced(coord) not in (ALLOW, AGGREGATE):
                raise UnauthorizedFieldError(f"grouping by GRID_CELL needs {coord}", coordinate=coord,
                                             argument="groupBy")
    if any(d in PLACES or d is GRID for d in group_by) or (place is not None and places_given(place)):
        coord = f"{entity}.jurisdictionCode"  # grouping or filtering by place reveals where units are
        if access.enforced(coord) not in (ALLOW, AGGREGATE):
            raise UnauthorizedFieldError(f"grouping or filtering by place needs {coord}", coordinate=coord,
                                         argument="groupBy/filter")
    for d in group_by:
        if d in PLACES or d is GRID:
            continue
        dim_coord = allowed.get(d)
        if dim_coord is None:
            raise BadRequestError(f"{subject.value} cannot be grouped by {d.value}", argument="groupBy")
        if access.enforced(dim_coord) not in (ALLOW, AGGREGATE):
            raise UnauthorizedFieldError(f"grouping by {d.value} needs {dim_coord}", coordinate=dim_coord,
                                         argument="groupBy")
    if len(set(group_by)) != len(group_by):
        raise BadRequestError("groupBy names a dimension twice", argument="groupBy")


def protected_table(secret: bytes, subject: StatsSubject, cells: Sequence[Cell], true: dict[Cell, int],
                    base: int, tag: str | None = None) -> dict[Cell, int]:
    """The protected finest table: the only thing any stats answer is computed from. A tag's table has cell
    keys of its own (the tag's name is part of each), so it is protected as a table apart."""
    head = [subject.value] if tag is None else [subject.value, f"tag:{tag}"]
    return {cell: released(secret, "|".join([*head, *(str(getattr(v, "value", v)) for v in cell)]),
                           true.get(cell, 0), base) for cell in cells}


def authorize_tag(ex: Executor, subject: StatsSubject, tag: str) -> None:
    """A tag counted in stats: known, of the subject, and every field it reads readable at least as an
    aggregate by the caller."""
    t = catalogue().get(tag)
    entity = SUBJECTS[subject][0]
    if t is None or t.subject != entity or tag.startswith(RULE_PREFIX):
        raise BadRequestError(f"no {entity} tag {tag!r}", argument="tag")
    denied = sorted(c for c in t.reads if ex.ctx.access.enforced(c) not in (ALLOW, AGGREGATE))
    if denied:
        raise UnauthorizedFieldError(f"tag {tag} reads {denied[0]}, not readable even as an aggregate by this role",
                                     coordinate=denied[0], argument="tag")


async def lattice_of(ex: Executor, subject: StatsSubject, scope: str, tag: str | None = None) -> Lattice:
    """The lattice of (subject, scope) today with its protected finest table, from the gateway's cache
    when it keeps one (never for a caller whose rows are restricted by a relationship, e.g. a family
    doctor's contracted residents). Protection is deterministic (keyed cell keys), so a kept table
    is the one computing it again would give."""
    async def protected() -> Lattice:
        lat = await lattice(ex, subject, scope, tag)
        cells = cells_of(subject, lat.places[D.BUILDING if tag is None else TAG_FINEST])
        return replace(lat, protected=protected_table(ex.ctx.limits.stats_key, subject, cells, lat.true,
                                                      ex.ctx.limits.k_anonymity, tag))

    cache = ex.ctx.stats_cache
    if cache is None or ex.row_keys:
        return await protected()
    # the places are listed within the caller's own scope (Executor.in_scope): it is part of the key
    return await cache.get((subject, scope, ex.scope, tag, dt.date.today()), protected)  # type: ignore[no-any-return]


def group_sums(subject: StatsSubject, table: dict[Cell, int], place_rows: list[str],
               finest_place: StatsDimension | None, value_dims: list[StatsDimension],
               grid: dict[str, str] | None = None) -> dict[tuple[Any, ...], int]:
    """Every combination of the rows' places and the grouped dimensions' values, with the sum of the
    protected finest cells it covers (0 when it covers none). With GRID_CELL a building's place is its
    grid cell (``grid``)."""
    dims = list(DIMENSIONS[subject])
    sums: dict[tuple[Any, ...], int] = dict.fromkeys(
        itertools.product(place_rows, *(DIMENSIONS[subject][d] for d in value_dims)), 0)
    plen = PLACES[finest_place][1] if finest_place in PLACES else 0
    pick = [1 + dims.index(d) for d in value_dims]  # where each grouped dimension sits in a finest cell
    for finest, n in table.items():
        key = (grid[finest[0]] if grid is not None else finest[0][:plen], *[finest[i] for i in pick])
        sums[key] = sums.get(key, 0) + n
    return sums


async def run_stats(ex: Executor, subject: StatsSubject, group_by: Sequence[StatsDimension],
                    place: Any, tag: str | None = None) -> dict[str, Any]:
    authorize(ex, subject, group_by, place)
    if tag is not None:
        authorize_tag(ex, subject, tag)
    k = ex.ctx.limits.k_anonymity
    scope = narrow(ex.scope, place) if place is not None else ex.scope
    if tag is not None:
        finer = [d for d in group_by if d is GRID or (d in PLACES and PLACES[d][1] > PLACES[TAG_FINEST][1])]
        if finer or (scope is not None and len(scope) > PLACES[TAG_FINEST][1]):
            raise BadRequestError("a tag's counts are released per committee at the finest: group and filter by "
                                  "committee or coarser", argument="groupBy" if finer else "filter")
    lat = await lattice_of(ex, subject, scope, tag) if scope is not None else EMPTY

    # the rows of the answer: every place of the finest requested level, times every dimension value
    place_dims = [d for d in group_by if d in PLACES]
    finest_place: StatsDimension | None = max(place_dims, key=lambda d: PLACES[d][1], default=None)
    if GRID in group_by:
        finest_place, place_rows = GRID, sorted(set(lat.grid.values()))
    elif finest_place is None:
        place_rows = [""]
    else:
        place_rows = lat.places[finest_place]
    value_dims = [d for d in group_by if d not in PLACES and d is not GRID]
    sums = lat.sums.get((finest_place, *value_dims))
    if sums is None:
        sums = lat.sums[(finest_place, *value_dims)] = group_sums(
            subject, lat.protected, place_rows, finest_place, value_dims, lat.grid if finest_place is GRID else None)
    out = []
    for (row, *values), n in sums.items():
        of = dict(zip(value_dims, values, strict=True))
        cell: dict[str, Any] = {CELL_FIELD[d]: row[:PLACES[d][1]] if d in PLACES else row if d is GRID else of[d]
                                for d in group_by}
        cell["count"], cell["suppressed"] = n, False
        out.append(cell)
    return {"k": k, "cells": out, "suppressedCells": 0, "total": sum(sums.values())}  # every finest cell is in one
