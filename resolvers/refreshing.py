"""Values many requests share, computed in the background of requests and refreshed behind them.

Two kinds of value are costly to compute from the departments and change only as their data
does: the true finest lattice of a stats subject over a scope (resolvers/stats.py), and the
key set of a department-sourced filter value (``livingAlone: true`` over a scope,
resolvers/filters.py), which a filtered query intersects and hands to the root's owner.
Each is kept for ``ttl_s`` (settings ``stats_cache_s``, ``keyset_cache_s``):

* fresh (younger than ``ttl_s``): answered from memory;
* stale (younger than twice that): answered from memory while one refresh runs in the
  background, so no request waits on the departments once a key is warm;
* older, or absent: computed, and every request for the same key waits on that one
  computation (single flight). The computation is shielded: a request that reaches its
  deadline leaves it running, and the next request finds the value ready.

A computation runs in the background of requests: no request's arrival bounds its
department calls, each of which may take up to ``timeout_s`` (setting ``stats_timeout_s``)
instead of the departments' interactive timeout; a district's lattice can take longer to
aggregate than any one request may wait, and is then ready for the next.

A failed computation is never kept: its waiters get its error and the next request tries
again. The kept values weigh at most ``max_weight`` together (``weigh``: a lattice's cells, a key
set's keys), the least recently used dropped first; a value heavier than that alone is answered
but not kept.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from prometheus_client import Counter

from adapters.guard import BACKGROUND_TIMEOUT_S, REQUEST_START

T = TypeVar("T")
log = logging.getLogger(__name__)
LOOKUPS = Counter("gateway_refreshing", "Lookups of kept values, by kind (stats, keyset) and outcome (fresh, "
                  "stale, computed)", ["kind", "outcome"])


@dataclass
class _Entry(Generic[T]):
    value: T
    at: float
    weight: int


class Refreshing(Generic[T]):
    def __init__(self, kind: str, ttl_s: float, timeout_s: float | None = None, max_weight: int = 64,
                 weigh: Callable[[T], int] = lambda _: 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.max_weight = max_weight
        self.weigh = weigh
        self.weight = 0
        self.clock = clock
        self.entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self.flights: dict[Hashable, asyncio.Task[T]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        e = self.entries.get(key)
        if e is not None:
            age = self.clock() - e.at
            if age < 2 * self.ttl_s:
                self.entries.move_to_end(key)
                if age < self.ttl_s:
                    LOOKUPS.labels(self.kind, "fresh").inc()
                else:
                    LOOKUPS.labels(self.kind, "stale").inc()
                    self._flight(key, compute)  # refreshed in the background; this answer is the stale one
                return e.value
        LOOKUPS.labels(self.kind, "computed").inc()
        return await asyncio.shield(self._flight(key, compute))

    def _flight(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        task = self.flights.get(key)
        if task is None:
            ctx = contextvars.copy_context()
            ctx.run(REQUEST_START.set, None)
            ctx.run(BACKGROUND_TIMEOUT_S.set, self.timeout_s)
            task = asyncio.create_task(self._compute(key, compute), name=f"refresh-{self.kind}", context=ctx)
            self.flights[key] = task
            task.add_done_callback(_observed)
        return task

    def holds(self, key: Hashable) -> bool:
        """A value is kept for the key that ``get`` would answer without waiting (fresh or stale)."""
        e = self.entries.get(key)
        return e is not None and self.clock() - e.at < 2 * self.ttl_s

    def put(self, key: Hashable, value: T) -> None:
        """Keep a value computed on the way (a count read with the page it counts)."""
        LOOKUPS.labels(self.kind, "computed").inc()
        self._keep(key, value)

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await compute()
        finally:
            self.flights.pop(key, None)
        self._keep(key, value)
        return value

    def _keep(self, key: Hashable, value: T) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.weight -= old.weight
        w = self.weigh(value)
        if w <= self.max_weight:
            self.entries[key] = _Entry(value, self.clock(), w)
            self.weight += w
            while self.weight > self.max_weight:
                self.weight -= self.entries.popitem(last=False)[1].weight


def _observed(task: asyncio.Task[Any]) -> None:
    """A background refresh nobody awaits: its failure is logged, not left unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.info("%s not refreshed: %s", task.get_name(), type(task.exception()).__name__)
