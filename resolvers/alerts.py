"""The 24-hour water alert (docs/alerts.md): which houses are watched, what a subscriber receives,
and acknowledging an alert.

A house is watched while a resident of the tag ``elder-living-alone`` lives there, it has a water
account, and the committee has not recorded it VACANT. The alert workers (gateway/alerts) compute
the watch list with ``watch_list`` as the gateway itself (``trusted``: no caller's role; what they
read leaves the gateway only through a subscriber's own policy), and look again whether a house is
vacant (``vacant``) before they open its alert.

A subscriber (``Subscription.alerts``) receives each alert of one committee of their jurisdiction
shaped like a query's answer: the house and the residents are fetched with the subscriber's own
access, so masked fields stay masked and denied ones null. ``acknowledgeAlert`` records the
outcome: a visit to each watched resident of the house (committee_records, one per alert and
resident however often it is retried) and, for VACANT, the house's new status, so the house is
watched no more; then the alert is closed (ALERT_ALREADY_ACKNOWLEDGED for a second answer).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import strawberry
from graphql import GraphQLError

from adapters.base import Eq, ListQuery, Record
from adapters.mapping import JURISDICTION
from common.errors import AlertClosedError, GatewayError, NotFoundError
from resolvers.access import ALLOW, Access, AllowAll
from resolvers.context import Principal, RequestContext
from resolvers.execute import Executor
from resolvers.keysets import record_scope
from resolvers.mutations import COMMITTEE, _typed, text
from resolvers.selection import Sel, field_selection
from resolvers.tags import Evaluation
from schema.alerts import AlertOutcome, AlertStatus, WaterAlert

WATCH_TAG = "elder-living-alone"
VACANT = "VACANT"


class Alerts(Protocol):
    """The gateway's alert store as resolvers use it (gateway/alerts)."""

    async def get(self, alert_id: int) -> Any: ...

    async def acknowledge(self, alert_id: int, outcome: str, note: str, user: str, at: float) -> Any: ...

    def follow(self, committee: str) -> AsyncIterator[Any]: ...


@dataclass(frozen=True)
class Watched:
    account: str
    house: str  # address code
    committee: str
    residents: tuple[str, ...]  # ID numbers of the watched residents


# --- the workers' side ----------------------------------------------------------------------
def trusted(ctx_args: dict[str, Any], user: str, jurisdiction: str) -> RequestContext:
    """A request context of the gateway itself, every field in full (``ctx_args``: registry, ids, field meta,
    type fields); its reads leave the gateway only through a caller's own policy."""
    access = Access(AllowAll(), (user,), None, ctx_args["meta"], ctx_args["type_fields"])
    return RequestContext(Principal(user, (user,), jurisdiction), ctx_args["registry"], ctx_args["ids"], access)


async def watch_list(ctx: RequestContext) -> dict[str, Watched]:
    """Water account -> the house it measures, for every house in the jurisdiction where an elder living
    alone lives and that is not recorded VACANT."""
    ex = Executor(ctx)
    scope = ctx.principal.jurisdiction
    ev = Evaluation(ex, "Person", scope)
    elders = await ev.exactly(await ev.tag(WATCH_TAG))
    living: dict[str, list[str]] = {}
    committee: dict[str, str] = {}
    for p in await ex.get_many("Person", sorted(elders)):
        if p.get("houseCode"):
            house = str(p["houseCode"])
            living.setdefault(house, []).append(str(p["idNumber"]))
            committee[house] = str(p[JURISDICTION])[:COMMITTEE]  # a person's place code runs down to the house
    if not living:
        return {}
    empty = await vacant(ctx, sorted(living))
    accounts, _ = await ex.list_root("WaterAccount", ListQuery(
        scope=record_scope(scope), filters={"addressCode": Eq(tuple(sorted(living)))}, limit=None))
    out: dict[str, Watched] = {}
    for a in accounts:
        code = str(a.get("addressCode"))
        if code in living and code not in empty and a.get("accountNumber"):
            out[str(a["accountNumber"])] = Watched(str(a["accountNumber"]), code, committee[code],
                                                   tuple(sorted(living[code])))
    return out


async def vacant(ctx: RequestContext, houses: Sequence[str]) -> frozenset[str]:
    """Those of ``houses`` whose latest recorded status is VACANT, asked of the committees' records now."""
    if not houses:
        return frozenset()
    ex = Executor(ctx)
    records, _ = await ex.list_root("HouseStatusRecord", ListQuery(
        scope=record_scope(ctx.principal.jurisdiction), filters={"addressCode": Eq(tuple(houses))}, limit=None))
    latest: dict[str, Record] = {}
    for r in records:
        k = str(r.get("addressCode"))
        if k not in latest or (r.get("since"), int(r.get("recordId") or 0)) > \
                (latest[k].get("since"), int(latest[k].get("recordId") or 0)):
            latest[k] = r
    return frozenset(k for k, r in latest.items() if r.get("status") == VACANT)


# --- the subscribers' side ------------------------------------------------------------------
def _utc(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.replace(tzinfo=dt.UTC)


def _epoch(t: float | None) -> dt.datetime | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC)


async def shaped(ctx: RequestContext, alert: Any, sel: Sel, path: tuple[str, ...]) -> dict[str, Any]:
    """The alert as the caller may see it: its house and residents fetched, expanded and shaped with the
    caller's access (a resident who moved out of the caller's jurisdiction is left out)."""
    ex = Executor(ctx)
    await ex.prepare()
    houses = [h for h in await ex.get_many("House", [alert.house]) if ex.in_scope("House", h)]
    people = [p for p in await ex.get_many("Person", list(alert.residents)) if ex.in_scope("Person", p)]
    if "house" in sel:
        await ex.expand("House", houses, sel["house"], (*path, "house"))
    if "residents" in sel:
        await ex.expand("Person", people, sel["residents"], (*path, "residents"))
    await ex.shape()
    return {"id": ctx.ids.encode("WaterAlert", str(alert.id)), "silentSince": _utc(alert.silent_since),
            "openedAt": _utc(alert.opened_at), "raisedAt": _epoch(alert.created),
            "status": AlertStatus(alert.status), "outcome": AlertOutcome(alert.outcome) if alert.outcome else None,
            "note": alert.note, "acknowledgedAt": _epoch(alert.acknowledged), "acknowledgedBy": alert.acknowledged_by,
            "house": houses[0] if houses else None, "residents": people}


async def committee_code(ex: Executor, committee: str) -> str:
    """The code of the committee an opaque id names, in the caller's jurisdiction (else NOT_FOUND)."""
    tname, code = ex.ctx.ids.decode(committee)
    if tname != "Committee":
        raise NotFoundError("no such committee")
    await ex.get_root("Committee", code)
    return code


async def follow(info: strawberry.Info, committee: strawberry.ID) -> AsyncIterator[WaterAlert | None]:
    """Subscription.alerts: the committee's open alerts, then each new one as it is raised."""
    ctx: RequestContext = info.context
    if ctx.access.effect("Subscription.alerts") != ALLOW:
        return  # refused before it starts (gateway/subscriptions.py)
    try:
        if ctx.alerts is None:
            raise NotFoundError("this gateway keeps no water alerts")
        ex = Executor(ctx)
        await ex.prepare()
        code = await committee_code(ex, str(committee))
    except GatewayError as e:
        raise GraphQLError(e.message, extensions=e.extensions()) from None
    raw = info._raw_info
    sel = field_selection(raw.field_nodes, raw.fragments, raw.variable_values)
    async for alert in ctx.alerts.follow(code):
        yield await shaped(ctx, alert, sel, (str(raw.path.key),))  # type: ignore[misc]


# --- acknowledging --------------------------------------------------------------------------
def _alert_id(ctx: RequestContext, gid: str) -> int:
    tname, key = ctx.ids.decode(gid)
    if tname != "WaterAlert" or not key.isdigit():
        raise NotFoundError("no such alert")
    return int(key)


async def acknowledge(info: strawberry.Info, id: strawberry.ID, outcome: AlertOutcome, note: str,
                      kind: Any = None) -> Any:
    ctx: RequestContext = info.context
    if ctx.access.effect("Mutation.acknowledgeAlert") != ALLOW:
        return None  # the document check reports it
    try:
        checked = text(note, "note")
        if ctx.alerts is None:
            raise NotFoundError("this gateway keeps no water alerts")
        alert = await ctx.alerts.get(_alert_id(ctx, str(id)))
        ex = Executor(ctx)
        await ex.prepare()
        if alert is None or not str(alert.committee).startswith(ctx.principal.jurisdiction[:COMMITTEE]):
            raise NotFoundError("no such alert")
        house = await ex.get_root("House", alert.house)  # out of the caller's jurisdiction: NOT_FOUND
        assert house is not None
        if alert.status != "OPEN":
            raise AlertClosedError("this alert was acknowledged before", argument="id")
        today = dt.date.today()
        visit_kind = kind.value if kind is not None else "HOME"
        for person in await ex.get_many("Person", list(alert.residents)):
            if not ex.in_scope("Person", person):
                continue
            ctx.subjects.add(str(person["idNumber"]))
            await ex.write("Visit", {
                "idNumber": person["idNumber"], "date": today, "kind": visit_kind,
                "note": f"[water alert {outcome.value}] {checked}", "followUp": outcome == AlertOutcome.NEEDS_HELP,
                "worker": ctx.principal.user, JURISDICTION: alert.committee},
                _key(alert.id, "visit", str(person["idNumber"])))
        if outcome == AlertOutcome.VACANT:
            await ex.write("HouseStatusRecord", {"addressCode": alert.house, "status": VACANT, "since": today,
                                                 "worker": ctx.principal.user, JURISDICTION: alert.committee},
                           _key(alert.id, "status", alert.house))
        closed = await ctx.alerts.acknowledge(alert.id, outcome.value, checked, ctx.principal.user, time.time())
        if closed is None:  # another caller answered it while these were written (their keys are the same)
            raise AlertClosedError("this alert was acknowledged before", argument="id")
        raw = info._raw_info
        return await shaped(ctx, closed, field_selection(raw.field_nodes, raw.fragments, raw.variable_values),
                            (str(raw.path.key),))
    except GatewayError as e:
        raise GraphQLError(e.message, extensions=e.extensions()) from None


def _key(alert_id: int, what: str, key: str) -> str:
    """The request key of a record an acknowledgement writes: one per alert and record, whoever retries."""
    return hashlib.sha256(f"water-alert\n{alert_id}\n{what}\n{key}".encode()).hexdigest()[:40]


def acknowledge_alert_field(visit: type, status: type) -> Any:
    kinds = next(a for a in visit.__annotations__["kind"].__args__ if a is not type(None))
    return strawberry.mutation(resolver=_typed(
        acknowledge, WaterAlert, id=strawberry.ID, outcome=AlertOutcome, note=str, kind=kinds | None),
        description="Record what the committee found on a water alert of its jurisdiction: a visit to each watched "
        "resident (kind: HOME by default) and, for VACANT, the house's status, so it raises no more alerts. "
        "ALERT_ALREADY_ACKNOWLEDGED when it was answered before.")

