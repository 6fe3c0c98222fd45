"""Helpers shared by the tests (the fixtures live in tests/conftest.py)."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.app import Gateway
from gateway.auth import issue
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS_DIR = ROOT / "adapters"
SUBDISTRICT = "310107005"
# one client for the session: httpx.post() would build an SSL context (CA bundle) per request
CLIENT = httpx.Client()


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
        return CLIENT.post(self.base + "/graphql", content=body, headers=h, timeout=60)

    def gql(self, query: str, token: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        r = self.post(query, token, variables, headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def codes(body: dict[str, Any]) -> list[str]:
    return [(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []]


def adapter_calls(api: Api) -> Counter[str]:
    """gateway_adapter_calls_total per adapter, summed over operations, from GET /metrics."""
    text = CLIENT.get(api.base + "/metrics", timeout=30).text
    out: Counter[str] = Counter()
    for m in re.finditer(r'^gateway_adapter_calls_total\{([^}]*)\} ([0-9.e+]+)$', text, re.MULTILINE):
        adapter = re.search(r'adapter="([^"]+)"', m.group(1))
        if adapter:
            out[adapter.group(1)] += int(float(m.group(2)))
    return out
