"""The gateway's side of the alert store: delivery to subscriptions and acknowledgement.

One poller per gateway process reads the alerts stored since the last it saw (``alerts_poll_s``)
and hands each to the subscriptions of its committee; a subscription first receives the
committee's open alerts, then the new ones, each once. Every gateway process (or replica) reads
the same store, so an alert raised by any worker reaches every subscriber wherever they are
connected.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Counter, Histogram

from gateway.alerts.store import Alert, AlertStore

log = logging.getLogger("gateway.alerts")
ACK_SECONDS = Histogram("gateway_alert_ack_seconds", "Time from a water alert being raised to its acknowledgement",
                        buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, float("inf")))
DELIVERED = Counter("gateway_alerts_delivered_total", "Water alerts sent to subscriptions")
QUEUE = 1000  # alerts a slow subscriber may fall behind by before it is dropped


class AlertFeed:
    def __init__(self, store: AlertStore, poll_s: float) -> None:
        self.store = store
        self.poll_s = poll_s
        self.followers: dict[str, set[asyncio.Queue[Alert | None]]] = {}
        self.task: asyncio.Task[None] | None = None
        self.last = 0

    async def start(self) -> None:
        await self.store.start()
        self.last = await self.store.last_id()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for queues in self.followers.values():
            for q in queues:
                q.put_nowait(None)
        await self.store.close()

    async def get(self, alert_id: int) -> Alert | None:
        return await self.store.get(alert_id)

    async def acknowledge(self, alert_id: int, outcome: str, note: str, user: str, at: float) -> Alert | None:
        done = await self.store.acknowledge(alert_id, outcome, note, user, at)
        if done is not None:
            ACK_SECONDS.observe(max(0.0, at - done.created))
        return done

    async def follow(self, committee: str) -> AsyncIterator[Any]:
        q: asyncio.Queue[Alert | None] = asyncio.Queue(QUEUE)
        self.followers.setdefault(committee, set()).add(q)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._poll())
        sent: set[int] = set()
        try:
            for known in await self.store.open_in(committee):  # registered first: nothing raised meanwhile is missed
                sent.add(known.id)
                DELIVERED.inc()
                yield known
            while (new := await q.get()) is not None:
                if new.id not in sent:
                    sent.add(new.id)
                    DELIVERED.inc()
                    yield new
        finally:
            self.followers[committee].discard(q)

    async def _poll(self) -> None:
        while True:
            try:
                for a in await self.store.after(self.last):
                    self.last = max(self.last, a.id)
                    for q in list(self.followers.get(a.committee, ())):
                        if q.full():  # too slow: it ends, the client resubscribes and gets the open ones again
                            q.get_nowait()
                            q.put_nowait(None)
                        else:
                            q.put_nowait(a)
            except Exception:  # the store is down a while: retried at the next poll
                log.exception("reading new water alerts failed")
            await asyncio.sleep(self.poll_s)
