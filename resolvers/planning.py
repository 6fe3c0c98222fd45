"""Planning: which buildings resemble those that retrofitted an elevator (docs/planning.md).

A building's profile is (floors, units, share of residents aged 70 or more, has an elevator). A
building *retrofitted* an elevator when it has one and at most ``WALK_UP_FLOORS`` floors: the old
walk-up stock was built without lifts, so a lift there was added. The reference profile is that of
the building given (``to``) or, without one, the mean profile of the retrofitted buildings in scope;
the candidates are the walk-ups without an elevator, ranked by the distance of their profile to it:

    distance = sqrt(((floors - f0) / 6)^2 + ((units - u0) / 48)^2 + (share70 - s0)^2 * 4 + (lift - l0)^2)

(floors in steps of a six-storey walk-up, units in steps of such a building's 48 houses, the share
weighted double). The share comes from the protected finest table of persons (resolvers/stats.py),
never from true counts: what this answers is a function of the same table every stats answer is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from adapters.base import GroupBy, ListQuery
from common.errors import BadRequestError, UnauthorizedFieldError
from resolvers.access import AGGREGATE, ALLOW
from resolvers.execute import Executor
from resolvers.selection import Sel
from resolvers.stats import lattice_of
from resolvers.stats_lattice import BANDS, PLACES
from schema.enums import AgeBand
from schema.inputs import StatsDimension, StatsSubject

WALK_UP_FLOORS = 7
OVER_70 = (AgeBand.AGE_70_79, AgeBand.AGE_80_PLUS)
assert all(BANDS[b][0] >= 70 for b in OVER_70)


@dataclass(frozen=True)
class Profile:
    floors: int
    units: int
    share70: float | None
    lift: bool

    def distance(self, to: Profile) -> float:
        share = 0.0 if self.share70 is None or to.share70 is None else (self.share70 - to.share70) ** 2 * 4
        return math.sqrt(((self.floors - to.floors) / 6) ** 2 + ((self.units - to.units) / 48) ** 2 + share
                         + (int(self.lift) - int(to.lift)) ** 2)


def authorize(ex: Executor) -> None:
    access = ex.ctx.access
    for coord in ("Building.floors", "Building.hasElevator"):
        if access.enforced(coord) != ALLOW:
            raise UnauthorizedFieldError(f"similar buildings need {coord}", coordinate=coord)
    if access.enforced("Person.age") not in (ALLOW, AGGREGATE):
        raise UnauthorizedFieldError("similar buildings need Person.age, at least as an aggregate",
                                     coordinate="Person.age")


async def similar_buildings(ex: Executor, to: str | None, first: int, sel: Sel,
                            path: tuple[str, ...]) -> list[dict[str, Any]]:
    authorize(ex)
    if not 1 <= first <= ex.ctx.limits.max_page:
        raise BadRequestError(f"first must be between 1 and {ex.ctx.limits.max_page}", argument="first")
    reference_code = None
    if to is not None:
        kind, reference_code = ex.ctx.ids.decode(to)
        if kind != "Building":
            raise BadRequestError("to must be the id of a building", argument="to")
        await ex.get_root("Building", reference_code)  # NOT_FOUND when out of the caller's jurisdiction
    buildings, _ = await ex.list_root("Building", ListQuery(scope=ex.scope[:PLACES[StatsDimension.BUILDING][1]],
                                                            limit=None))
    buildings = [b for b in buildings if isinstance(b.get("code"), str) and b["code"].startswith(ex.scope)]
    units = {str(b): n for (b,), n in await ex.aggregate(
        "House", ListQuery(scope=ex.scope, limit=None), [GroupBy("__jurisdiction", "prefix", 18)])}
    lat = await lattice_of(ex, StatsSubject.PERSONS, ex.scope)
    residents: dict[str, int] = {}
    over70: dict[str, int] = {}
    for cell, n in lat.protected.items():
        residents[cell[0]] = residents.get(cell[0], 0) + n
        if cell[1] in OVER_70:
            over70[cell[0]] = over70.get(cell[0], 0) + n
    profiles: dict[str, Profile] = {}
    for b in buildings:
        code, total = b["code"], residents.get(b["code"], 0)
        profiles[code] = Profile(int(b.get("floors") or 0), units.get(code, 0),
                                 over70.get(code, 0) / total if total else None, bool(b.get("hasElevator")))
    retrofitted = [p for p in profiles.values() if p.lift and p.floors <= WALK_UP_FLOORS]
    if reference_code is not None:
        reference = profiles.get(reference_code)
        if reference is None:
            raise BadRequestError("the building has no profile in the caller's jurisdiction", argument="to")
    elif retrofitted:
        shares = [p.share70 for p in retrofitted if p.share70 is not None]
        reference = Profile(round(sum(p.floors for p in retrofitted) / len(retrofitted)),
                            round(sum(p.units for p in retrofitted) / len(retrofitted)),
                            sum(shares) / len(shares) if shares else None, True)
    else:
        return []  # no building retrofitted one: nothing to resemble
    candidates = sorted(((p.distance(reference), code) for code, p in profiles.items()
                         if not p.lift and p.floors <= WALK_UP_FLOORS and code != reference_code))[:first]
    by_code = {b["code"]: b for b in buildings}
    records = [by_code[code] for _, code in candidates]
    await ex.expand("Building", records, sel, (*path, "@", "building"))
    await ex.shape()
    out = []
    for d, code in candidates:
        p = profiles[code]
        out.append({"building": by_code[code], "distance": round(d, 4), "floors": p.floors, "units": p.units,
                    "residents": residents.get(code, 0),
                    "shareOver70": None if p.share70 is None else round(p.share70, 4)})
    return out
