"""The auditor's root fields: ``auditLog`` and ``accessesOf``.

Both need the policy's read on the root field (policies/audit.csv) *and* the capability
``Gateway.audit``. The store is reached through ``RequestContext.audit`` (an ``AuditReader``:
the gateway's AuditStore), so this layer knows nothing of how the log is kept.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import strawberry
from graphql import GraphQLError

from common.errors import AuditUnavailableError, GatewayError, PageSizeError, UnauthorizedFieldError
from resolvers.context import RequestContext
from schema.audit import AccessRecord, AuditFilter, AuditRecord
from schema.connection import Connection, decode_cursor, encode_cursor

CAPABILITY = "Gateway.audit"


class AuditReader(Protocol):
    async def search(self, **filters: Any) -> list[dict[str, Any]]: ...

    async def accesses(self, id_number: str, limit: int = 1000) -> list[dict[str, Any]]: ...


def _reader(info: strawberry.Info, field: str) -> AuditReader | None:
    ctx: RequestContext = info.context
    if not ctx.access.readable(f"Query.{field}"):
        return None  # the document check reports it
    if not ctx.access.can_use(CAPABILITY):
        e = UnauthorizedFieldError(f"reading the audit log needs the capability {CAPABILITY}",
                                   coordinate=CAPABILITY)
        raise GraphQLError(e.message, extensions=e.extensions())
    if ctx.audit is None or not hasattr(ctx.audit, "search"):
        e2 = AuditUnavailableError("this gateway keeps no audit store")
        raise GraphQLError(e2.message, extensions=e2.extensions())
    return ctx.audit  # type: ignore[no-any-return]


def _when(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC)


def _epoch(t: dt.datetime | None) -> float | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def audit_record(r: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the AuditRecord type reads it (records are dicts: the schema's resolver is dict.get)."""
    return {
        "position": r["position"], "at": _when(r["at"]), "requestId": r.get("request_id"), "user": r.get("user"),
        "roles": r.get("roles") or [], "jurisdiction": r.get("jurisdiction"), "purpose": r.get("purpose"),
        "client": r.get("client"), "operationName": r.get("operation_name"), "operation": r.get("operation"),
        "coordinates": [{"coordinate": c, "decision": d} for c, d in (r.get("coordinates") or {}).items()],
        "departments": r.get("departments") or [], "rows": int(r.get("rows") or 0),
        "rowsByType": [{"type": t, "rows": n} for t, n in (r.get("types") or {}).items()],
        "outcome": r.get("outcome") or "", "errors": r.get("errors") or [], "ms": r.get("ms"),
        "subjectCount": len(r.get("subjects") or ())}


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The audit log, newest first (auditors: needs Gateway.audit).")
    async def auditLog(self, info: strawberry.Info, filter: AuditFilter | None = None, first: int | None = None,
                       after: str | None = None) -> Connection[AuditRecord] | None:
        try:
            reader = _reader(info, "auditLog")
            if reader is None:
                return None
            n = 20 if first is None else first
            if n < 0 or n > 1000:
                raise PageSizeError("first must be between 0 and 1000", argument="first", max=1000)
            before = decode_cursor(after) - 1 if after is not None else None
            f = filter or AuditFilter()
            rows = await reader.search(user=f.user, since=_epoch(f.since), until=_epoch(f.until), field=f.field,
                                       outcome=f.outcome, first=n + 1, before=before)
        except GatewayError as e:
            raise GraphQLError(e.message, extensions=e.extensions()) from None
        page = rows[:n]
        edges = [{"cursor": encode_cursor(r["position"]), "node": audit_record(r)} for r in page]
        return {"edges": edges, "totalCount": None,  # type: ignore[return-value]
                "pageInfo": {"hasNextPage": len(rows) > n, "hasPreviousPage": after is not None,
                             "startCursor": edges[0]["cursor"] if edges else None,
                             "endCursor": edges[-1]["cursor"] if edges else None}}

    @strawberry.field(description="Every release of this person's identity or sensitive-category data: who, "
                                  "when, which fields, under which purpose (auditors: needs Gateway.audit).")
    async def accessesOf(self, info: strawberry.Info, idNumber: str) -> list[AccessRecord] | None:
        try:
            reader = _reader(info, "accessesOf")
            if reader is None:
                return None
            rows = await reader.accesses(idNumber)
        except GatewayError as e:
            raise GraphQLError(e.message, extensions=e.extensions()) from None
        return [{"position": r["position"], "at": _when(r["at"]), "requestId": r.get("request_id"),  # type: ignore[misc]
                 "user": r.get("user"), "roles": r.get("roles") or [], "purpose": r.get("purpose"),
                 "outcome": r.get("outcome") or "", "fields": r.get("fields") or []} for r in rows]
