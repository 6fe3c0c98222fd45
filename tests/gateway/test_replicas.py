"""Three gateway replicas sharing the machine's Redis behave as one: a caller's rate limit, a department's
breaker and the response cache (real Redis on 127.0.0.1:6379, real gateways on loopback ports)."""
from __future__ import annotations

import contextlib
import itertools
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.registry import Registry
from gateway.app import Gateway
from gateway.embedded import EmbeddedServer
from gateway.settings import load_settings
from schema.build import catalogue
from tests.helpers import ADAPTERS_DIR, Api, codes

REDIS = "redis://127.0.0.1:6379/0"
STATS = "{ stats(subject: PERSONS, groupBy: [COMMITTEE, AGE_BAND]) { total cells { committee ageBand count } } }"
HOUSES = "{ houses(first: 5) { totalCount edges { node { addressCode area } } } }"


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


@contextlib.contextmanager
def replicas(demo_env: dict[str, str], tmp: Path, n: int = 3, envs: list[dict[str, str]] | None = None,
             **overrides: Any) -> Iterator[list[Api]]:
    """``n`` gateways with one Redis prefix of their own (and each its own audit file, unless ``audit_url``)."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    servers: list[EmbeddedServer] = []
    apis: list[Api] = []
    try:
        for i in range(n):
            settings = load_settings(env={}, **{"audit_url": f"sqlite+aiosqlite:///{tmp / f'audit-{i}.db'}",
                                                 "alerts_url": f"sqlite+aiosqlite:///{tmp / 'alerts.db'}",
                                                 "redis_url": REDIS, "redis_prefix": prefix, **overrides})
            env = {**demo_env, **((envs or [{}] * n)[i])}
            gw = Gateway(settings, registry=Registry.from_dir(ADAPTERS_DIR, catalogue(), env))
            srv = EmbeddedServer(gw)
            servers.append(srv)
            apis.append(Api(srv.base, settings, gw))
        yield apis
    finally:
        for srv in servers:
            srv.server.should_exit = True
        for srv in servers:
            srv.stop()


def _metric(api: Api, name: str, labels: str = "") -> float:
    text = httpx.get(api.base + "/metrics", timeout=30).text
    m = re.search(rf"^{name}{re.escape(labels)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def test_a_caller_over_the_limit_is_refused_by_every_replica(demo_env: dict[str, str], tmp_path: Path) -> None:
    with replicas(demo_env, tmp_path, rate_limits="developer=6/60,*=1000/60") as apis:
        dev = apis[0].token("developer", user=f"dev-{uuid.uuid4().hex[:6]}")
        other = apis[0].token("developer", user="someone-else")
        ring = itertools.cycle(apis)
        answers = [next(ring).post("{ __typename }", dev) for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 6  # six, spread over the three replicas
        for api in apis:  # the seventh, wherever it lands
            r = api.post("{ __typename }", dev)
            assert r.status_code == 429 and codes(r.json()) == ["RATE_LIMITED"], r.text
            assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert all(api.post("{ __typename }", other).status_code == 200 for api in apis)  # per caller


def test_a_breaker_opened_on_one_replica_is_open_on_the_others(demo_env: dict[str, str], tmp_path: Path) -> None:
    dead = {"HOUSING_URL": f"http://127.0.0.1:{_dead_port()}"}  # replica 0 only cannot reach housing
    with replicas(demo_env, tmp_path, envs=[dead, {}, {}], breaker_threshold=2, breaker_cooldown_s=30) as apis:
        tok = apis[0].token("developer")
        for api in apis[1:]:
            assert "errors" not in api.gql(HOUSES, tok)  # housing answers the others
        for _ in range(3):
            apis[0].gql(HOUSES, tok)  # fails until its breaker opens
        deadline = time.monotonic() + 5
        states: list[str] = []
        while time.monotonic() < deadline:  # each replica's own breaker (the metrics of in-process replicas mix)
            states = [api.gateway.registry.adapters["housing"].breaker.state for api in apis]
            if states == ["open"] * 3:
                break
            time.sleep(0.05)
        assert states == ["open"] * 3, states  # open everywhere
        calls = _metric(apis[1], "gateway_adapter_calls_total", '{adapter="housing",operation="list"}')
        body = apis[1].gql(HOUSES, tok)
        assert "DEPARTMENT_UNAVAILABLE" in codes(body)  # failed fast ...
        assert _metric(apis[1], "gateway_adapter_calls_total", '{adapter="housing",operation="list"}') == calls


def test_a_cached_answer_reaches_only_callers_authorized_alike(demo_env: dict[str, str], tmp_path: Path) -> None:
    with replicas(demo_env, tmp_path, response_cache_s=60) as apis:
        a, b, c = apis
        officer = a.token("subdistrict_officer", user="o1")
        first = a.gql(STATS, officer)
        assert "errors" not in first
        hits = _metric(b, "gateway_response_cache_total", '{outcome="hit"}')
        again = b.gql(STATS, b.token("subdistrict_officer", user="o2"))  # another officer, same authorization
        assert again == first and _metric(b, "gateway_response_cache_total", '{outcome="hit"}') == hits + 1
        # other roles, another jurisdiction, another purpose: computed for them, never the cached answer
        # (the replicas share this process's metrics: the counts are of all three)
        answers = []
        for tok in (c.token("district_analyst", jurisdiction="310107005"),
                    c.token("subdistrict_officer", jurisdiction="310107005001"),
                    c.token("subdistrict_officer", purpose="subsidy_review")):
            misses = _metric(c, "gateway_response_cache_total", '{outcome="miss"}')
            answers.append(c.gql(STATS, tok)["data"]["stats"])
            assert _metric(c, "gateway_response_cache_total", '{outcome="miss"}') == misses + 1
        assert answers[1]["total"] < first["data"]["stats"]["total"]  # one committee's figures, not the cached
        # an answer with sensitive fields is never kept
        worker = a.token("committee_worker", "310107005001")
        q = "{ persons(first: 3) { edges { node { name phone idNumber } } } }"
        stores = _metric(a, "gateway_response_cache_total", '{outcome="store"}')
        a.gql(q, worker)
        b.gql(q, worker)
        assert _metric(a, "gateway_response_cache_total", '{outcome="store"}') == stores
        assert _metric(b, "gateway_response_cache_total", '{outcome="hit"}') == hits + 1


@pytest.mark.parametrize("bad", ["developer", "developer=5", "developer=0/60", "x=5/0", "=5/60"])
def test_a_malformed_rate_limit_is_a_settings_error(bad: str) -> None:
    from common.errors import SettingsError

    with pytest.raises(SettingsError):
        load_settings(env={"GATEWAY_RATE_LIMITS": bad})


def test_exports_and_subscriptions_count_against_the_limit(demo_env: dict[str, str], tmp_path: Path) -> None:
    import asyncio

    import orjson
    import websockets

    with replicas(demo_env, tmp_path, n=2, rate_limits="committee_worker=3/60") as (a, b):
        tok = a.token("committee_worker", "310107005001", user=f"w-{uuid.uuid4().hex[:6]}")
        h = {"Authorization": f"Bearer {tok}"}
        assert httpx.get(a.base + "/ledgers/elders-living-alone?format=csv", headers=h, timeout=60).status_code == 200

        async def subscribe(base: str) -> dict[str, Any]:
            async with websockets.connect(base.replace("http", "ws") + "/graphql",
                                          subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {tok}"}})
                              .decode())
                await ws.recv()
                committee = a.gateway.ids.encode("Committee", "310107005001")
                await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {
                    "query": "subscription($c: ID!) { alerts(committee: $c) { id } }",
                    "variables": {"c": committee}}}).decode())
                await ws.send('{"type": "ping"}')
                return orjson.loads(await ws.recv())  # type: ignore[no-any-return]

        assert asyncio.run(subscribe(b.base)) == {"type": "pong"}  # the second request, on the other replica
        assert a.post("{ __typename }", tok).status_code == 200  # the third
        over = httpx.get(b.base + "/ledgers/elders-living-alone?format=csv", headers=h, timeout=60)
        assert over.status_code == 429 and codes(over.json()) == ["RATE_LIMITED"] and over.headers["Retry-After"]
        refused = asyncio.run(subscribe(a.base))
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
