"""The mutations: records written back to the departments, with the policy model of the reads.

Each mutation is one coordinate (``Mutation.recordVisit``) the policy must allow with action
``write``; its target (the person visited, the house) must be in the caller's jurisdiction, found
exactly as a read finds it (out of scope is NOT_FOUND, and nothing is written). Arguments are
checked before any department is asked (BAD_USER_INPUT naming the argument). Every write carries a
request key, the caller's ``idempotencyKey`` bound to the user and the mutation (a random one
without it): the department writes once per key, so a retried request answers the record the
first wrote, and the same key with other arguments is IDEMPOTENCY_KEY_REUSED. The written record
comes back shaped like a read (masked where the caller reads masked); the audit record of the
request names the written record and, for a person, the person as a subject.

Each mutation exists when a department supplies the record type it writes (the types are the ones
the specs declare): visits and house status into the committees' records (committee_records),
inspections into the city's unified QR system (city_management), residents' reports into the 12345
hotline, event registrations into the culture centre (which refuses a full event).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import strawberry
from graphql import GraphQLError

from adapters.mapping import JURISDICTION
from common.errors import (
    AdapterRejectedError,
    AlreadyRegisteredError,
    BadRequestError,
    EventFullError,
    GatewayError,
    IdempotencyConflictError,
    NotFoundError,
)
from resolvers.access import ALLOW
from resolvers.context import RequestContext
from resolvers.execute import Executor
from resolvers.selection import field_selection

NOTE_MAX = 1000
KEY_SHAPE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BACKDATE_DAYS = 366  # a visit or a status is recorded within a year of the day it happened
COMMITTEE = 12  # digits of a committee's code
BUILDING = 18  # digits of a building's code (a city management grid)
CONFLICT = 409


def request_key(ctx: RequestContext, mutation: str, idempotency_key: str | None) -> str:
    """The key the department keeps the write under: the caller's key bound to the user and the mutation,
    so two users (or two mutations) never share one; a fresh one without a caller's key."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    if not KEY_SHAPE.fullmatch(idempotency_key):
        raise BadRequestError("idempotencyKey is 1 to 128 letters, digits or _ . : -", argument="idempotencyKey")
    return hashlib.sha256(f"{ctx.principal.user}\n{mutation}\n{idempotency_key}".encode()).hexdigest()[:40]


def text(value: str, argument: str, limit: int = NOTE_MAX) -> str:
    v = value.strip()
    if not v or len(v) > limit or CONTROL.search(v):
        raise BadRequestError(f"{argument} is 1 to {limit} characters of text", argument=argument)
    return v


def day(value: dt.date, argument: str) -> dt.date:
    today = dt.date.today()
    if value > today or value < today - dt.timedelta(days=BACKDATE_DAYS):
        raise BadRequestError(f"{argument} is a day of the last year, not in the future", argument=argument)
    return value


async def target(ex: Executor, gid: str, type_name: str) -> dict[str, Any]:
    """The record an opaque id names, in the caller's jurisdiction (else NOT_FOUND, as for a read)."""
    tname, key = ex.ctx.ids.decode(gid)
    if tname != type_name:
        raise NotFoundError("no such object")
    rec = await ex.get_root(type_name, key)
    assert rec is not None
    return rec


async def write(info: strawberry.Info, mutation: str, entity: str, values: Callable[[Executor], Any],
                idempotency_key: str | None, compare: tuple[str, ...],
                refused: Callable[[Executor, Mapping[str, Any]], Any] | None = None) -> dict[str, Any] | None:
    """Authorize, validate (``values`` builds the record from checked arguments and the target), write once
    per request key, audit, shape. ``refused`` says why the department refused the record as conflicting
    (HTTP 409) in the mutation's own terms."""
    ctx: RequestContext = info.context
    if ctx.access.effect(f"Mutation.{mutation}") != ALLOW:
        return None  # the document check reports it
    try:
        key = request_key(ctx, mutation, idempotency_key)
        ex = Executor(ctx)
        await ex.prepare()
        wanted: Mapping[str, Any] = await values(ex)
        try:
            rec = await ex.write(entity, wanted, key)
        except AdapterRejectedError as e:
            if refused is None or e.details.get("status") != CONFLICT:
                raise
            raise await refused(ex, wanted) from None
        if any(rec.get(f) != wanted.get(f) for f in compare):
            raise IdempotencyConflictError("idempotencyKey was used before for another record",
                                           argument="idempotencyKey")
        raw = info._raw_info
        await ex.expand(entity, [rec], field_selection(raw.field_nodes, raw.fragments, raw.variable_values),
                        (str(raw.path.key),))
        await ex.shape()
        return rec
    except GatewayError as e:
        raise GraphQLError(e.message, extensions=e.extensions()) from None


def mutation_type(records: Mapping[str, type],
                  mutations: Mapping[str, tuple[tuple[str, ...], Callable[..., Any]]] | None = None) -> type | None:
    """The Mutation root of a schema with these record types: each mutation (default: ``MUTATIONS``) whose
    record types a department supplies (None when there is none)."""
    ns: dict[str, Any] = {}
    for name, (needs, build) in (MUTATIONS if mutations is None else mutations).items():
        if all(t in records for t in needs):
            ns[name] = build(*(records[t] for t in needs))
    if not ns:
        return None
    return strawberry.type(type("Mutation", (), ns), name="Mutation",
                           description="Records written back to the departments' systems.")


def _typed(fn: Callable[..., Any], returns: type, **arguments: Any) -> Callable[..., Any]:
    """Give a resolver the annotations of the generated types it takes and answers (strawberry reads them)."""
    fn.__annotations__.update(info=strawberry.Info, **arguments, **{"return": returns | None})
    return fn


def record_visit_field(visit: type) -> Any:
    async def record_visit(info: strawberry.Info, personId: strawberry.ID, date: dt.date, kind: Any, note: str,
                           followUp: bool = False, idempotencyKey: str | None = None) -> Any:
        async def values(ex: Executor) -> dict[str, Any]:
            checked = {"date": day(date, "date"), "kind": kind.value, "note": text(note, "note"),
                       "followUp": followUp, "worker": ex.ctx.principal.user}
            person = await target(ex, str(personId), "Person")
            ex.ctx.subjects.add(str(person["idNumber"]))
            return {**checked, "idNumber": person["idNumber"], JURISDICTION: person[JURISDICTION][:COMMITTEE]}
        return await write(info, "recordVisit", "Visit", values, idempotencyKey,
                           ("idNumber", "date", "kind", "note", "followUp"))

    return strawberry.mutation(resolver=_typed(
        record_visit, visit, personId=strawberry.ID, date=dt.date, kind=_enum_of(visit, "kind"), note=str,
        followUp=bool, idempotencyKey=str | None), description="Record a visit to a resident of the caller's "
        "committee (committee_records). With idempotencyKey, a retried request writes once.")


def set_house_status_field(record: type) -> Any:
    async def set_house_status(info: strawberry.Info, houseId: strawberry.ID, status: Any,
                               since: dt.date | None = None, idempotencyKey: str | None = None) -> Any:
        async def values(ex: Executor) -> dict[str, Any]:
            checked = {"status": status.value, "since": day(since or dt.date.today(), "since"),
                       "worker": ex.ctx.principal.user}
            house = await target(ex, str(houseId), "House")
            return {**checked, "addressCode": house["addressCode"], JURISDICTION: house[JURISDICTION][:COMMITTEE]}
        return await write(info, "setHouseStatus", "HouseStatusRecord", values, idempotencyKey,
                           ("addressCode", "status", "since"))

    return strawberry.mutation(resolver=_typed(
        set_house_status, record, houseId=strawberry.ID, status=_enum_of(record, "status"), since=dt.date | None,
        idempotencyKey=str | None), description="Record what a house of the caller's committee is used for from "
        "a day (default today). With idempotencyKey, a retried request writes once.")


def record_inspection_field(inspection: type) -> Any:
    async def record_inspection(info: strawberry.Info, shopId: strawberry.ID, department: Any, result: Any,
                                findings: str, date: dt.date | None = None,
                                idempotencyKey: str | None = None) -> Any:
        async def values(ex: Executor) -> dict[str, Any]:
            checked = {"department": department.value, "result": result.value,
                       "findings": text(findings, "findings"), "date": day(date or dt.date.today(), "date"),
                       "inspector": ex.ctx.principal.user}
            shop = await target(ex, str(shopId), "Shop")
            return {**checked, "creditCode": shop["creditCode"], JURISDICTION: shop[JURISDICTION][:BUILDING]}
        return await write(info, "recordInspection", "Inspection", values, idempotencyKey,
                           ("creditCode", "department", "result", "findings", "date"))

    return strawberry.mutation(resolver=_typed(
        record_inspection, inspection, shopId=strawberry.ID, department=_enum_of(inspection, "department"),
        result=_enum_of(inspection, "result"), findings=str, date=dt.date | None, idempotencyKey=str | None),
        description="Record an inspection of a shop in the caller's jurisdiction, by one of the four inspecting "
        "departments, in the city's unified QR system (city_management); it counts toward the shop's grade.")


def report_shop_field(complaint: type) -> Any:
    async def report_shop(info: strawberry.Info, shopId: strawberry.ID, category: str, text_: str,
                          idempotencyKey: str | None = None) -> Any:
        async def values(ex: Executor) -> dict[str, Any]:
            checked = {"category": text(category, "category", 20), "summary": text(text_, "text"),
                       "status": "OPEN"}
            shop = await target(ex, str(shopId), "Shop")
            return {**checked, "creditCode": shop["creditCode"], "addressCode": None,
                    JURISDICTION: shop[JURISDICTION][:COMMITTEE]}
        return await write(info, "reportShop", "Complaint", values, idempotencyKey,
                           ("creditCode", "category", "summary"))

    field = strawberry.mutation(resolver=_typed(
        report_shop, complaint, shopId=strawberry.ID, category=str, text_=str, idempotencyKey=str | None),
        description="Report a problem with a shop to the 12345 hotline (a new case, OPEN); it counts toward the "
        "shop's grade.")
    for arg in field.arguments:
        if arg.python_name == "text_":
            arg.graphql_name = "text"
    return field


def register_for_event_field(registration: type) -> Any:
    async def register_for_event(info: strawberry.Info, eventId: strawberry.ID, personId: strawberry.ID,
                                 idempotencyKey: str | None = None) -> Any:
        async def values(ex: Executor) -> dict[str, Any]:
            event = await target(ex, str(eventId), "Event")
            person = await target(ex, str(personId), "Person")
            ex.ctx.subjects.add(str(person["idNumber"]))
            return {"eventId": event["eventId"], "idNumber": person["idNumber"], "attended": False,
                    JURISDICTION: event[JURISDICTION]}
        return await write(info, "registerForEvent", "EventRegistration", values, idempotencyKey,
                           ("eventId", "idNumber"), refused=seat_refused)

    return strawberry.mutation(resolver=_typed(
        register_for_event, registration, eventId=strawberry.ID, personId=strawberry.ID,
        idempotencyKey=str | None), description="Register a resident of the caller's jurisdiction for a community "
        "event (culture); EVENT_FULL when every seat is taken, ALREADY_REGISTERED when they hold one.")


async def seat_refused(ex: Executor, wanted: Mapping[str, Any]) -> GatewayError:
    """The culture centre refused a registration (HTTP 409): the resident holds a seat already, or none is left."""
    mine = await ex.loader("EventRegistration", "idNumber").load(wanted["idNumber"])
    if any(r.get("eventId") == wanted["eventId"] for r in mine or ()):
        return AlreadyRegisteredError("the resident is registered for this event already", argument="personId")
    return EventFullError("every seat of this event is taken", argument="eventId")


MUTATIONS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "recordVisit": (("Visit",), record_visit_field),
    "setHouseStatus": (("HouseStatusRecord",), set_house_status_field),
    "recordInspection": (("Inspection",), record_inspection_field),
    "reportShop": (("Complaint",), report_shop_field),
    "registerForEvent": (("EventRegistration",), register_for_event_field),
}


def _enum_of(cls: type, field: str) -> Any:
    """The enum class of a generated record type's field (its annotation is ``Enum | None``)."""
    return next(a for a in typing.get_args(cls.__annotations__[field]) if a is not type(None))
