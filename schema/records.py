"""The departments' records about persons, houses and shops.

Each record type carries the canonical key it is attached by (an ID number, address code
or credit code); those key fields are sensitive where the key identifies a person.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.enums import (
    CareLevel,
    CaseStatus,
    DisabilityCategory,
    EducationStage,
    EmploymentStatus,
    FireCheckResult,
    InspectionResult,
    PensionStatus,
    VeteranCategory,
)
from schema.meta import src

if TYPE_CHECKING:
    from schema.types import Event, Person


@strawberry.type(description="Civil affairs: allowances, minimum living guarantee, living alone, care level.")
class Welfare:
    idNumber: str | None = src("civil_affairs", "ID number the record is filed under.", "identity", mask="id_number")
    elderlyAllowance: bool | None = src("civil_affairs", "Receives the elderly allowance.")
    minimumLivingGuarantee: bool | None = src("civil_affairs", "Receives the minimum living guarantee (低保).")
    livingAlone: bool | None = src("civil_affairs", "Lives alone (独居).")
    careLevel: CareLevel | None = src("civil_affairs", "Assessed long-term care level.")


@strawberry.type(description="Health commission: family-doctor contract and chronic-disease flags.")
class HealthRecord:
    idNumber: str | None = src("health", "ID number the record is filed under.", "identity", mask="id_number")
    familyDoctor: str | None = src("health", "Contracted family doctor.", "health")
    contractDate: dt.date | None = src("health", "Date the family-doctor contract was signed.", "health")
    hypertension: bool | None = src("health", "Hypertension under management.", "health")
    diabetes: bool | None = src("health", "Diabetes under management.", "health")


@strawberry.type(description="Human resources and social security: employment and pension.")
class Employment:
    idNumber: str | None = src("hr_social", "ID number the record is filed under.", "identity", mask="id_number")
    status: EmploymentStatus | None = src("hr_social", "Employment status.")
    employer: str | None = src("hr_social", "Employer name.")
    pensionStatus: PensionStatus | None = src("hr_social", "Pension status.")


@strawberry.type(description="Disabled persons' federation: disability certificate.")
class Disability:
    idNumber: str | None = src("disability", "ID number the record is filed under.", "identity", mask="id_number")
    certificateNumber: str | None = src("disability", "Disability certificate number (the holder's ID number plus "
                                        "two digits, so it is masked like one).", "disability", mask="id_number")
    category: DisabilityCategory | None = src("disability", "Disability category.", "disability")
    grade: int | None = src("disability", "Disability grade (1 = most severe).", "disability")


@strawberry.type(description="Veterans affairs: veteran status.")
class VeteranStatus:
    idNumber: str | None = src("veterans", "ID number the record is filed under.", "identity", mask="id_number")
    category: VeteranCategory | None = src("veterans", "Category.")
    serviceBranch: str | None = src("veterans", "Service branch.")
    dischargeYear: int | None = src("veterans", "Year of discharge.")


@strawberry.type(description="Education: childcare and school enrolment of a minor.")
class Education:
    idNumber: str | None = src("education", "ID number of the minor.", "minors", mask="id_number")
    stage: EducationStage | None = src("education", "Stage.", "minors")
    school: str | None = src("education", "School or childcare centre.", "minors")
    grade: int | None = src("education", "Grade within the stage.", "minors")


@strawberry.type(description="City management: a street inspection of a shop.")
class Inspection:
    inspectionId: str | None = src("city_management", "Inspection id.")
    creditCode: str | None = src("city_management", "Credit code of the inspected shop.")
    date: dt.date | None = src("city_management", "Date.")
    result: InspectionResult | None = src("city_management", "Result.")
    inspector: str | None = src("city_management", "Inspector.")


@strawberry.type(description="City management: a shop violation case.")
class Violation:
    caseNumber: str | None = src("city_management", "Case number.")
    creditCode: str | None = src("city_management", "Credit code of the shop (via the department's QR-id crosswalk).")
    date: dt.date | None = src("city_management", "Date opened.")
    type: str | None = src("city_management", "Violation type.")
    status: CaseStatus | None = src("city_management", "Status.")


@strawberry.type(description="City management: an illegal-construction case about a house.")
class ConstructionCase:
    caseNumber: str | None = src("city_management", "Case number.")
    addressCode: str | None = src("city_management", "Standard address code of the house.")
    date: dt.date | None = src("city_management", "Date found.")
    description: str | None = src("city_management", "What was built.")
    status: CaseStatus | None = src("city_management", "Status.")


@strawberry.type(description="Fire rescue: a fire-safety check of a shop or building.")
class FireCheck:
    checkId: str | None = src("fire", "Check id.")
    creditCode: str | None = src("fire", "Credit code, when a shop was checked.")
    buildingCode: str | None = src("fire", "Building code, when a building was checked.")
    date: dt.date | None = src("fire", "Date.")
    result: FireCheckResult | None = src("fire", "Result.")
    hazards: str | None = src("fire", "Hazards found.")


@strawberry.type(description="Greening and city appearance: shop-front and waste-sorting compliance.")
class Appearance:
    creditCode: str | None = src("greening", "Credit code of the shop.")
    shopFrontCompliant: bool | None = src("greening", "Shop front complies (门责).")
    wasteSortingCompliant: bool | None = src("greening", "Waste sorting complies.")
    lastCheck: dt.date | None = src("greening", "Date of the last check.")


@strawberry.type(description="Water utility: the meter account of a house.")
class WaterAccount:
    accountNumber: str | None = src("water", "Account number.")
    addressCode: str | None = src("water", "Standard address code of the house.")
    meterNumber: str | None = src("water", "Meter number.")
    lastReading: float | None = src("water", "Last meter reading (m³).")
    lastReadingDate: dt.date | None = src("water", "Date of the last reading.")
    averageDailyUsage: float | None = src("water", "Average daily usage over the last 30 days (m³); a sudden drop can signal a resident in trouble.", "whereabouts")


@strawberry.type(description="12345 hotline: a complaint or case.")
class Complaint:
    caseNumber: str | None = src("hotline", "Case number.")
    receivedAt: dt.date | None = src("hotline", "Date received.")
    category: str | None = src("hotline", "Category.")
    status: CaseStatus | None = src("hotline", "Status.")
    summary: str | None = src("hotline", "Summary.")
    addressCode: str | None = src("hotline", "Address code, when tied to a house.")
    creditCode: str | None = src("hotline", "Credit code, when tied to a shop.")


@strawberry.type(description="Culture centre: a registration for a community event.")
class EventRegistration:
    registrationId: str | None = src("culture", "Registration id.")
    eventId: str | None = src("culture", "Event id.")
    idNumber: str | None = src("culture", "ID number of the registrant.", "identity", mask="id_number")
    registeredAt: dt.date | None = src("culture", "Date of registration.")
    attended: bool | None = src("culture", "Whether the registrant attended.")
    person: Annotated[Person, strawberry.lazy("schema.types")] | None = src("population", "The registrant.")
    event: Annotated[Event, strawberry.lazy("schema.types")] | None = src("culture", "The event.")
