"""``AuditStore``: the audit sink the gateway runs: batched off the request path, failing closed.

``record`` only appends the entry to an in-memory buffer; one writer task per process
prepares the records (subject HMACs, document hash, canonical JSON) and appends them in
batches (every ``batch_s`` or ``batch_records``) through ``chain.append``. A failed batch is
kept and retried with backoff (deduplicated by uid, so an unknown commit outcome never
doubles a record); meanwhile the store is *down*.

``admits(sensitive)`` is the fail-closed gate the view asks before executing: a request that
would release identity or sensitive-category fields runs only while the store is up (started,
last write succeeded, nothing waiting longer than a few timeouts); any request runs only while
the buffer has room. ``stop`` drains the buffer and seals a final checkpoint.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from alembic.util import CommandError
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from gateway.audit import queries
from gateway.audit.chain import SealPolicy, append
from gateway.audit.db import display, engine_for, migrate, url_of
from gateway.audit.keys import Signer, audit_key, signer
from gateway.audit.record import Prepared, prepare
from gateway.audit.sink import AuditSink
from gateway.settings import Settings

log = logging.getLogger("gateway.audit")
WRITTEN = Counter("gateway_audit_records", "Audit records appended to the store")
DROPPED = Counter("gateway_audit_dropped", "Audit records dropped: the buffer was over twice its size")
BUFFERED = Gauge("gateway_audit_buffered", "Audit records waiting for the store")
BATCH_RECORDS = 500
BATCH_S = 0.05
DRAIN_S = 15.0
# what a store that is down, locked, unreachable or slow raises (anything else is a bug: logged in full)
STORE_ERRORS = (SQLAlchemyError, OSError, TimeoutError, CommandError)


def _crashed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:  # the store is down from now on: fail closed
        log.error("audit writer stopped by an error", exc_info=task.exception())


class AuditStore(AuditSink):
    def __init__(self, url: str, key: bytes, sign: Signer, buffer: int = 10_000,
                 policy: SealPolicy | None = None, timeout_s: float = 2.0, batch_records: int = BATCH_RECORDS,
                 batch_s: float = BATCH_S) -> None:
        self.url = url
        self.key = key
        self.signer = sign
        self.buffer = buffer
        self.policy = policy or SealPolicy()
        self.timeout_s = timeout_s
        self.batch_records = batch_records
        self.batch_s = batch_s
        self.engine = engine_for(url, timeout_s, appender=True)
        self._reader: Any = None
        self._pending: collections.deque[tuple[float, dict[str, Any]]] = collections.deque()
        self._inflight: list[Prepared] = []
        self._inflight_since = 0.0
        self._ok = False
        self._migrated = False
        self._suspect = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.last_error: str | None = None
        self.written = 0

    @classmethod
    def from_settings(cls, s: Settings) -> AuditStore:
        return cls(url_of(s), audit_key(s), signer(s), buffer=s.audit_buffer,
                   policy=SealPolicy(s.audit_checkpoint_records, s.audit_checkpoint_s), timeout_s=s.audit_timeout_s)

    # --- the request path -----------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        if self.waiting() >= 2 * self.buffer:
            DROPPED.inc()
            log.error("audit buffer over twice its size (%d): record of %s dropped", self.buffer, entry.get("user"))
            return
        self._pending.append((time.monotonic(), entry))
        if self._wake is not None:
            self._wake.set()

    def waiting(self) -> int:
        return len(self._pending) + len(self._inflight)

    def healthy(self) -> bool:
        if not (self._ok and self._task is not None and not self._task.done()):
            return False
        oldest = self._inflight_since if self._inflight else (self._pending[0][0] if self._pending else None)
        return oldest is None or time.monotonic() - oldest < 3 * self.timeout_s + 1.0

    def admits(self, sensitive: bool) -> bool:
        if self.waiting() >= self.buffer:
            return False
        return not sensitive or self.healthy()

    def status(self) -> dict[str, Any]:
        state = "up" if self.healthy() else ("stopped" if self._closing else "down")
        out: dict[str, Any] = {"status": state, "store": display(self.url), "buffered": self.waiting(),
                               "buffer": self.buffer}
        if self.last_error and state != "up":
            out["error"] = self.last_error
        return out

    # --- the writer -----------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._closing = False
        await self._try([])  # migrate and check the store answers before the first request (else: down)
        self._task = asyncio.create_task(self._run(), name="audit-writer")
        self._task.add_done_callback(_crashed)

    async def stop(self) -> None:
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), DRAIN_S + 5 * self.timeout_s)
            except TimeoutError:
                self._task.cancel()
        if self.waiting():
            log.error("audit store %s unreachable at shutdown: %d record(s) lost", display(self.url), self.waiting())
        else:
            try:
                await self._commit([], force_seal=True)
            except STORE_ERRORS as e:
                log.warning("audit: final checkpoint not sealed: %s", type(e).__name__)
        await self.engine.dispose()
        if self._reader is not None:
            await self._reader.dispose()

    async def _run(self) -> None:
        backoff = 0.05
        deadline: float | None = None
        while True:
            assert self._wake is not None
            if not self._inflight:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.policy.seconds)
                    except TimeoutError:
                        await self._try([])  # idle: seal what is due
                    continue
                if len(self._pending) < self.batch_records and not self._closing:
                    await asyncio.sleep(self.batch_s)
                self._take()
            if await self._try(self._inflight):
                self.written += len(self._inflight)
                WRITTEN.inc(len(self._inflight))
                self._inflight = []
                backoff = 0.05
            else:
                if self._closing:
                    deadline = deadline or time.monotonic() + DRAIN_S
                    if time.monotonic() > deadline:
                        return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            BUFFERED.set(self.waiting())

    def _take(self) -> None:
        n = min(len(self._pending), self.batch_records)
        self._inflight_since = self._pending[0][0]
        self._inflight = [prepare(self._pending.popleft()[1], self.key) for _ in range(n)]

    async def _try(self, batch: list[Prepared]) -> bool:
        try:
            await self._commit(batch)
        except STORE_ERRORS as e:
            self._down(e)
            return False
        if self.last_error is not None:
            log.warning("audit store %s is back", display(self.url))
        self._ok, self.last_error = True, None
        return True

    def _down(self, e: BaseException) -> None:
        self._suspect = True
        if self._ok or self.last_error is None:
            log.warning("audit store %s unavailable (%s): sensitive requests are refused, others buffered",
                        display(self.url), type(e).__name__, extra={"code": "AUDIT_UNAVAILABLE"})
        self._ok, self.last_error = False, type(e).__name__

    async def _commit(self, batch: list[Prepared], force_seal: bool = False) -> None:
        async with asyncio.timeout(5 * self.timeout_s + 1.0):  # backstop: the drivers time out first
            if not self._migrated:
                await migrate(self.engine)
                self._migrated = True
            async with self.engine.begin() as conn:
                await append(conn, batch, self.signer, self.policy, dedupe=self._suspect, force_seal=force_seal)
        self._suspect = False

    # --- what auditors ask (the GraphQL fields; the CLI reads the store directly) ----
    def reader(self) -> Any:
        if self._reader is None:
            self._reader = engine_for(self.url, self.timeout_s)
        return self._reader

    async def search(self, **filters: Any) -> list[dict[str, Any]]:
        return await queries.search(self.reader(), **filters)

    async def accesses(self, id_number: str, limit: int = 1000) -> list[dict[str, Any]]:
        return await queries.accesses(self.reader(), self.key, id_number, limit)
