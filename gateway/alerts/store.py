"""The alert store: meter state, open and acknowledged alerts, shared by workers and gateways.

SQLite (``var/alerts.db``, WAL) by default, PostgreSQL in production (``alerts_url``). What a worker
learns from the meter stream (each meter's last reading and when its consumption last rose) is
written in the same transaction as the alerts it opens, so a worker that stops at any point
resumes from a consistent state: a reading applied twice changes nothing (a reading no newer than
the one kept is ignored), and an alert is unique per (account, start of silence), so the same
silence opens one alert however often, and by however many workers, it is seen.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.audit.db import engine_for, is_sqlite
from gateway.settings import PROJECT, Settings

DEFAULT_SQLITE = PROJECT / "var" / "alerts.db"
meta = sa.MetaData()
meters = sa.Table(
    "alert_meter", meta,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("reading", sa.Float, nullable=False),
    sa.Column("read_at", sa.DateTime, nullable=False),  # meter time (UTC) of the last reading
    sa.Column("rose_at", sa.DateTime, nullable=False),  # meter time the consumption last rose (or first seen)
)
clock = sa.Table(
    "alert_clock", meta,
    sa.Column("shard", sa.String(16), primary_key=True),
    sa.Column("now", sa.DateTime, nullable=False),  # the newest meter time a shard has seen
)
alerts = sa.Table(
    "water_alert", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("silent_since", sa.DateTime, nullable=False),
    sa.Column("opened_at", sa.DateTime, nullable=False),  # meter time the silence reached the limit
    sa.Column("created", sa.Float, nullable=False),  # wall time (epoch s) it was stored: time-to-ack counts from it
    sa.Column("house", sa.String(32), nullable=False),  # the house's address code
    sa.Column("committee", sa.String(12), nullable=False),
    sa.Column("residents", sa.Text, nullable=False),  # JSON list of the watched residents' keys
    sa.Column("status", sa.String(16), nullable=False, server_default="OPEN"),
    sa.Column("outcome", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("acknowledged", sa.Float),
    sa.Column("acknowledged_by", sa.String(128)),
    sa.UniqueConstraint("account", "silent_since", name="uq_alert_silence"),
)
sa.Index("ix_alert_committee", alerts.c.committee, alerts.c.id)


def url_of(settings: Settings) -> str:
    return settings.alerts_url or f"sqlite+aiosqlite:///{DEFAULT_SQLITE}"


@dataclass(frozen=True)
class Reading:
    account: str
    at: dt.datetime  # naive UTC
    reading: float  # cumulative m³


@dataclass(frozen=True)
class Meter:
    account: str
    reading: float
    read_at: dt.datetime
    rose_at: dt.datetime


@dataclass(frozen=True)
class Alert:
    id: int
    account: str
    silent_since: dt.datetime
    opened_at: dt.datetime
    created: float
    house: str
    committee: str
    residents: tuple[str, ...]
    status: str
    outcome: str | None
    note: str | None
    acknowledged: float | None
    acknowledged_by: str | None


def _alert(row: Any) -> Alert:
    m = row._mapping
    return Alert(id=m["id"], account=m["account"], silent_since=m["silent_since"], opened_at=m["opened_at"],
                 created=m["created"], house=m["house"], committee=m["committee"],
                 residents=tuple(orjson.loads(m["residents"])), status=m["status"], outcome=m["outcome"],
                 note=m["note"], acknowledged=m["acknowledged"], acknowledged_by=m["acknowledged_by"])


def advanced(old: Meter | None, r: Reading) -> Meter | None:
    """The meter after reading ``r`` (None: ``r`` is no newer than what is kept, so changes nothing).

    Readings are cumulative: a reading higher than the last means water was used since, so the
    silence starts again at this reading's time; the first reading of a meter starts it too.
    """
    if old is None:
        return Meter(r.account, r.reading, r.at, r.at)
    if r.at <= old.read_at:
        return None
    return Meter(r.account, r.reading, r.at, r.at if r.reading > old.reading else old.rose_at)


class AlertStore:
    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.engine = engine_for(url, timeout_s, appender=True)

    @classmethod
    def from_settings(cls, s: Settings) -> AlertStore:
        return cls(url_of(s))

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(meta.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    # --- the worker's side ------------------------------------------------------------
    async def apply(self, shard: str, readings: Sequence[Reading]) -> dt.datetime | None:
        """Apply a batch of readings in one transaction; answers the shard's meter time after it."""
        async with self.engine.begin() as conn:
            accounts = sorted({r.account for r in readings})
            kept = {row.account: Meter(row.account, row.reading, row.read_at, row.rose_at) for row in
                    (await conn.execute(sa.select(meters).where(meters.c.account.in_(accounts)))).all()} \
                if accounts else {}
            changed: dict[str, Meter] = {}
            for r in sorted(readings, key=lambda r: r.at):
                m = advanced(changed.get(r.account) or kept.get(r.account), r)
                if m is not None:
                    changed[r.account] = m
            for m in changed.values():
                values = {"reading": m.reading, "read_at": m.read_at, "rose_at": m.rose_at}
                if m.account in kept:
                    await conn.execute(meters.update().where(meters.c.account == m.account).values(**values))
                else:
                    await conn.execute(meters.insert().values(account=m.account, **values))
            now = (await conn.execute(sa.select(clock.c.now).where(clock.c.shard == shard))).scalar()
            newest = max((r.at for r in readings), default=None)
            if newest is not None and (now is None or newest > now):
                if now is None:
                    await conn.execute(clock.insert().values(shard=shard, now=newest))
                else:
                    await conn.execute(clock.update().where(clock.c.shard == shard).values(now=newest))
                now = newest
            return now

    async def now(self, shard: str) -> dt.datetime | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(clock.c.now).where(clock.c.shard == shard))).scalar()

    async def silent(self, accounts: Iterable[str], before: dt.datetime) -> list[Meter]:
        """The meters of ``accounts`` whose consumption last rose at or before ``before`` and that have no
        alert for that silence yet."""
        wanted = sorted(set(accounts))
        out: list[Meter] = []
        async with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                q = (sa.select(meters).where(meters.c.account.in_(wanted[i:i + 500]), meters.c.rose_at <= before)
                     .where(~sa.exists().where(alerts.c.account == meters.c.account,
                                               alerts.c.silent_since == meters.c.rose_at)))
                out += [Meter(r.account, r.reading, r.read_at, r.rose_at) for r in (await conn.execute(q)).all()]
        return out

    async def open(self, meter: Meter, opened_at: dt.datetime, created: float, house: str, committee: str,
                   residents: Sequence[str]) -> Alert | None:
        """Open the alert of this silence; None when it is open already (another worker, an earlier run)."""
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(alerts.insert().values(
                    account=meter.account, silent_since=meter.rose_at, opened_at=opened_at, created=created,
                    house=house, committee=committee, residents=orjson.dumps(sorted(residents)).decode(),
                    status="OPEN").returning(*alerts.c))).one()
                return _alert(row)
        except IntegrityError:
            return None

    # --- the gateways' side -----------------------------------------------------------
    async def after(self, last_id: int, limit: int = 500) -> list[Alert]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(alerts).where(alerts.c.id > last_id).order_by(alerts.c.id)
                                       .limit(limit))).all()
        return [_alert(r) for r in rows]

    async def last_id(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(alerts.c.id), 0)))).scalar() or 0)

    async def open_in(self, committee: str) -> list[Alert]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(alerts).where(alerts.c.committee == committee,
                                                               alerts.c.status == "OPEN").order_by(alerts.c.id))).all()
        return [_alert(r) for r in rows]

    async def get(self, alert_id: int) -> Alert | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(alerts).where(alerts.c.id == alert_id))).first()
        return _alert(row) if row is not None else None

    async def acknowledge(self, alert_id: int, outcome: str, note: str, user: str, at: float) -> Alert | None:
        """Close an open alert; None when it was not open (acknowledged before, by this caller or another)."""
        async with self.engine.begin() as conn:
            done = await conn.execute(alerts.update().where(alerts.c.id == alert_id, alerts.c.status == "OPEN")
                                      .values(status="ACKNOWLEDGED", outcome=outcome, note=note, acknowledged=at,
                                              acknowledged_by=user))
            if done.rowcount != 1:
                return None
            row = (await conn.execute(sa.select(alerts).where(alerts.c.id == alert_id))).one()
        return _alert(row)

    def describe(self) -> str:
        return "sqlite" if is_sqlite(self.url) else "postgresql"
