"""Typed filters of the root fields.

Place filters (committee, compound, building) narrow the caller's jurisdiction and can
never widen it. Each other filter names the schema field it reads, so the policy can
refuse a filter on a field the caller may only see masked (it would be an oracle).

Filter values are validated here, when the arguments are built and before any department
is asked (a department answering 4xx to a request we built is our fault, see
adapters/http.py): a place code must be a whole-segment jurisdiction code
(INVALID_JURISDICTION); a free-text code or name (``EventFilter.category``) must be at
most ``MAX_TEXT`` characters, not blank, and free of control, format and line/paragraph
separator characters (BAD_USER_INPUT, ``argument`` naming the filter). Messages never
echo the value.
"""
from __future__ import annotations

import unicodedata
from enum import Enum

import strawberry

from common.errors import BadRequestError
from common.jurisdiction import validate_scope
from schema.enums import (
    AgeBand,
    CareLevel,
    DisabilityCategory,
    FoodSafetyGrade,
    Gender,
    PropertyType,
    RegistrationType,
    ShopCategory,
    ShopGrade,
)

MAX_TEXT = 64  # characters of a code or name filter value (event categories are a few words)
# control, format, surrogate, private-use, unassigned, line and paragraph separators
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_text(argument: str, value: str | None) -> None:
    """Refuse a code/name filter value no department could sensibly be asked about."""
    if value is None:
        return
    if len(value) > MAX_TEXT:
        raise BadRequestError(f"{argument} must be at most {MAX_TEXT} characters", argument=argument,
                              reason="too_long", max=MAX_TEXT)
    if not value or value.isspace():
        raise BadRequestError(f"{argument} must not be empty or blank", argument=argument, reason="blank")
    if any(unicodedata.category(c) in REFUSED_CATEGORIES for c in value):
        raise BadRequestError(f"{argument} must not contain control or separator characters", argument=argument,
                              reason="control_character")


@strawberry.input(description="Where a place filter narrows the jurisdiction (whole-segment codes).")
class PlaceFilter:
    committee: str | None = None
    compound: str | None = None
    building: str | None = None

    def __post_init__(self) -> None:
        for code in (self.committee, self.compound, self.building):
            if code is not None:
                validate_scope(code)


@strawberry.input(description="Filters on persons. Department-sourced filters are answered by that department.")
class PersonFilter(PlaceFilter):
    ageMin: int | None = None
    ageMax: int | None = None
    gender: Gender | None = None
    registrationType: RegistrationType | None = None
    livingAlone: bool | None = strawberry.field(default=None, description="Civil affairs: lives alone.")
    careLevel: CareLevel | None = strawberry.field(default=None, description="Civil affairs: care level.")
    elderlyAllowance: bool | None = strawberry.field(default=None, description="Civil affairs: receives the allowance.")
    minimumLivingGuarantee: bool | None = strawberry.field(
        default=None, description="Civil affairs: receives the minimum living guarantee (低保).")
    disabilityCategory: DisabilityCategory | None = strawberry.field(
        default=None, description="Disabled persons' federation: has a certificate of this category.")
    hasDisability: bool | None = strawberry.field(
        default=None, description="Disabled persons' federation: true = holds a disability certificate.")
    isVeteran: bool | None = strawberry.field(default=None, description="Veterans affairs: true = veteran status.")
    tags: list[str] | None = strawberry.field(default=None, description="In every one of these person tags "
                                              "(Query.tags); each must be usable by the caller.")
    notTags: list[str] | None = strawberry.field(default=None, description="In none of these person tags.")


@strawberry.input
class HouseFilter(PlaceFilter):
    propertyType: PropertyType | None = None
    tags: list[str] | None = strawberry.field(default=None, description="In every one of these house tags "
                                              "(Query.tags); each must be usable by the caller.")
    notTags: list[str] | None = strawberry.field(default=None, description="In none of these house tags.")


@strawberry.input
class BuildingFilter(PlaceFilter):
    hasElevator: bool | None = None


@strawberry.input
class ShopFilter(PlaceFilter):
    category: ShopCategory | None = None
    foodSafetyGrade: FoodSafetyGrade | None = None
    grade: ShopGrade | None = strawberry.field(default=None, description="The shop's grade (docs/shop-grade.md).")


@strawberry.input
class EventFilter(PlaceFilter):
    category: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text("category", self.category)


@strawberry.enum(description="What a stats query counts.")
class StatsSubject(Enum):
    PERSONS = "PERSONS"
    HOUSES = "HOUSES"
    SHOPS = "SHOPS"


@strawberry.enum(description="A grouping dimension of stats.")
class StatsDimension(Enum):
    COMMITTEE = "COMMITTEE"
    COMPOUND = "COMPOUND"
    BUILDING = "BUILDING"
    GRID_CELL = strawberry.enum_value("GRID_CELL", description="The 250 m planning grid cell of the buildings' "
                                      "coordinates (docs/planning.md); not combined with the other places.")
    AGE_BAND = "AGE_BAND"
    GENDER = "GENDER"
    LIVING_ALONE = "LIVING_ALONE"
    PROPERTY_TYPE = "PROPERTY_TYPE"
    SHOP_CATEGORY = "SHOP_CATEGORY"


__all__ = ["AgeBand"]
