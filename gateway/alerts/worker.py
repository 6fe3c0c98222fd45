"""`gateway alerts`: one alert worker, reading the water utility's meter stream.

The worker subscribes to ``{mqtt_prefix}/+/reading`` (QoS 1) under a persistent MQTT session named after
its shard, so the broker keeps what is published while the worker is down and hands it over when
it is back. Worker ``i`` of ``N`` keeps the meters whose account's CRC-32 is ``i`` modulo ``N``.
Readings are applied in batches (gateway/alerts/store.py); after each batch every watched meter
whose consumption has not risen for ``alerts_silence_h`` hours of meter time, and whose house is
not recorded VACANT now, opens its alert (once per silence). The watch list (resolvers/alerts.py)
is computed at start and every ``alerts_watch_s`` seconds.

Time is the meters' own: the newest reading time the shard has seen. A stream replayed faster than
real time (the demo's time compression) raises alerts as fast, and a worker that was down judges
the readings it catches up on by their own times.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiomqtt
import orjson
from prometheus_client import Counter

from common.errors import GatewayError
from gateway.alerts.store import AlertStore, Reading
from gateway.app import Gateway, department_defaults
from gateway.settings import Settings
from resolvers.alerts import Watched, trusted, vacant, watch_list
from resolvers.context import RequestContext

BATCH = 500
BATCH_WAIT_S = 0.2
log = logging.getLogger("gateway.alerts")
OPENED = Counter("gateway_alerts_opened_total", "Water alerts raised")
READINGS = Counter("gateway_alert_readings_total", "Meter readings received by the alert worker", ["outcome"])


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, _, n = text.partition("/")
        if not (i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)):
            raise ValueError(f"a shard is I/N with 0 <= I < N, not {text!r}")
        return cls(int(i), int(n))

    def owns(self, account: str) -> bool:
        return zlib.crc32(account.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_reading(prefix: str, topic: str, payload: bytes) -> Reading | None:
    """A reading from one message (None for anything malformed: counted, skipped, nothing else lost)."""
    try:
        body = orjson.loads(payload)
        parts = topic.split("/")
        account, at, value = body["account"], body["at"], body["reading"]
        if parts != [prefix, account, "reading"] or not isinstance(account, str) or not account \
                or isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return None
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is None:
            return None
        return Reading(account, when.astimezone(dt.UTC).replace(tzinfo=None), float(value))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class AlertWorker:
    def __init__(self, settings: Settings, shard: Shard, gateway: Gateway | None = None) -> None:
        self.settings = settings
        self.shard = shard
        self.gw = gateway or Gateway(settings)
        self.store = AlertStore.from_settings(settings)
        self.silence = dt.timedelta(hours=settings.alerts_silence_h)
        self.watch: dict[str, Watched] = {}
        self.vacant_seen: set[tuple[str, dt.datetime]] = set()  # silences of houses found VACANT (no alert)
        self.inbox: asyncio.Queue[aiomqtt.Message] = asyncio.Queue(10 * BATCH)

    def _ctx(self) -> RequestContext:
        gw = self.gw
        return trusted({"registry": gw.registry, "ids": gw.ids, "meta": gw.meta, "type_fields": gw.type_fields},
                       "alert-worker", self.settings.alerts_jurisdiction)

    async def refresh(self) -> None:
        watched = await watch_list(self._ctx())
        self.watch = {a: w for a, w in watched.items() if self.shard.owns(a)}
        log.info("alert worker %s watches %d houses", self.shard, len(self.watch))

    async def run(self, stop: asyncio.Event) -> None:
        await self.store.start()
        self.gw.registry.start(department_defaults(self.settings))
        try:
            await self._watching(stop)
            if stop.is_set():
                return
            s = self.settings
            url = urlsplit(s.mqtt_url)
            async with aiomqtt.Client(url.hostname or "127.0.0.1", url.port or 1883,
                                      identifier=f"civic-gateway-alerts-{s.mqtt_prefix}-{self.shard.index}-of-"
                                                 f"{self.shard.count}",
                                      clean_session=False, username=url.username, password=url.password) as client:
                await client.subscribe(f"{s.mqtt_prefix}/+/reading", qos=1)
                log.info("alert worker %s reading %s/+/reading on %s", self.shard, s.mqtt_prefix, s.mqtt_url)
                reader = asyncio.create_task(self._read(client))
                try:
                    await self._loop(stop)
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
        finally:
            await self.gw.registry.close()
            await self.store.close()

    async def _watching(self, stop: asyncio.Event) -> None:
        """The first watch list, retried while the departments start."""
        delay = 0.5
        while not stop.is_set():
            try:
                await self.refresh()
                return
            except GatewayError as e:  # a department still starting or down: try again
                log.warning("alert worker %s: watch list not computed yet [%s]; retrying", self.shard, e.code)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 10.0)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self.inbox.put(message)

    async def _loop(self, stop: asyncio.Event) -> None:
        refreshed = time.monotonic()
        while not stop.is_set():
            batch = await self._batch(stop)
            if batch:
                await self.handle(batch)
            if time.monotonic() - refreshed >= self.settings.alerts_watch_s:
                refreshed = time.monotonic()
                try:
                    await self.refresh()
                except Exception:  # keep the last watch list
                    log.exception("alert worker %s: the watch list was not refreshed", self.shard)
        while not self.inbox.empty():  # what was received before the stop is applied, not dropped
            await self.handle(await self._batch(stop))

    async def _batch(self, stop: asyncio.Event) -> list[Reading]:
        out: list[Reading] = []
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(out) < BATCH:
            wait = deadline - time.monotonic()
            if wait <= 0 or (stop.is_set() and self.inbox.empty()):
                break
            try:
                message = await asyncio.wait_for(self.inbox.get(), wait)
            except TimeoutError:
                break
            r = parse_reading(self.settings.mqtt_prefix, message.topic.value, message.payload if isinstance(message.payload, bytes)
                              else str(message.payload).encode())
            if r is None:
                READINGS.labels("bad").inc()
            elif self.shard.owns(r.account):
                READINGS.labels("applied").inc()
                out.append(r)
        return out

    async def handle(self, readings: list[Reading]) -> None:
        """Apply the readings, then open the alerts of the watched meters silent for long enough."""
        if not readings:
            return
        now = await self.store.apply(str(self.shard), readings)
        if now is None or not self.watch:
            return
        silent = [m for m in await self.store.silent(self.watch, now - self.silence)
                  if (m.account, m.rose_at) not in self.vacant_seen]
        if not silent:
            return
        empty = await vacant(self._ctx(), sorted({self.watch[m.account].house for m in silent}))
        for m in silent:
            w = self.watch[m.account]
            if w.house in empty:
                self.vacant_seen.add((m.account, m.rose_at))
                continue
            alert = await self.store.open(m, m.rose_at + self.silence, time.time(), w.house, w.committee, w.residents)
            if alert is not None:
                OPENED.inc()
                log.info("water alert %d: house %s of committee %s silent since %s", alert.id, w.house, w.committee,
                         m.rose_at.isoformat())


async def watched_now(settings: Settings) -> dict[str, Watched]:
    """The watch list of the whole jurisdiction, computed once (the demo stream's choice of meters)."""
    gw = Gateway(settings)
    gw.registry.start(department_defaults(settings))
    try:
        return await watch_list(trusted({"registry": gw.registry, "ids": gw.ids, "meta": gw.meta,
                                         "type_fields": gw.type_fields}, "alert-worker", settings.alerts_jurisdiction))
    finally:
        await gw.registry.close()
