"""Typed filters of the root fields.

Place filters (committee, compound, building) narrow the caller's jurisdiction and can
never widen it. Each other filter names the schema field it reads, so the policy can
refuse a filter on a field the caller may only see masked (it would be an oracle).
"""
from __future__ import annotations

from enum import Enum

import strawberry

from schema.enums import (
    AgeBand,
    CareLevel,
    DisabilityCategory,
    FoodSafetyGrade,
    Gender,
    PropertyType,
    RegistrationType,
    ShopCategory,
)


@strawberry.input(description="Where a place filter narrows the jurisdiction (whole-segment codes).")
class PlaceFilter:
    committee: str | None = None
    compound: str | None = None
    building: str | None = None


@strawberry.input(description="Filters on persons. Department-sourced filters are answered by that department.")
class PersonFilter(PlaceFilter):
    ageMin: int | None = None
    ageMax: int | None = None
    gender: Gender | None = None
    registrationType: RegistrationType | None = None
    livingAlone: bool | None = strawberry.field(default=None, description="Civil affairs: lives alone.")
    careLevel: CareLevel | None = strawberry.field(default=None, description="Civil affairs: care level.")
    elderlyAllowance: bool | None = strawberry.field(default=None, description="Civil affairs: receives the allowance.")
    disabilityCategory: DisabilityCategory | None = strawberry.field(
        default=None, description="Disabled persons' federation: has a certificate of this category.")
    hasDisability: bool | None = strawberry.field(
        default=None, description="Disabled persons' federation: true = holds a disability certificate.")
    isVeteran: bool | None = strawberry.field(default=None, description="Veterans affairs: true = veteran status.")


@strawberry.input
class HouseFilter(PlaceFilter):
    propertyType: PropertyType | None = None


@strawberry.input
class BuildingFilter(PlaceFilter):
    hasElevator: bool | None = None


@strawberry.input
class ShopFilter(PlaceFilter):
    category: ShopCategory | None = None
    foodSafetyGrade: FoodSafetyGrade | None = None


@strawberry.input
class EventFilter(PlaceFilter):
    category: str | None = None


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
    AGE_BAND = "AGE_BAND"
    GENDER = "GENDER"
    LIVING_ALONE = "LIVING_ALONE"
    PROPERTY_TYPE = "PROPERTY_TYPE"
    SHOP_CATEGORY = "SHOP_CATEGORY"


__all__ = ["AgeBand"]
