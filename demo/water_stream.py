"""The water utility's smart meters, simulated: cumulative readings published on MQTT.

Topic ``{prefix}/{account}/reading`` (setting mqtt_prefix, default ``water``), QoS 1, payload ``{"account": ..., "at": ISO 8601 with offset,
"reading": m³ so far}`` (docs/alerts.md). One reading per meter per simulated step; a household
uses a little water most waking hours and none at night. ``silent`` meters stop using water at
their given time (an elder who fell, or left): their readings keep coming, unchanged. ``speed``
compresses time: at 3600 a simulated hour passes in a real second.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
import orjson


def accounts_of(data_dir: Path, houses: Sequence[str] | None = None) -> dict[str, str]:
    """Water account -> house address code, from the utility's crosswalk (all, or those of ``houses``)."""
    with sqlite3.connect(data_dir / "water.db") as c:
        rows = c.execute("SELECT account_no, std_addr_code FROM addr_xwalk WHERE std_addr_code IS NOT NULL").fetchall()
    wanted = None if houses is None else set(houses)
    return {a: h for a, h in rows if wanted is None or h in wanted}


def usage(rng: random.Random, at: dt.datetime) -> float:
    """m³ a household uses in the hour starting at ``at`` (local time UTC+8): none from 1 to 6 am."""
    hour = (at + dt.timedelta(hours=8)).hour
    if 1 <= hour < 6:
        return 0.0
    return round(rng.uniform(0.0, 0.03) if rng.random() < 0.3 else rng.uniform(0.01, 0.08), 3)


async def publish(mqtt_url: str, prefix: str, accounts: Sequence[str], start: dt.datetime, hours: int,
                  silent: Mapping[str, dt.datetime] | None = None, speed: float = 3600.0, seed: int = 7,
                  step: Callable[[int, dt.datetime], Awaitable[None]] | None = None) -> int:
    """Publish ``hours`` hourly readings of every account from ``start`` (aware, UTC); answers the messages
    sent. ``step(hour, at)`` is awaited after each simulated hour (a test pauses or restarts a worker)."""
    silent = dict(silent or {})
    rng = random.Random(seed)
    reading = {a: round(rng.uniform(50, 900), 3) for a in accounts}
    url = urlsplit(mqtt_url)
    sent = 0
    async with aiomqtt.Client(url.hostname or "127.0.0.1", url.port or 1883, username=url.username,
                              password=url.password, max_queued_outgoing_messages=100_000) as client:
        for h in range(hours):
            at = start + dt.timedelta(hours=h)
            t0 = asyncio.get_running_loop().time()
            for a in accounts:
                if a not in silent or at < silent[a]:
                    reading[a] = round(reading[a] + usage(rng, at), 3)
                body = {"account": a, "at": at.isoformat(), "reading": reading[a]}
                await client.publish(f"{prefix}/{a}/reading", orjson.dumps(body), qos=1)
                sent += 1
            if step is not None:
                await step(h, at)
            pause = 3600.0 / speed - (asyncio.get_running_loop().time() - t0)
            if pause > 0:
                await asyncio.sleep(pause)
    return sent
