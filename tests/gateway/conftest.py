"""A real gateway on a loopback port (uvicorn in a thread) over the shared demo services.

``api`` serves the demo policies in ``filter`` mode; ``make_api(**settings)`` starts
another gateway with other settings (e.g. ``auth_mode="reject"``) or another env.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.registry import Registry
from gateway.app import Gateway
from gateway.embedded import EmbeddedServer
from gateway.auth import issue
from gateway.settings import Settings, load_settings
from schema.build import catalogue

SUBDISTRICT = "310107005"


@dataclass
class Api:
    base: str
    settings: Settings
    gateway: Gateway

    def token(self, role: str | list[str], jurisdiction: str = SUBDISTRICT, purpose: str | None = None,
              user: str = "tester") -> str:
        return issue(self.settings, user, [role] if isinstance(role, str) else role, jurisdiction, purpose)

    def post(self, query: str, token: str | None, variables: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> httpx.Response:
        h = {"Content-Type": "application/json", **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        body = raw if raw is not None else httpx.Request("POST", "/", json={"query": query, "variables": variables}).content
        return httpx.post(self.base + "/graphql", content=body, headers=h, timeout=60)

    def gql(self, query: str, token: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        r = self.post(query, token, variables, headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def codes(body: dict[str, Any]) -> list[str]:
    return [(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []]


@pytest.fixture(scope="session")
def make_api(demo_env: dict[str, str]) -> Iterator[Callable[..., Api]]:
    servers: dict[tuple[Any, ...], tuple[EmbeddedServer, Api]] = {}

    def make(env: dict[str, str] | None = None, engine: Any = None, **overrides: Any) -> Api:
        key = (tuple(sorted(overrides.items())), tuple(sorted((env or {}).items())), id(engine) if engine else None)
        if key not in servers:
            settings = load_settings(env={}, **overrides)
            registry = Registry.from_dir(settings.adapters_dir, catalogue(), {**demo_env, **(env or {})})
            gw = Gateway(settings, registry=registry, engine=engine)
            srv = EmbeddedServer(gw)
            servers[key] = (srv, Api(srv.base, settings, gw))
        return servers[key][1]

    yield make
    for srv, _ in servers.values():  # signal all first, then wait: they stop in parallel
        srv.server.should_exit = True
    for srv, _ in servers.values():
        srv.stop()


@pytest.fixture(scope="session")
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
