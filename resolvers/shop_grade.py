"""A shop's grade (A-D): one formula over the shop file's records, in one place (docs/shop-grade.md).

Points start at 100; over the last ``WINDOW_DAYS`` days (to today) a shop loses

* 15 for each failed inspection (any of the four departments recording through its QR code),
* 15 for each fire check that found a hazard,
* 20 for each violation case still open, 5 for each one closed,
* 5 for each 12345 hotline case about it,
* 10 if its last greening check found the shop front or the waste sorting non-compliant,
* 30 if it has no licence number or its licence has expired,

and is graded A from 90 points, B from 75, C from 60, D below. Records without a date count as
inside the window (a department that does not date a record cannot prove it old).
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.base import Record
from common.errors import GatewayError

WINDOW_DAYS = 365
START = 100
GRADES = ((90, "A"), (75, "B"), (60, "C"))
# the shop's fields whose records the grade reads (its links in the specs), and what each record costs
SOURCES = ("inspections", "fireChecks", "violations", "complaints", "appearance")


def _recent(rec: Mapping[str, Any], field: str, since: dt.date) -> bool:
    d = rec.get(field)
    return not isinstance(d, dt.date) or d >= since


def points(shop: Mapping[str, Any], records: Mapping[str, Any], today: dt.date) -> int:
    since = today - dt.timedelta(days=WINDOW_DAYS)
    lost = 0
    lost += 15 * sum(1 for r in records.get("inspections") or () if r.get("result") == "FAIL"
                     and _recent(r, "date", since))
    lost += 15 * sum(1 for r in records.get("fireChecks") or () if r.get("result") == "HAZARD"
                     and _recent(r, "date", since))
    for v in records.get("violations") or ():
        if v.get("status") == "OPEN":
            lost += 20
        elif _recent(v, "date", since):
            lost += 5
    lost += 5 * sum(1 for c in records.get("complaints") or () if _recent(c, "receivedAt", since))
    look = records.get("appearance")
    if isinstance(look, Mapping) and (look.get("shopFrontCompliant") is False or look.get("wasteSortingCompliant") is False):
        lost += 10
    expiry = shop.get("licenceExpiry")
    if not shop.get("licenceNumber") or (isinstance(expiry, dt.date) and expiry < today):
        lost += 30
    return START - lost


def grade_of(score: int) -> str:
    return next((g for floor, g in GRADES if score >= floor), "D")


async def grades(ex: Any, shops: Sequence[Record], path: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """Each shop's grade by credit code, its records fetched in one batched call per department (the same
    loaders as the shop file's fields, so a field also asked for costs nothing more). A department that
    fails leaves the grades null with its error at ``path``; without a path (a filter) its error is raised."""
    rels = ex.relations.get("Shop", {})
    keys = [s["creditCode"] for s in shops if s.get("creditCode")]

    async def load(field: str) -> list[Any]:
        rel = rels[field]
        return list(await ex.loader(rel.target, None if rel.unique else rel.remote).load_many(keys))

    try:
        found = await asyncio.gather(*(load(f) for f in SOURCES if f in rels))
    except GatewayError as e:
        if path is None:
            raise
        ex.ctx.error(path, e)
        return dict.fromkeys(keys)
    by_field = {f: dict(zip(keys, rows, strict=True)) for f, rows in zip([f for f in SOURCES if f in rels], found,
                                                                          strict=True)}
    today = dt.date.today()
    return {k: grade_of(points(shop, {f: by_field[f].get(k) for f in by_field}, today))
            for shop in shops if (k := shop.get("creditCode"))}
