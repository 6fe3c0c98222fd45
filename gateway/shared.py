"""State the gateway replicas share through Redis: callers' rate limits, departments' breakers, answers.

With ``redis_url`` set, N gateway processes (on one machine or many, behind a load balancer)
behave as one:

- **Rate limits.** A fixed window per caller (``{prefix}:rl:{user}:{window}``, INCR with an
  expiry), so a caller over the limit gets 429 RATE_LIMITED from every replica alike.
- **Breakers.** A breaker that opens on one replica is written to ``{prefix}:breaker:{dept}``
  (expiring with its cooldown) and announced on ``{prefix}:breakers``. Every replica opens its own
  breaker for that department on the announcement, and at start for those still open. Each then
  closes by its own trial call, as before.
- **Answers.** Cached answers live under ``{prefix}:answer:{key}`` (gateway/response_cache.py).

Without Redis each process keeps the same state for itself, as a single process always did. When
Redis fails, the gateway serves on its own state and logs once: a caller is then limited per
replica, and an answer is computed again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson
from prometheus_client import Counter
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from common.errors import RateLimitedError

log = logging.getLogger("gateway.shared")
LIMITED = Counter("gateway_rate_limited_total", "Requests refused because the caller was over their rate limit")
REDIS_ERRORS = Counter("gateway_redis_errors_total", "Operations on the shared Redis that failed (served locally)")


class Shared:
    """The Redis connection of one gateway process, or none (``url`` empty)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.prefix = prefix
        self.redis: aioredis.Redis | None = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0) \
            if url else None
        self.failing = False

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def failed(self, what: str, e: Exception) -> None:
        REDIS_ERRORS.inc()
        if not self.failing:
            log.warning("shared Redis failed (%s: %s): serving on this process's own state", what, type(e).__name__)
        self.failing = True

    def ok(self) -> None:
        if self.failing:
            log.warning("shared Redis is back")
        self.failing = False

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


class RateLimiter:
    """Requests per caller per fixed window, the most generous limit of the caller's roles."""

    def __init__(self, shared: Shared, limits: dict[str, tuple[int, int]]) -> None:
        self.shared = shared
        self.limits = limits
        self.local: dict[tuple[str, int], int] = {}

    def limit_of(self, roles: Iterable[str]) -> tuple[int, int] | None:
        found = [self.limits[r] for r in roles if r in self.limits] or \
            ([self.limits["*"]] if "*" in self.limits else [])
        return max(found, key=lambda nw: nw[0] / nw[1]) if found else None

    async def hit(self, user: str, roles: Iterable[str]) -> None:
        """Count one request of ``user``; RATE_LIMITED (with ``retry_after_s``) when it is over the limit."""
        limit = self.limit_of(roles)
        if limit is None:
            return
        n, window = limit
        now = time.time()
        slot = int(now // window)
        count = await self._count(user, slot, window)
        if count > n:
            LIMITED.inc()
            retry = max(1, int((slot + 1) * window - now + 0.999))
            raise RateLimitedError(f"more than {n} requests in {window} s; try again in {retry} s",
                                   limit=n, window_s=window, retry_after_s=retry)

    async def _count(self, user: str, slot: int, window: int) -> int:
        r = self.shared.redis
        if r is not None:
            key = self.shared.key("rl", user, str(slot))
            try:
                async with r.pipeline(transaction=True) as p:
                    p.incr(key)
                    p.expire(key, window + 1)
                    count, _ = await p.execute()
                self.shared.ok()
                return int(count)
            except (RedisError, OSError) as e:
                self.shared.failed("rate limit", e)
        if len(self.local) > 100_000:
            self.local = {k: v for k, v in self.local.items() if k[1] >= slot}
        self.local[user, slot] = self.local.get((user, slot), 0) + 1
        return self.local[user, slot]


class BreakerBoard:
    """Carries breaker openings between replicas (the guards' breakers stay the ones deciding)."""

    def __init__(self, shared: Shared, guards: dict[str, Any]) -> None:
        self.shared = shared
        self.guards = guards  # department name -> its Guarded adapter
        self.applying: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.sent: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.shared.redis is None:
            return
        for name, g in self.guards.items():
            g.breaker.observers.append(lambda why, name=name: self._opened(name, why))
        self.task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _opened(self, name: str, why: str) -> None:
        """A local breaker opened: tell the others (unless it opened because another told us)."""
        if self.applying == name or self.shared.redis is None:
            return
        cooldown = self.guards[name].breaker.cooldown_s
        task = asyncio.get_running_loop().create_task(self._announce(name, cooldown, why))
        self.sent.add(task)
        task.add_done_callback(self.sent.discard)

    async def _announce(self, name: str, cooldown: float, why: str) -> None:
        r = self.shared.redis
        assert r is not None
        try:
            body = orjson.dumps({"department": name, "until": time.time() + cooldown, "why": why})
            await r.set(self.shared.key("breaker", name), body, px=max(1, int(cooldown * 1000)))
            await r.publish(self.shared.key("breakers"), body)
            self.shared.ok()
        except (RedisError, OSError) as e:
            self.shared.failed("breaker", e)

    def apply(self, body: bytes | str) -> None:
        try:
            msg = orjson.loads(body)
            name, until = str(msg["department"]), float(msg["until"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        g = self.guards.get(name)
        if g is None or until <= time.time():
            return
        self.applying = name
        try:
            g.breaker.open_now(f"opened on another replica ({msg.get('why', '')})", until - time.time())
        finally:
            self.applying = None

    async def _listen(self) -> None:
        r = self.shared.redis
        assert r is not None
        while True:
            try:
                async with r.pubsub() as ps:
                    await ps.subscribe(self.shared.key("breakers"))
                    for name in self.guards:  # those opened before this replica listened
                        body = await r.get(self.shared.key("breaker", name))
                        if body:
                            self.apply(body)
                    async for m in ps.listen():
                        if m.get("type") == "message":
                            self.apply(m["data"])
            except (RedisError, OSError) as e:
                self.shared.failed("breaker announcements", e)
                await asyncio.sleep(1.0)
