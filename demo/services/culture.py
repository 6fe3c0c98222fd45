"""Culture centre: community events and registrations."""
from __future__ import annotations

import sqlite3
from typing import Any

from demo.services.common import Resource, Service, Write


def seat(conn: sqlite3.Connection, row: dict[str, Any]) -> str | None:
    """A registration is refused when the event does not exist, the resident is registered already, or
    every seat is taken (capacity)."""
    event = conn.execute("SELECT capacity FROM event WHERE eventId = ?", [row.get("eventId")]).fetchone()
    if event is None:
        return "no such event"
    if conn.execute("SELECT 1 FROM registration WHERE eventId = ? AND upper(idCard) = upper(?)",
                    [row.get("eventId"), row.get("idCard")]).fetchone():
        return "already registered"
    taken = conn.execute("SELECT count(*) FROM registration WHERE eventId = ?", [row.get("eventId")]).fetchone()[0]
    return "full" if event["capacity"] is not None and taken >= event["capacity"] else None


SERVICE = Service(
    slug="culture",
    prefix="/culture",
    resources=(
        Resource("events", "event", "eventId", "areaCode", ("eventId", "category"), batch=True),
        Resource("registrations", "registration", "regId", "areaCode", ("eventId", "idCard", "attended", "residentArea"),
                 write=Write(("eventId", "idCard", "areaCode"), lambda n, now: f"R{n:07d}", seat,
                             {"regTime": "%Y-%m-%dT%H:%M:%S"})),
    ),
    place_param="area",
    paging="offset",
    position_param="start",
    size_param="rows",
    items_path="response.docs",
    total_path="response.numFound",
    next_path=None,
    item_path="doc",
    batch_method="GET",
    batch_param="ids",
    batch_items_path="response.docs",
)
