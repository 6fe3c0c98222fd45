"""Every call to a department passes here: timeout, concurrency limit, circuit breaker, metrics.

Each department is its own failure domain. After ``threshold`` consecutive failures the
breaker opens and calls fail fast with DEPARTMENT_UNAVAILABLE for ``cooldown_s``; one
trial call is then let through (half-open) and a success closes it again.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from adapters.base import Cells, GroupBy, Health, ListQuery, Page
from common.errors import AdapterError, AdapterTimeoutError, AdapterUnavailableError

T = TypeVar("T")
OPERATIONS = ("load_many", "list", "aggregate")

CALLS = Counter("gateway_adapter_calls_total", "Calls made to a department adapter", ["adapter", "operation"])
ERRORS = Counter("gateway_adapter_errors_total", "Failed department adapter calls", ["adapter", "code"])
LATENCY = Histogram("gateway_adapter_latency_seconds", "Department adapter call latency", ["adapter", "operation"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class Breaker:
    def __init__(self, threshold: int = 5, cooldown_s: float = 10.0) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        return time.monotonic() - self.opened_at >= self.cooldown_s

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()

    @property
    def state(self) -> str:
        return "closed" if self.opened_at is None else ("half-open" if self.allow() else "open")


class Guarded:
    """Wraps an adapter with the resilience policy; same protocol as the adapter it wraps."""

    def __init__(self, inner: Any, timeout_s: float, max_concurrency: int) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.department: str = inner.department
        self.kind: str = getattr(inner, "reports_kind", None) or inner.kind
        self.entities = inner.entities
        self.timeout_s = timeout_s
        self.sem = asyncio.Semaphore(max_concurrency)
        self.breaker = Breaker()
        for op in OPERATIONS:  # export every series from the start: a department never called shows 0
            CALLS.labels(self.name, op)
            LATENCY.labels(self.name, op)

    async def _call(self, op: str, fn: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.allow():
            ERRORS.labels(self.name, AdapterUnavailableError.code).inc()
            raise AdapterUnavailableError(f"department {self.name} is unavailable (circuit open)",
                                          department=self.name)
        CALLS.labels(self.name, op).inc()
        t0 = time.perf_counter()
        try:
            async with self.sem:
                async with asyncio.timeout(self.timeout_s):
                    result = await fn()
        except TimeoutError:
            self.breaker.record(False)
            ERRORS.labels(self.name, AdapterTimeoutError.code).inc()
            raise AdapterTimeoutError(f"department {self.name} timed out after {self.timeout_s}s",
                                      department=self.name) from None
        except AdapterError as e:
            self.breaker.record(False)
            ERRORS.labels(self.name, e.code).inc()
            raise
        finally:
            LATENCY.labels(self.name, op).observe(time.perf_counter() - t0)
        self.breaker.record(True)
        return result

    async def load_many(self, entity: str, keys: Sequence[str], by: str | None = None) -> list[Any]:
        return await self._call("load_many", lambda: self.inner.load_many(entity, keys, by))

    async def list(self, entity: str, query: ListQuery) -> Page:
        return await self._call("list", lambda: self.inner.list(entity, query))

    async def aggregate(self, entity: str, query: ListQuery,
                        group_by: Sequence[GroupBy]) -> Cells:
        return await self._call("aggregate", lambda: self.inner.aggregate(entity, query, group_by))

    async def health(self) -> Health:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                h: Health = await self.inner.health()
        except TimeoutError:
            h = Health("down", "timeout")
        return Health(h.status, h.detail, round((time.perf_counter() - t0) * 1000, 2))

    async def close(self) -> None:
        await self.inner.close()
