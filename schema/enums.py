"""Enumerations of the public schema; departments' own code lists are mapped onto these."""
from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class Gender(Enum):
    MALE = "MALE"
    FEMALE = "FEMALE"


@strawberry.enum
class RegistrationType(Enum):
    LOCAL = "LOCAL"
    NON_LOCAL = "NON_LOCAL"


@strawberry.enum
class PropertyType(Enum):
    COMMERCIAL = "COMMERCIAL"
    PUBLIC_RENTAL = "PUBLIC_RENTAL"
    OLD_PUBLIC = "OLD_PUBLIC"
    RELOCATION = "RELOCATION"


@strawberry.enum
class CareLevel(Enum):
    NONE = "NONE"
    MILD = "MILD"
    MODERATE = "MODERATE"
    SEVERE = "SEVERE"


@strawberry.enum
class EmploymentStatus(Enum):
    EMPLOYED = "EMPLOYED"
    UNEMPLOYED = "UNEMPLOYED"
    RETIRED = "RETIRED"
    STUDENT = "STUDENT"
    OTHER = "OTHER"


@strawberry.enum
class PensionStatus(Enum):
    RECEIVING = "RECEIVING"
    CONTRIBUTING = "CONTRIBUTING"
    NONE = "NONE"


@strawberry.enum
class DisabilityCategory(Enum):
    VISUAL = "VISUAL"
    HEARING = "HEARING"
    SPEECH = "SPEECH"
    PHYSICAL = "PHYSICAL"
    INTELLECTUAL = "INTELLECTUAL"
    MENTAL = "MENTAL"
    MULTIPLE = "MULTIPLE"


@strawberry.enum
class VeteranCategory(Enum):
    VETERAN = "VETERAN"
    DISABLED_VETERAN = "DISABLED_VETERAN"
    MARTYR_FAMILY = "MARTYR_FAMILY"


@strawberry.enum
class EducationStage(Enum):
    CHILDCARE = "CHILDCARE"
    KINDERGARTEN = "KINDERGARTEN"
    PRIMARY = "PRIMARY"
    JUNIOR = "JUNIOR"
    SENIOR = "SENIOR"


@strawberry.enum
class ShopCategory(Enum):
    CATERING = "CATERING"
    RETAIL = "RETAIL"
    SERVICES = "SERVICES"
    PHARMACY = "PHARMACY"
    OTHER = "OTHER"


@strawberry.enum
class FoodSafetyGrade(Enum):
    A = "A"
    B = "B"
    C = "C"


@strawberry.enum(description="A shop's grade from its records (docs/shop-grade.md): A best, D worst.")
class ShopGrade(Enum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


@strawberry.enum
class InspectionResult(Enum):
    PASS = "PASS"
    FAIL = "FAIL"


@strawberry.enum
class CaseStatus(Enum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


@strawberry.enum
class FireCheckResult(Enum):
    PASS = "PASS"
    HAZARD = "HAZARD"


@strawberry.enum
class AgeBand(Enum):
    """Age in whole years on the reporting date."""

    AGE_0_17 = "0-17"
    AGE_18_34 = "18-34"
    AGE_35_59 = "35-59"
    AGE_60_69 = "60-69"
    AGE_70_79 = "70-79"
    AGE_80_PLUS = "80+"


@strawberry.enum(description="What a tag is a set of.")
class TagSubject(Enum):
    PERSON = "Person"
    HOUSE = "House"
