"""The core: persons, households, places, shops and events, the curated public contract.

Records reach these types as plain dicts keyed by field name, so every field is a
"basic" strawberry field read with ``dict.get``: no Python resolver per field value.
Relations are filled by the planner's batched loaders before the tree is serialised.
The departments' own record types, and the fields that link them to these entities
(``Person.welfare``, ``Shop.inspections``, ...), come from their specs (schema/generate.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from schema.enums import FoodSafetyGrade, Gender, PropertyType, RegistrationType, ShopCategory, ShopGrade
from schema.meta import GATEWAY, src


def _typed(name: str) -> Any:
    def is_type_of(obj: Any, info: Any) -> bool:
        return isinstance(obj, dict) and obj.get("__typename") == name
    return classmethod(lambda cls, obj, info: is_type_of(obj, info))


@strawberry.interface(description="An entity with an opaque, stable global id.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id (never a canonical key such as an ID number).")


@strawberry.type(description="A resident known to the population registry.")
class Person(Node):
    idNumber: str | None = src("population", "18-digit resident ID number.", "identity", mask="id_number")
    name: str | None = src("population", "Full name.", "identity", mask="name")
    gender: Gender | None = src("population", "Gender.")
    birthDate: dt.date | None = src("population", "Date of birth.", "identity")
    age: int | None = src("population", "Age in whole years today (from the date of birth).")
    phone: str | None = src("population", "Mobile phone number.", "contact", mask="phone")
    registrationType: RegistrationType | None = src("population", "Household registration: local or non-local.")
    householdNumber: str | None = src("population", "Household registration number.")
    houseCode: str | None = src("population", "Standard address code of the house the person lives in.", "whereabouts")
    jurisdictionCode: str | None = src("population", "Code of the building the person lives in.", "whereabouts")
    house: House | None = src("housing", "The house the person lives in.", "whereabouts")
    household: Household | None = src("population", "The registered household.")
    tags: list[str] | None = src(GATEWAY, "Names of the person tags (Query.tags) the person is in, among those the "
                                 "caller may use: a tag is usable only by a role that may read in full every "
                                 "field it reads (docs/tags.md).")
    is_type_of = _typed("Person")


@strawberry.type(description="A registered household.")
class Household(Node):
    householdNumber: str | None = src("population", "Household registration number.")
    houseCode: str | None = src("population", "Standard address code of the household's house.")
    jurisdictionCode: str | None = src("population", "Code of the building of the household.")
    house: House | None = src("housing", "The household's house.", "whereabouts")
    members: list[Person] | None = src("population", "Registered members.")
    is_type_of = _typed("Household")


@strawberry.type(description="A house (dwelling unit) with its standard address code.")
class House(Node):
    addressCode: str | None = src("housing", "Standard address code (building code + room).")
    address: str | None = src("housing", "Standard address.", "whereabouts", mask="address")
    area: float | None = src("housing", "Floor area in square metres.")
    propertyType: PropertyType | None = src("housing", "Property type.")
    floor: int | None = src("housing", "Floor number.")
    room: str | None = src("housing", "Room number.")
    jurisdictionCode: str | None = src("housing", "Code of the building the house is in.")
    building: Building | None = src("housing", "The building.")
    residents: list[Person] | None = src("population", "Persons living here.", "whereabouts")
    tags: list[str] | None = src(GATEWAY, "Names of the house tags (Query.tags) the house is in, among those the "
                                 "caller may use (docs/tags.md).")
    is_type_of = _typed("House")


@strawberry.type(description="A residential building (楼栋).")
class Building(Node):
    code: str | None = src("housing", "18-digit building jurisdiction code.")
    name: str | None = src("housing", "Building name, e.g. 12号楼.")
    floors: int | None = src("housing", "Number of floors.")
    hasElevator: bool | None = src("housing", "Whether the building has an elevator.")
    builtYear: int | None = src("housing", "Year of construction.")
    compoundCode: str | None = src("housing", "Code of the compound.")
    jurisdictionCode: str | None = src("housing", "Same as code.")
    longitude: float | None = src("housing", "Longitude of the building (WGS84 degrees).")
    latitude: float | None = src("housing", "Latitude of the building (WGS84 degrees).")
    compound: Compound | None = src("housing", "The compound.")
    houses: list[House] | None = src("housing", "Houses in the building.")
    shops: list[Shop] | None = src("market", "Shops in the building.")
    is_type_of = _typed("Building")


@strawberry.type(description="A residential compound (小区).")
class Compound(Node):
    code: str | None = src("housing", "15-digit compound jurisdiction code.")
    name: str | None = src("housing", "Compound name.")
    committeeCode: str | None = src("housing", "Code of the residents' committee.")
    jurisdictionCode: str | None = src("housing", "Same as code.")
    committee: Committee | None = src("housing", "The residents' committee.")
    buildings: list[Building] | None = src("housing", "Buildings of the compound.")
    is_type_of = _typed("Compound")


@strawberry.type(description="A residents' committee (居委会).")
class Committee(Node):
    code: str | None = src("housing", "12-digit statistical division code.")
    name: str | None = src("housing", "Committee name.")
    subdistrictCode: str | None = src("housing", "Code of the subdistrict.")
    jurisdictionCode: str | None = src("housing", "Same as code.")
    subdistrict: Subdistrict | None = src("housing", "The subdistrict.")
    compounds: list[Compound] | None = src("housing", "Compounds of the committee.")
    is_type_of = _typed("Committee")


@strawberry.type(description="A subdistrict (街道).")
class Subdistrict(Node):
    code: str | None = src("housing", "9-digit subdistrict code.")
    name: str | None = src("housing", "Subdistrict name.")
    jurisdictionCode: str | None = src("housing", "Same as code.")
    is_type_of = _typed("Subdistrict")


@strawberry.type(description="A shop or business licensed by market supervision.")
class Shop(Node):
    creditCode: str | None = src("market", "18-character unified social credit code.")
    name: str | None = src("market", "Registered shop name.")
    address: str | None = src("market", "Business address.")
    category: ShopCategory | None = src("market", "Business category.")
    licenceNumber: str | None = src("market", "Business licence number.")
    licenceHolder: str | None = src("market", "Name of the licence holder (a person).", "identity", mask="name")
    licenceExpiry: dt.date | None = src("market", "Licence expiry date.")
    foodSafetyGrade: FoodSafetyGrade | None = src("market", "Food-safety grade (food businesses only).")
    jurisdictionCode: str | None = src("market", "Code of the building the shop is in.")
    grade: ShopGrade | None = src(GATEWAY, "Grade A-D from the shop's records of the last 365 days: failed "
                                  "inspections of the four departments, fire hazards, violation cases, 12345 "
                                  "cases, greening checks and its licence (docs/shop-grade.md).")
    building: Building | None = src("housing", "The building.")
    is_type_of = _typed("Shop")


@strawberry.type(description="A community event run by the culture centre or a committee.")
class Event(Node):
    eventId: str | None = src("culture", "The culture centre's event id.")
    title: str | None = src("culture", "Title.")
    category: str | None = src("culture", "Category.")
    date: dt.date | None = src("culture", "Date of the event.")
    venue: str | None = src("culture", "Venue.")
    capacity: int | None = src("culture", "Capacity.")
    jurisdictionCode: str | None = src("culture", "Organising committee (or subdistrict) code.")
    is_type_of = _typed("Event")


ENTITY_TYPES: tuple[type, ...] = (Person, Household, House, Building, Compound, Committee, Subdistrict, Shop, Event)
