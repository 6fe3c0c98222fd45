"""The auditor's view of the audit log (``auditLog``, ``accessesOf``): read from the signed chain.

Data subjects appear only as a count: the log keeps keyed hashes, never ID numbers.
"""
from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.type(description="A schema coordinate asked in a request and the policy's decision for it "
                              "(allow, masked, denied or aggregate: the words of `gateway policy matrix`).")
class AuditDecision:
    coordinate: str
    decision: str


@strawberry.type(description="Rows of one type released by a request.")
class AuditRowCount:
    type: str
    rows: int


@strawberry.type(description="One request to /graphql, as recorded in the tamper-evident audit chain.")
class AuditRecord:
    position: int = strawberry.field(description="Position in the chain (1 = first record).")
    at: dt.datetime = strawberry.field(description="When the request arrived (UTC).")
    requestId: str | None = strawberry.field(description="The request's X-Request-Id.")
    user: str | None = strawberry.field(description="The caller (null when the token was refused).")
    roles: list[str]
    jurisdiction: str | None
    purpose: str | None
    client: str | None = strawberry.field(description="The client's network address.")
    operationName: str | None
    operation: str | None = strawberry.field(description="sha256 of the normalised document (null when it did "
                                                         "not parse).")
    coordinates: list[AuditDecision]
    departments: list[str] = strawberry.field(description="Departments called.")
    rows: int = strawberry.field(description="Rows released in all.")
    rowsByType: list[AuditRowCount]
    outcome: str = strawberry.field(description="ok, error (no data) or the error code that refused the request.")
    errors: list[str] = strawberry.field(description="Error codes in the answer.")
    ms: float | None = strawberry.field(description="Duration in milliseconds.")
    subjectCount: int = strawberry.field(description="Persons whose identity or sensitive-category fields were "
                                                     "released (kept as keyed hashes).")


@strawberry.input(description="Every given filter must match.")
class AuditFilter:
    user: str | None = None
    since: dt.datetime | None = strawberry.field(default=None, description="At or after this time.")
    until: dt.datetime | None = strawberry.field(default=None, description="Before this time.")
    field: str | None = strawberry.field(default=None, description="Requests that asked this coordinate, "
                                                                   "e.g. Person.idNumber.")
    outcome: str | None = strawberry.field(default=None, description="ok, error or an error code.")


@strawberry.type(description="One release of a person's identity or sensitive-category data.")
class AccessRecord:
    position: int
    at: dt.datetime
    requestId: str | None
    user: str | None
    roles: list[str]
    purpose: str | None = strawberry.field(description="The purpose declared (or standing) for the request.")
    outcome: str
    fields: list[str] = strawberry.field(description="Coordinates released by the request (allow or masked).")
