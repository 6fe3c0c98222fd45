"""Aggregate results: counts per cell with small-cell suppression."""
from __future__ import annotations

import strawberry

from schema.enums import AgeBand, Gender, PropertyType, ShopCategory


@strawberry.type(description="One cell of a stats table. A dimension not grouped by is null.")
class StatsCell:
    committee: str | None = None
    compound: str | None = None
    building: str | None = None
    ageBand: AgeBand | None = None
    gender: Gender | None = None
    livingAlone: bool | None = None
    propertyType: PropertyType | None = None
    shopCategory: ShopCategory | None = None
    count: int | None = strawberry.field(default=None, description="Null when suppressed.")
    suppressed: bool = strawberry.field(default=False, description="True when the cell had fewer than k units.")


@strawberry.type(description="A stats table. Counts are sums over the finest cells (building x age band x "
                              "gender x living alone for persons) that hold at least k units; smaller cells "
                              "count nowhere, so no pair of queries can difference one out.")
class StatsResult:
    k: int
    cells: list[StatsCell]
    suppressedCells: int = strawberry.field(description="Finest cells left out because they held fewer than k.")
    total: int = strawberry.field(description="Sum of the released counts.")
