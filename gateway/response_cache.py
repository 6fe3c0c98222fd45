"""The authorization-aware response cache (setting ``response_cache_s``; off at 0).

An answer is reused only for a request that would be authorized exactly alike. The key is a hash
over these, so no cached answer reaches a caller who would see other fields or other rows:

- the policy version, the caller's roles, declared purpose and jurisdiction;
- the user too when a row rule restricts the caller's rows (a family doctor's contracted residents);
- the normalised document, the operation name and the variables.

Only queries are cached, and an answer is kept only when all of these hold:

- the request reads no sensitive field, masked or not (identity, contact, health, ...);
- the answer carries no error, and the request asked for no trace.

The answer is kept for ``response_cache_s``, or less when a department it asked has a shorter
``limits.cache_ttl_s`` (0: answers it contributes to are never kept). A hit is still one audit
record.

Answers live in Redis when the replicas share one (gateway/shared.py), else in this process, at most
``LOCAL_MAX`` of them.
"""
from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from graphql import DocumentNode, print_ast
from prometheus_client import Counter
from redis.exceptions import RedisError

from gateway.shared import Shared

LOCAL_MAX = 10_000
OUTCOMES = Counter("gateway_response_cache_total", "Response cache lookups and stores", ["outcome"])


class ResponseCache:
    def __init__(self, shared: Shared, ttl_s: float, department_ttl: Mapping[str, float | None]) -> None:
        self.shared = shared
        self.ttl_s = ttl_s
        self.department_ttl = dict(department_ttl)
        self.local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        for o in ("hit", "miss", "store"):
            OUTCOMES.labels(o)

    @property
    def on(self) -> bool:
        return self.ttl_s > 0

    def key(self, version: Any, roles: Iterable[str], purpose: str | None, jurisdiction: str, user: str | None,
            doc: DocumentNode, operation: str | None, variables: Mapping[str, Any]) -> str:
        raw = orjson.dumps([str(version), sorted(roles), purpose, jurisdiction, user, print_ast(doc), operation,
                            variables], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(raw).hexdigest()

    def ttl(self, departments: Iterable[str]) -> float:
        ttl = self.ttl_s
        for d in departments:
            own = self.department_ttl.get(d)
            if own is not None:
                ttl = min(ttl, own)
        return ttl

    async def get(self, key: str) -> dict[str, Any] | None:
        raw: bytes | str | None = None
        r = self.shared.redis
        if r is not None:
            try:
                raw = await r.get(self.shared.key("answer", key))
                self.shared.ok()
            except (RedisError, OSError) as e:
                self.shared.failed("response cache", e)
        else:
            kept = self.local.get(key)
            if kept is not None and kept[0] > time.monotonic():
                raw = kept[1]
            elif kept is not None:
                del self.local[key]
        OUTCOMES.labels("hit" if raw else "miss").inc()
        return orjson.loads(raw) if raw else None  # type: ignore[no-any-return]

    async def put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        if ttl <= 0:
            return
        raw = orjson.dumps(value)
        r = self.shared.redis
        if r is not None:
            try:
                await r.set(self.shared.key("answer", key), raw, px=max(1, int(ttl * 1000)))
                self.shared.ok()
            except (RedisError, OSError) as e:
                self.shared.failed("response cache", e)
                return
        else:
            self.local[key] = (time.monotonic() + ttl, raw)
            self.local.move_to_end(key)
            while len(self.local) > LOCAL_MAX:
                self.local.popitem(last=False)
        OUTCOMES.labels("store").inc()
