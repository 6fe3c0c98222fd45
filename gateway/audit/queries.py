"""The questions an auditor asks of the store (`gateway audit query|subject|summary`, ``auditLog``,
``accessesOf``). Every answer is read from the records' bodies (what the chain hashes); the
index columns only find them.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import BadRequestError
from gateway.audit.record import subject_hash
from gateway.audit.tables import records, subjects

COORDINATE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
RELEASED = ("allow", "masked")  # decisions under which a field's values leave the gateway
BASELINE_DAYS = 30
UNUSUAL_FACTOR = 3
UNUSUAL_MIN = 20


def _decoded(position: int, body: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(body)
    out["position"] = position
    return out


async def search(engine: AsyncEngine, user: str | None = None, since: float | None = None,
                 until: float | None = None, field: str | None = None, outcome: str | None = None,
                 first: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """Records matching every given filter, newest first; ``before``: positions below it only."""
    q = sa.select(records.c.position, records.c.body).order_by(records.c.position.desc()).limit(first)
    if user is not None:
        q = q.where(records.c.user_id == user)
    if since is not None:
        q = q.where(records.c.at >= since)
    if until is not None:
        q = q.where(records.c.at < until)
    if outcome is not None:
        q = q.where(records.c.outcome == outcome)
    if before is not None:
        q = q.where(records.c.position < before)
    if field is not None:
        if not COORDINATE.match(field):
            raise BadRequestError("field must be a schema coordinate such as Person.idNumber", argument="field")
        q = q.where(records.c.body.contains(f'"{field}":"', autoescape=True))
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    out = [_decoded(p, b) for p, b in rows]
    return [r for r in out if field is None or field in r.get("coordinates", {})]


async def accesses(engine: AsyncEngine, key: bytes, id_number: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Who had this person's identity or sensitive-category data released, when, which fields, why."""
    q = (sa.select(records.c.position, records.c.body)
         .join(subjects, subjects.c.position == records.c.position)
         .where(subjects.c.subject == subject_hash(key, id_number))
         .order_by(records.c.position).limit(limit))
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    out = []
    for p, b in rows:
        r = _decoded(p, b)
        out.append({"position": p, "at": r["at"], "request_id": r.get("request_id"), "user": r.get("user"),
                    "roles": r.get("roles", []), "purpose": r.get("purpose"),
                    "standing_purposes": r.get("standing_purposes", []), "outcome": r.get("outcome"),
                    "fields": sorted(c for c, d in r.get("coordinates", {}).items() if d in RELEASED)})
    return out


def parse_day(day: str) -> dt.date:
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        raise BadRequestError(f"not a date (YYYY-MM-DD): {day!r}", argument="day") from None


async def summary(engine: AsyncEngine, day: str) -> list[dict[str, Any]]:
    """Per user on ``day`` (UTC): requests, distinct data subjects, the user's own median of daily
    distinct subjects over the 30 days before, and whether the day is unusual (> 3x median and > 20)."""
    d = parse_day(day)
    first = (d - dt.timedelta(days=BASELINE_DAYS)).isoformat()
    per_day = (sa.select(records.c.user_id, records.c.day, sa.func.count(sa.distinct(subjects.c.subject)))
               .join(subjects, subjects.c.position == records.c.position)
               .where(records.c.day >= first, records.c.day <= d.isoformat())
               .group_by(records.c.user_id, records.c.day))
    requests = (sa.select(records.c.user_id, sa.func.count()).where(records.c.day == d.isoformat())
                .group_by(records.c.user_id))
    async with engine.connect() as conn:
        counts = (await conn.execute(per_day)).all()
        asked: dict[str | None, int] = {u: int(n) for u, n in (await conn.execute(requests)).all()}
    daily: dict[str | None, dict[str, int]] = {}
    for user, when, n in counts:
        daily.setdefault(user, {})[when] = int(n)
    out = []
    for user in sorted(set(asked) | {u for u, days in daily.items() if d.isoformat() in days}, key=str):
        days = daily.get(user, {})
        today = days.get(d.isoformat(), 0)
        base = [days.get((d - dt.timedelta(days=i)).isoformat(), 0) for i in range(1, BASELINE_DAYS + 1)]
        median = float(statistics.median(base))
        out.append({"user": user, "requests": int(asked.get(user, 0)), "subjects": today, "median": median,
                    "unusual": today > UNUSUAL_FACTOR * median and today > UNUSUAL_MIN})
    return out
