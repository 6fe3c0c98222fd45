"""Benchmark harness: the default demo (83k residents), its HTTP departments, embedded gateways.

Every figure is reported as a ratio against a floor measured in the same run.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from adapters.registry import Registry
from demo.generate import ensure_demo_data
from demo.launch import DemoServices, demo_environment
from gateway.app import Gateway
from gateway.auth import issue
from gateway.embedded import EmbeddedServer
from gateway.settings import Settings, load_settings
from schema.build import catalogue


@contextmanager
def demo_departments(persons: int = 83000) -> Iterator[dict[str, str]]:
    settings = load_settings(env={})
    data = Path(os.environ.get("BENCH_DEMO_DIR", settings.demo_dir))
    ensure_demo_data(data, persons=persons)
    svc = DemoServices(data)
    try:
        yield demo_environment(data, svc.start())
    finally:
        svc.stop()


def gateway(env: dict[str, str], engine: Any = None, **overrides: Any) -> tuple[EmbeddedServer, Gateway, Settings]:
    settings = load_settings(env={}, **overrides)
    gw = Gateway(settings, registry=Registry.from_dir(settings.adapters_dir, catalogue(), {**os.environ, **env}),
                 engine=engine)
    return EmbeddedServer(gw), gw, settings


def token(settings: Settings, role: str, jurisdiction: str = "310107005", purpose: str | None = None) -> str:
    return issue(settings, "bench", [role], jurisdiction, purpose)


def timed(client: httpx.Client, base: str, query: str, tok: str, **headers: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    r = client.post(base + "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {tok}", **headers})
    ms = (time.perf_counter() - t0) * 1000
    r.raise_for_status()
    return ms, r.json()


def median_of(n: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(n))
