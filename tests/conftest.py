"""Shared session fixtures: a small demo dataset, the seven demo HTTP services, the adapter registry.

The dataset (3,000 persons) is generated once and cached under .pytest_cache/demo-3000
(regenerated only when its manifest no longer matches); services run on free ports.
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS_DIR = ROOT / "adapters"
DEMO_PERSONS = 3000
DEMO_DIR = ROOT / ".pytest_cache" / f"demo-{DEMO_PERSONS}"


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    from demo.generate import ensure_demo_data

    return ensure_demo_data(DEMO_DIR, persons=DEMO_PERSONS)


@pytest.fixture(scope="session")
def demo_env(demo_dir: Path) -> Iterator[dict[str, str]]:
    """Environment the adapter specs read: data dir + base URL of each running demo service."""
    from demo.launch import DemoServices, demo_environment

    services = DemoServices(demo_dir)
    try:
        urls = services.start()
        yield {**os.environ, **demo_environment(demo_dir, urls)}
    finally:
        services.stop()


@pytest.fixture(scope="session")
def catalogue():  # type: ignore[no-untyped-def]
    from schema.build import catalogue as build

    return build()


@pytest.fixture(scope="session")
async def registry(demo_env: dict[str, str], catalogue) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    from adapters.registry import Registry

    reg = Registry.from_dir(ADAPTERS_DIR, catalogue, demo_env)
    try:
        yield reg
    finally:
        await reg.close()
