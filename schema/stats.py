"""Aggregate results: protected counts per cell (cell key method, see policies/README.md)."""
from __future__ import annotations

import strawberry

from schema.enums import AgeBand, Gender, PropertyType, ShopCategory
from schema.types import Building


@strawberry.type(description="One cell of a stats table. A dimension not grouped by is null. Age bands are age "
                              "in whole years on the reporting date (today).")
class StatsCell:
    committee: str | None = None
    compound: str | None = None
    building: str | None = None
    gridCell: str | None = strawberry.field(default=None, description="Planning grid cell, G250-E{column}-N{row} "
                                            "(docs/planning.md); UNLOCATED for buildings without coordinates.")
    ageBand: AgeBand | None = None
    gender: Gender | None = None
    livingAlone: bool | None = None
    propertyType: PropertyType | None = None
    shopCategory: ShopCategory | None = None
    count: int | None = strawberry.field(
        default=None, description="Protected count: the sum of the protected finest cells this cell covers, a "
                                  "multiple of k. Never null; 0 may hide up to k units and k may hide none.")
    suppressed: bool = strawberry.field(
        default=False, description="Always false: no cell is suppressed, every count is already protected.",
        deprecation_reason="Counts are protected by perturbation, not suppression.")


@strawberry.type(description="A stats table computed from one protected finest table per subject (persons: "
                              "building x age band x gender x living alone; houses: building x property type; "
                              "shops: building x category). Each finest cell, empty ones included, is released "
                              "once as one of the two multiples of k around its true count, drawn with a keyed "
                              "cell key (cell key method); a coarser cell is the sum of its finest cells. Every "
                              "combination of the requested dimension values in scope is listed, empty or not, "
                              "and answers are the same on every call, so combining queries reveals nothing "
                              "beyond the protected finest table.")
class StatsResult:
    k: int = strawberry.field(description="The rounding base: every count is a multiple of k, and a finest cell "
                                          "of fewer than k units can be released as 0 or k.")
    cells: list[StatsCell]
    suppressedCells: int = strawberry.field(
        description="Always 0: no cell is suppressed.",
        deprecation_reason="Counts are protected by perturbation, not suppression.")
    total: int = strawberry.field(description="Sum of the released counts (the protected total of the scope).")


@strawberry.type(description="A building ranked by how much its profile resembles that of the buildings that "
                              "retrofitted an elevator (docs/planning.md).")
class SimilarBuilding:
    building: Building | None
    distance: float = strawberry.field(description="Distance of the profiles: 0 is the same profile.")
    floors: int | None
    units: int = strawberry.field(description="Houses in the building (housing).")
    residents: int = strawberry.field(description="Protected count of its residents (a multiple of k).")
    shareOver70: float | None = strawberry.field(
        description="Protected share of residents aged 70 or more: from the protected finest cells, never a true "
                    "count; null when the protected count of residents is 0.")
