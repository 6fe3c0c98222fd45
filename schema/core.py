"""How the core entities join, and their canonical keys: part of the curated contract.

The planner walks relations for every one the (authorized) selection asks for; the
target type's owner adapter is looked up in the registry, so a department's spec
decides who answers and this table only says how things connect. The relations of the
departments' own types (``Person.welfare``, ``EventRegistration.person``, ...) are
declared in their specs and added by schema/model.py.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    target: str  # schema type
    local: str  # parent record field holding the key
    remote: str  # target field matched (its unique key, or a declared filter field)
    many: bool = False
    unique: bool = True  # remote is the target's unique key
    newest_first: str | None = None  # many: the Date field ordering the targets, latest first


def one(target: str, local: str, remote: str, unique: bool = True) -> Relation:
    return Relation(target, local, remote, False, unique)


def many(target: str, local: str, remote: str) -> Relation:
    return Relation(target, local, remote, True, False)


CORE_RELATIONS: dict[str, dict[str, Relation]] = {
    "Person": {
        "house": one("House", "houseCode", "addressCode"),
        "household": one("Household", "householdNumber", "householdNumber"),
    },
    "Household": {
        "house": one("House", "houseCode", "addressCode"),
        "members": many("Person", "householdNumber", "householdNumber"),
    },
    "House": {
        "building": one("Building", "jurisdictionCode", "code"),
        "residents": many("Person", "addressCode", "houseCode"),
    },
    "Building": {
        "compound": one("Compound", "compoundCode", "code"),
        "houses": many("House", "code", "jurisdictionCode"),
        "shops": many("Shop", "code", "jurisdictionCode"),
    },
    "Compound": {
        "committee": one("Committee", "committeeCode", "code"),
        "buildings": many("Building", "code", "compoundCode"),
    },
    "Committee": {
        "subdistrict": one("Subdistrict", "subdistrictCode", "code"),
        "compounds": many("Compound", "code", "committeeCode"),
    },
    "Shop": {
        "building": one("Building", "jurisdictionCode", "code"),
    },
}

# Entities that are places or belong to one: their jurisdiction is re-checked on the way out.
SCOPED = frozenset({"Person", "Household", "House", "Building", "Compound", "Committee", "Subdistrict", "Shop", "Event"})

# The canonical key of each entity (what its opaque id encodes, and what a department's type links by).
KEYS: dict[str, str] = {
    "Person": "idNumber", "Household": "householdNumber", "House": "addressCode", "Building": "code",
    "Compound": "code", "Committee": "code", "Subdistrict": "code", "Shop": "creditCode", "Event": "eventId",
}

# Fields computed by the gateway from other fields, with the fields they need.
COMPUTED: dict[str, dict[str, tuple[str, ...]]] = {
    "Person": {"age": ("birthDate",)},
}
