"""Shared session fixtures: a small demo dataset, the seven demo HTTP services, the adapter registry,
and real gateways on loopback ports over them (``api``, ``make_api(**settings)``).

The dataset (3,000 persons) is generated once and cached under .pytest_cache/demo-3000
(regenerated only when its manifest no longer matches); services run on free ports.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import Registry
from gateway.app import Gateway
from gateway.embedded import EmbeddedServer
from gateway.settings import load_settings
from schema.build import catalogue as build_catalogue
from tests.helpers import ADAPTERS_DIR, ROOT, Api

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


# gateways made with other settings than the default one live as long as the module that made them:
# dozens of idle gateways (health loops, checkpoint sealing) would otherwise load the suite's end
_GATEWAYS: dict[tuple[Any, ...], tuple[EmbeddedServer, Api]] = {}
_DEFAULT: tuple[Any, ...] = ((), (), None)


def _stop(servers: list[EmbeddedServer]) -> None:
    for srv in servers:  # signal all first, then wait: they stop in parallel
        srv.server.should_exit = True
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="session")
def make_api(demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Api]]:
    # each gateway keeps its own audit chain, apart from the developer's var/audit.db and from each other's
    folder = tmp_path_factory.mktemp("audit")
    serial = itertools.count()

    def make(env: dict[str, str] | None = None, engine: Any = None, **overrides: Any) -> Api:
        key = (tuple(sorted(overrides.items())), tuple(sorted((env or {}).items())), id(engine) if engine else None)
        if key not in _GATEWAYS:
            audit_url = f"sqlite+aiosqlite:///{folder / f'audit-{next(serial)}.db'}"
            alerts_url = f"sqlite+aiosqlite:///{folder / f'alerts-{next(serial)}.db'}"
            settings = load_settings(env={}, **{"audit_url": audit_url, "alerts_url": alerts_url, **overrides})
            registry = Registry.from_dir(settings.adapters_dir, build_catalogue(), {**demo_env, **(env or {})})
            gw = Gateway(settings, registry=registry, engine=engine)
            srv = EmbeddedServer(gw)
            _GATEWAYS[key] = (srv, Api(srv.base, settings, gw))
        return _GATEWAYS[key][1]

    yield make
    _stop([srv for srv, _ in _GATEWAYS.values()])
    _GATEWAYS.clear()


@pytest.fixture(scope="module", autouse=True)
def _module_gateways() -> Iterator[None]:
    """Stop the gateways a test module made (but the default one, which the whole session shares)."""
    before = set(_GATEWAYS)
    yield
    made = [k for k in _GATEWAYS if k not in before and k != _DEFAULT]
    _stop([_GATEWAYS.pop(k)[0] for k in made])


@pytest.fixture(scope="session")
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture(scope="module")
def data(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data copied for a module that writes: its writes stay out of the data every other test reads."""
    import shutil

    copy = tmp_path_factory.mktemp("writes") / "demo"
    shutil.copytree(demo_dir, copy)
    return copy


@pytest.fixture(scope="module")
def services(data: Path) -> Iterator[dict[str, str]]:
    """The HTTP departments served from that copy (the culture centre, the hotline and city management are
    written to): the environment that points the specs at them."""
    from demo.launch import DemoServices, demo_environment

    svc = DemoServices(data)
    try:
        yield demo_environment(data, svc.start())
    finally:
        svc.stop()
