"""Every call to a department passes here: timeout, concurrency limit, circuit breaker, metrics.

Each department is its own failure domain. Only the department's own faults count toward
its breaker: timeouts, connection failures, 5xx and unreadable answers (garbage from a
department means the department is broken). A request it refused (4xx,
DEPARTMENT_REJECTED) was built wrong by the gateway and never counts against it.

* Bounded: one ``timeout_s`` covers the wait for a concurrency slot and the call itself.
* After ``threshold`` consecutive failures the breaker opens: callers fail at once with
  DEPARTMENT_UNAVAILABLE, including those waiting for a slot and those still waiting for
  the department's answer (a frozen department would otherwise hold each of them for the
  whole timeout, one wave after another). After ``cooldown_s``
  it is half-open: exactly one caller is let through as a trial (the others still fail
  fast); the trial's success closes it, its failure opens it again. A successful health
  check after the cooldown closes it too, so recovery does not wait for traffic.
* Every state change is a WARNING log line and the gauge ``gateway_adapter_breaker_state``
  (0 closed, 1 half-open, 2 open).
* A background ``watch`` loop runs the department's health check every interval and keeps
  the result for /readyz, which therefore never waits on a department.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from adapters.base import Cells, Filter, GroupBy, Health, ListQuery, Page, Record
from adapters.check import CheckResult, SpecCheck
from adapters.spec import Limits
from common.errors import (
    AdapterError,
    AdapterRejectedError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    GatewayError,
)

T = TypeVar("T")
OPERATIONS = ("load_many", "list", "aggregate")
CLOSED, HALF_OPEN, OPEN = "closed", "half-open", "open"
LEVEL = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
log = logging.getLogger(__name__)

# When the current request arrived (event-loop time), set by the edge: a request waits at most a
# department's timeout on that department, counted from its arrival, whatever the number of levels
# or the time spent queueing before the call.
REQUEST_START: ContextVar[float | None] = ContextVar("request_start", default=None)
# Work done in the background of requests (a stats lattice computed once for many answers) sets
# its own, longer, timeout per call here; no request's arrival bounds it.
BACKGROUND_TIMEOUT_S: ContextVar[float | None] = ContextVar("background_timeout_s", default=None)

CALLS = Counter("gateway_adapter_calls_total", "Calls made to a department adapter", ["adapter", "operation"])
ERRORS = Counter("gateway_adapter_errors_total", "Failed department adapter calls", ["adapter", "code"])
LATENCY = Histogram("gateway_adapter_latency_seconds", "Department adapter call latency", ["adapter", "operation"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STATE = Gauge("gateway_adapter_breaker_state", "Circuit breaker of a department: 0 closed, 1 half-open, 2 open",
              ["adapter"])
TRANSITIONS = Counter("gateway_adapter_breaker_transitions_total", "Circuit breaker state changes",
                      ["adapter", "to"])


@dataclass(frozen=True)
class Defaults:
    """Gateway-wide values for what a spec's ``limits:`` leaves out (see gateway/settings.py)."""

    timeout_s: float = 5.0
    max_concurrency: int = 16
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 10.0
    health_interval_s: float = 2.0
    bad_rows_ratio: float = 0.01


class Breaker:
    def __init__(self, name: str = "", threshold: int = 5, cooldown_s: float = 10.0) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False  # a half-open trial call is in flight
        self._state = CLOSED
        self.on_open: Callable[[], None] = lambda: None
        self.observers: list[Callable[[str], None]] = []  # told why, each time it opens (gateway/shared.py)
        STATE.labels(name).set(0)

    @property
    def state(self) -> str:
        """closed | half-open | open; an open breaker whose cooldown has passed turns half-open here."""
        if self._state == OPEN and self._cooled():
            self._move(HALF_OPEN, "cooldown over")
        return self._state

    def _cooled(self) -> bool:
        return self.opened_at is None or time.monotonic() - self.opened_at >= self.cooldown_s

    def _move(self, to: str, why: str) -> None:
        if to == self._state:
            return
        log.warning("department %s: circuit breaker %s -> %s (%s)", self.name, self._state, to, why,
                    extra={"department": self.name, "breaker_from": self._state, "breaker_to": to})
        self._state = to
        STATE.labels(self.name).set(LEVEL[to])
        TRANSITIONS.labels(self.name, to).inc()
        if to == OPEN:
            self.opened_at = time.monotonic()
            self.trial = False
            self.on_open()
            for tell in self.observers:
                tell(why)
        elif to == CLOSED:
            self.failures, self.opened_at, self.trial = 0, None, False

    def admit(self) -> bool:
        """Whether a call may go ahead now; True also claims the half-open trial when that is what it is."""
        st = self.state
        if st == CLOSED:
            return True
        if st == HALF_OPEN and not self.trial:
            self.trial = True
            return True
        return False

    def allow(self) -> bool:
        """Would a call be let through now (without claiming anything)."""
        st = self.state
        return st == CLOSED or (st == HALF_OPEN and not self.trial)

    def record(self, ok: bool | None, trial: bool = False) -> None:
        """A call's verdict: True the department answered, False it failed, None no verdict (cancelled...)."""
        if trial:
            self.trial = False
        if ok is None:
            return
        if ok:
            self.failures = 0
            if self._state != CLOSED:
                self._move(CLOSED, "a call succeeded")
            return
        self.failures += 1
        if self._state == HALF_OPEN and trial:
            self._move(OPEN, "the trial call failed")
        elif self._state == CLOSED and self.failures >= self.threshold:
            self._move(OPEN, f"{self.failures} consecutive failures")

    def open_now(self, why: str, for_s: float) -> None:
        """Open for ``for_s`` seconds (then half-open as usual): another replica's breaker opened."""
        if self._state == OPEN:
            return
        self._move(OPEN, why)
        self.opened_at = time.monotonic() - max(0.0, self.cooldown_s - for_s)

    def recovered(self) -> None:
        """A health check succeeded: after the cooldown that is as good as a trial call."""
        if self._state != CLOSED and self._cooled() and not self.trial:
            self._move(CLOSED, "health check succeeded")


class Slots:
    """A counting semaphore whose waiters can all be failed at once (when the breaker opens)."""

    def __init__(self, n: int) -> None:
        self.size = n
        self.free = n
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.release()  # granted just as the caller gave up: hand it on
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(fut)
            raise

    def release(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1



class Pending:
    """One call under way: its timeout, which the opening breaker can bring forward to now."""

    __slots__ = ("cut", "timeout")

    def __init__(self, timeout: asyncio.Timeout) -> None:
        self.timeout = timeout
        self.cut = False


class Guarded:
    """Wraps an adapter with the resilience policy; same protocol as the adapter it wraps."""

    def __init__(self, inner: Any, limits: Limits | None = None, defaults: Defaults | None = None) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.department: str = inner.department
        self.kind: str = getattr(inner, "reports_kind", None) or inner.kind
        self.entities = inner.entities
        self.limits = limits or Limits()
        self.breaker = Breaker(self.name)
        self.breaker.on_open = self._cut_pending
        self.pending: set[Pending] = set()
        self.last_health: Health | None = None
        self.spec_check = SpecCheck()  # the spec against the live system (adapters/check.py)
        self.configure(defaults or Defaults())
        for op in OPERATIONS:  # export every series from the start: a department never called shows 0
            CALLS.labels(self.name, op)
            LATENCY.labels(self.name, op)

    def configure(self, d: Defaults) -> None:
        """Apply gateway-wide defaults to whatever the spec's ``limits:`` leaves out."""
        lim = self.limits
        self.defaults = d
        self.timeout_s = lim.timeout_s or d.timeout_s
        self.slots = Slots(lim.max_concurrency or d.max_concurrency)
        self.breaker.threshold = lim.breaker_threshold or d.breaker_threshold
        self.breaker.cooldown_s = lim.breaker_cooldown_s or d.breaker_cooldown_s
        if hasattr(self.inner, "configure"):
            self.inner.configure(d)

    def _unavailable(self) -> AdapterUnavailableError:
        return AdapterUnavailableError(f"department {self.name} is unavailable (circuit open)",
                                       department=self.name)

    def _cut_pending(self) -> None:
        """The breaker opened: every call waiting for a slot or an answer ends now (DEPARTMENT_UNAVAILABLE)."""
        now = asyncio.get_running_loop().time()
        for p in self.pending:
            if not p.timeout.expired():  # one already timing out keeps its own verdict
                p.cut = True
                p.timeout.reschedule(now)

    async def _call(self, op: str, fn: Callable[[], Awaitable[T]]) -> T:
        breaker = self.breaker
        trial = breaker.state == HALF_OPEN
        if not breaker.admit():
            ERRORS.labels(self.name, AdapterUnavailableError.code).inc()
            raise self._unavailable()
        CALLS.labels(self.name, op).inc()
        t0 = time.perf_counter()
        verdict: bool | None = None  # True: the department answered; False: it failed; None: no verdict
        called = False
        pending: Pending | None = None
        loop = asyncio.get_running_loop()
        timeout_s = BACKGROUND_TIMEOUT_S.get() or self.timeout_s
        own = loop.time() + timeout_s
        since = REQUEST_START.get()
        when = own if since is None else min(own, since + timeout_s)
        try:
            async with asyncio.timeout_at(when) as cm:  # the wait for a slot counts toward the timeout
                pending = Pending(cm)
                self.pending.add(pending)
                await self.slots.acquire()
                try:
                    called = True
                    result = await fn()
                finally:
                    self.slots.release()
            verdict = True
            return result
        except TimeoutError:
            if pending is not None and pending.cut:  # the breaker opened meanwhile: no verdict of this call
                ERRORS.labels(self.name, AdapterUnavailableError.code).inc()
                raise self._unavailable() from None
            verdict = False if called else None  # a wait in the queue says nothing about the department
            ERRORS.labels(self.name, AdapterTimeoutError.code).inc()
            raise AdapterTimeoutError(f"department {self.name} timed out after {timeout_s}s",
                                      department=self.name) from None
        except AdapterRejectedError as e:  # our request was at fault; the department did answer
            verdict = True
            ERRORS.labels(self.name, e.code).inc()
            raise
        except AdapterError as e:
            verdict = False if called else None
            ERRORS.labels(self.name, e.code).inc()
            raise
        finally:
            if pending is not None:
                self.pending.discard(pending)
            breaker.record(verdict, trial)
            LATENCY.labels(self.name, op).observe(time.perf_counter() - t0)

    async def load_many(self, entity: str, keys: Sequence[str], by: str | None = None) -> list[Any]:
        self.spec_check.admit(entity)
        return await self._call("load_many", lambda: self.inner.load_many(entity, keys, by))

    async def list(self, entity: str, query: ListQuery) -> Page:
        self.spec_check.admit(entity)
        return await self._call("list", lambda: self.inner.list(entity, query))

    async def aggregate(self, entity: str, query: ListQuery,
                        group_by: Sequence[GroupBy]) -> Cells:
        self.spec_check.admit(entity)
        return await self._call("aggregate", lambda: self.inner.aggregate(entity, query, group_by))

    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record:
        self.spec_check.admit(entity)
        return await self._call("write", lambda: self.inner.write(entity, values, request_key))

    def version(self, entity: str) -> Any:
        return self.inner.version(entity)

    def accepts(self, entity: str, filters: Mapping[str, Filter]) -> bool:
        """Whether the department's ``list`` takes these filters (False when its kind cannot say)."""
        accepts = getattr(self.inner, "accepts", None)
        return bool(accepts(entity, filters)) if accepts is not None else False

    async def health(self) -> Health:
        """Check now (bounded by the timeout), remember the result, and let a success close the breaker."""
        t0 = time.perf_counter()
        h = Health("down", "timeout")
        try:
            async with asyncio.timeout(self.timeout_s):
                h = await self.inner.health()
                if h.status == "loading" and hasattr(self.inner, "start"):
                    self.last_health = h  # /readyz shows it while the first version loads
                    await self.inner.start()
                    h = await self.inner.health()
        except TimeoutError:
            pass  # h: still loading, or down
        except GatewayError as e:
            h = Health("down", e.code)
        h = Health(h.status, h.detail, round((time.perf_counter() - t0) * 1000, 2))
        before = self.last_health
        if before is not None and (before.status, before.detail) != (h.status, h.detail):
            level = logging.INFO if (before.status, h.status) == ("loading", "up") else logging.WARNING
            log.log(level, "department %s: health %s -> %s%s", self.name, before.status, h.status,
                    f" ({h.detail})" if h.detail else "",
                    extra={"department": self.name, "health": h.status, "detail": h.detail})
        self.last_health = h
        if h.status in ("up", "degraded"):
            self.breaker.recovered()
        return h

    async def watch(self) -> None:
        """The background health loop (started by Registry.start)."""
        while True:
            try:
                await self.health()
            except Exception:  # never let the loop die: /readyz would freeze on a stale answer
                log.exception("health check of department %s failed", self.name)
                self.last_health = Health("down", "INTERNAL_ERROR")
            await asyncio.sleep(self.defaults.health_interval_s)

    def status(self) -> dict[str, Any]:
        """This department's row in /readyz, from the last health check (never waits)."""
        h = self.last_health
        breaker = self.breaker.state
        status, detail = ("starting", "") if h is None else (h.status, h.detail)
        if breaker == OPEN and status in ("up", "degraded"):
            status, detail = "down", "circuit open"
        status, detail = self.spec_check.adjust(status, detail)
        row: dict[str, Any] = {"name": self.name, "department": self.department, "kind": self.kind,
                               "status": status, "breaker": breaker, "ms": h.ms if h else None}
        if detail:
            row["detail"] = detail
        return row

    async def check(self) -> CheckResult:
        """Check the spec against the live system now (adapters/check.py); /readyz and the calls follow it."""
        return await self.spec_check.run(self.inner, self.defaults, self.timeout_s)

    async def verify(self) -> None:
        """The background check (started by Registry.start), once the department answers."""
        await self.spec_check.loop(self.inner, self.defaults, self.timeout_s)

    async def start(self) -> None:
        """Background start-up work of the inner adapter (ledgers load their files)."""
        if hasattr(self.inner, "start"):
            await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()
