"""Per-request state: who asks, what they may see, the loaders, the trace and the errors."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.registry import Registry
from common.errors import GatewayError
from resolvers.access import Access
from resolvers.ids import IdCodec


@dataclass(frozen=True)
class Principal:
    user: str
    roles: tuple[str, ...]
    jurisdiction: str
    purpose: str | None = None


@dataclass(frozen=True)
class Limits:
    default_page: int = 20
    max_page: int = 1000
    k_anonymity: int = 5
    stats_key: bytes = b"civic-gateway-stats-rounding"  # keys the rounding of small stats cells


@dataclass
class AdapterTrace:
    calls: int = 0
    keys: int = 0
    rows: int = 0
    ms: float = 0.0


class Trace:
    def __init__(self, names: Sequence[str]) -> None:
        self.adapters: dict[str, AdapterTrace] = {n: AdapterTrace() for n in names}

    def record(self, adapter: str, keys: int, rows: int, started: float) -> None:
        t = self.adapters.setdefault(adapter, AdapterTrace())
        t.calls += 1
        t.keys += keys
        t.rows += rows
        t.ms += (time.perf_counter() - started) * 1000

    def called(self) -> list[str]:
        return [n for n, t in self.adapters.items() if t.calls]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {n: {"calls": t.calls, "keys": t.keys, "rows": t.rows, "ms": round(t.ms, 2)}
                for n, t in self.adapters.items()}


@dataclass
class RequestContext:
    principal: Principal
    registry: Registry
    ids: IdCodec
    access: Access
    limits: Limits = field(default_factory=Limits)
    trace: Trace = field(init=False)
    errors: list[tuple[tuple[str, ...], GatewayError]] = field(default_factory=list)
    loaders: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    rows_returned: int = 0
    row_keys: dict[str, frozenset[str]] | None = None  # relationship row scope, loaded once
    subjects: set[str] = field(default_factory=set)  # ID numbers of persons whose sensitive fields left
    rows_by_type: dict[str, int] = field(default_factory=dict)  # rows released per type (audit)
    writes: list[dict[str, Any]] = field(default_factory=list)  # records written: department, type, key (audit)
    audit: Any = None  # the audit store's reader (resolvers/audit_query.py), None without one
    stats_cache: Any = None  # the gateway's stats lattices (resolvers/refreshing.py), None: none kept
    keysets: Any = None  # the gateway's filter key sets (resolvers/refreshing.py), None: none kept
    counts: Any = None  # the gateway's totalCounts of unfiltered-by-key root lists, likewise
    tag_reads: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # records tag evaluations read (resolvers/tags.py)
    alerts: Any = None  # the gateway's water alerts (resolvers/alerts.py Alerts), None: none kept
    compiled: bool = True  # values under the root fields completed by cached plans (resolvers/compiled.py)

    def __post_init__(self) -> None:
        self.trace = Trace([a.name for a in self.registry])

    def error(self, path: tuple[str, ...], err: GatewayError) -> None:
        if all(p != path or e.code != err.code for p, e in self.errors):
            self.errors.append((path, err))
