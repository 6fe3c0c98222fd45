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


@strawberry.type(description="A stats table. A cell under k units is suppressed. Counts are exact for the "
                              "finest cells (building x age band x gender x living alone for persons) of k or "
                              "more; smaller finest cells count as 0 or k (keyed, unbiased random rounding), so "
                              "no pair of queries can difference out a suppressed cell.")
class StatsResult:
    k: int
    cells: list[StatsCell]
    suppressedCells: int = strawberry.field(description="Cells of this table suppressed for holding fewer than k.")
    total: int = strawberry.field(description="Sum of the released counts.")
