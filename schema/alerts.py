"""What the 24-hour water alert answers (resolvers/alerts.py, docs/alerts.md)."""
from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from schema.types import House, Person


@strawberry.enum(description="Whether a water alert still waits for the committee's answer.")
class AlertStatus(Enum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"


@strawberry.enum(description="What the committee found at the door (or on the phone).")
class AlertOutcome(Enum):
    VISITED_OK = "VISITED_OK"
    NEEDS_HELP = "NEEDS_HELP"
    VACANT = "VACANT"
    FALSE_ALARM = "FALSE_ALARM"


@strawberry.type(description="A house where an elder living alone lives and no water was used for 24 hours "
                             "(the water utility's meter readings).")
class WaterAlert:
    id: strawberry.ID = strawberry.field(description="Opaque id, for acknowledgeAlert.")
    silentSince: dt.datetime = strawberry.field(description="Meter time of the last rise in consumption (UTC).")
    openedAt: dt.datetime = strawberry.field(description="Meter time the silence reached the limit (UTC).")
    raisedAt: dt.datetime = strawberry.field(description="When the gateway raised the alert (UTC).")
    status: AlertStatus
    outcome: AlertOutcome | None = strawberry.field(description="What the committee found; null while open.")
    note: str | None = strawberry.field(description="The committee's note; null while open.")
    acknowledgedAt: dt.datetime | None = strawberry.field(description="When it was acknowledged (UTC).")
    acknowledgedBy: str | None = strawberry.field(description="User id of who acknowledged it.")
    house: House | None = strawberry.field(description="The house (null if the caller may no longer reach it).")
    residents: list[Person] = strawberry.field(description="The watched residents of the house (elders living "
                                               "alone), as the caller may see them.")
