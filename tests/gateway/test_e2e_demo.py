"""End to end: `gateway serve --demo` as a subprocess, queried over loopback HTTP with real tokens."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = str(Path(sys.executable).parent / "gateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(env: dict[str, str], role: str, *extra: str) -> str:
    out = subprocess.run([GATEWAY, "token", "--user", "e2e", "--role", role, *extra], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def children_of(pid: int) -> list[int]:
    out = subprocess.run(check=False, args=["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "GATEWAY_DEMO_DIR": str(tmp_path_factory.mktemp("demo-e2e")), "GATEWAY_DEMO_PERSONS": "3000"}
    log = open(tmp_path_factory.mktemp("log") / "serve.log", "w+b")  # noqa: SIM115
    p = subprocess.Popen([GATEWAY, "serve", "--demo", "--port", str(port)], env=env, stdout=log, stderr=log,
                         cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        if p.poll() is not None:
            log.seek(0)
            pytest.fail(f"serve exited {p.returncode}: {log.read()[-2000:]!r}")
        try:
            if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.time() < deadline, "demo not ready in 180 s"
        time.sleep(0.5)
    yield base, env, p
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)


def gql(base: str, tok: str, query: str, **headers: str) -> dict:  # type: ignore[type-arg]
    r = httpx.post(base + "/graphql", json={"query": query}, timeout=60,
                   headers={"Authorization": f"Bearer {tok}", **headers})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_readyz_lists_sixteen_adapters_of_three_kinds(demo) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = demo
    body = httpx.get(base + "/readyz").json()
    assert len(body["adapters"]) == 16
    assert {a["status"] for a in body["adapters"]} == {"up"}
    assert {a["kind"] for a in body["adapters"]} == {"sql", "http", "ledger"}
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}


def test_requests_without_a_valid_token_are_401(demo) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = demo
    r = httpx.post(base + "/graphql", json={"query": "{ __typename }"})
    assert r.status_code == 401 and r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    r = httpx.post(base + "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code == 401 and r.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


FULL = """{ persons(first: 200) { totalCount edges { node { id name age idNumber phone
  house { address jurisdictionCode building { name compound { name } } }
  household { householdNumber } welfare { livingAlone careLevel } employment { status pensionStatus }
  veteran { category } } } } }"""


def test_federated_query_batches_one_call_per_adapter_per_level(demo) -> None:  # type: ignore[no-untyped-def]
    base, env, _ = demo
    tok = token(env, "developer")
    r = gql(base, tok, FULL, **{"X-Gateway-Trace": "1"})
    assert "errors" not in r, r.get("errors")
    edges = r["data"]["persons"]["edges"]
    assert len(edges) == 200
    trace = r["extensions"]["trace"]["adapters"]
    called = {k: v for k, v in trace.items() if v["calls"]}
    assert set(called) == {"population", "housing", "civil_affairs", "hr_social", "veterans"}
    # population: root list + household; housing: house, building, compound (one per level)
    assert called["population"]["calls"] == 2 and called["housing"]["calls"] == 3
    assert all(v["calls"] == 1 for k, v in called.items() if k not in ("population", "housing"))
    kinds = {a["name"]: a["kind"] for a in httpx.get(base + "/readyz").json()["adapters"]}
    assert {kinds[k] for k in called} == {"sql", "http", "ledger"}

    r2 = gql(base, tok, "{ persons(first: 200) { edges { node { name age } } } }", **{"X-Gateway-Trace": "1"})
    assert [k for k, v in r2["extensions"]["trace"]["adapters"].items() if v["calls"]] == ["population"]


def test_metrics_count_adapter_calls(demo) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = demo
    text = httpx.get(base + "/metrics").text
    assert 'gateway_adapter_calls_total{adapter="population"' in text
    assert "gateway_adapter_latency_seconds_bucket" in text


def test_sigterm_stops_the_gateway_and_its_department_services(demo) -> None:  # type: ignore[no-untyped-def]
    _, _, p = demo
    kids = children_of(p.pid)
    assert len(kids) >= 7
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    time.sleep(0.5)
    alive = [k for k in kids if Path(f"/proc/{k}").exists() and "Z" not in Path(f"/proc/{k}/stat").read_text().split()[2]]
    assert alive == []
