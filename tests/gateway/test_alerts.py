"""The 24-hour water alert end to end: the machine's Mosquitto, `gateway alerts run` as a subprocess
(stopped and killed mid-stream), the alert store, subscriptions over graphql-transport-ws with a
stock client (gql), and acknowledgement through POST /graphql."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from adapters.registry import Registry
from demo.water_stream import publish
from resolvers.alerts import trusted, watch_list
from schema.build import catalogue
from tests.helpers import ADAPTERS_DIR, ROOT, Api, codes

MQTT = "mqtt://127.0.0.1:1883"
SUBDISTRICT = "310107005"
T0 = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)
ALERTS = """subscription($c: ID!) { alerts(committee: $c) {
  id status silentSince openedAt house { addressCode } residents { idNumber name } } }"""
ACK = """mutation($id: ID!, $o: AlertOutcome!, $n: String!) {
  acknowledgeAlert(id: $id, outcome: $o, note: $n) { id status outcome note acknowledgedBy house { addressCode } } }"""


def _broker_up() -> None:
    with socket.create_connection(("127.0.0.1", 1883), timeout=2):
        pass  # CI starts Mosquitto when it is down (.ci/run); without it this test fails, never skips


@pytest.fixture(scope="module")
def store_url(data: Path) -> str:
    return f"sqlite+aiosqlite:///{data.parent / 'alerts.db'}"


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"water-test-{uuid.uuid4().hex[:10]}"  # this run's own topics and MQTT sessions


@pytest.fixture(scope="module")
def gw(make_api: Callable[..., Api], services: dict[str, str], store_url: str) -> Api:
    return make_api(env=services, alerts_url=store_url, alerts_poll_s=0.1)


class Worker:
    """`gateway alerts run` as a subprocess, started again as often as a test likes."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.proc = env, log, None  # type: ignore[var-annotated]
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        out = self.log.with_suffix(f".{self.starts}.log")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "alerts", "run"], cwd=ROOT, env=self.env,
                                     stdout=out.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "reading" not in out.read_text() or "/+/reading on" not in out.read_text():
            assert self.proc.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


async def _watched(g: Any, env: dict[str, str]) -> dict[str, Any]:
    """The watch list, read through a registry of this test's event loop (the served gateway runs in another)."""
    registry = Registry.from_dir(ADAPTERS_DIR, catalogue(), env)
    try:
        return await watch_list(trusted({"registry": registry, "ids": g.ids, "meta": g.meta,
                                         "type_fields": g.type_fields}, "test", SUBDISTRICT))
    finally:
        await registry.close()


def stored(url: str) -> list[tuple[Any, ...]]:
    path = url.split(":///", 1)[1]
    if not os.path.exists(path):
        return []
    with sqlite3.connect(path) as c:
        return c.execute("SELECT id, account, committee, house, status FROM water_alert ORDER BY id").fetchall()


async def _collect(url: str, token: str, committee: str, into: list[dict[str, Any]], ready: asyncio.Event) -> None:
    transport = WebsocketsTransport(url=url, init_payload={"Authorization": f"Bearer {token}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport) as session:
        ready.set()
        request = gql(ALERTS)
        request.variable_values = {"c": committee}
        async for result in session.subscribe(request):
            into.append(result["alerts"])


def test_three_silent_elders_one_vacant_give_two_alerts_to_the_right_committees(
        gw: Api, demo_env: dict[str, str], services: dict[str, str], store_url: str, prefix: str, data: Path,
        tmp_path: Path) -> None:
    _broker_up()
    g = gw.gateway
    watch = asyncio.run(_watched(g, {**demo_env, **services}))
    by_committee: dict[str, str] = {}
    for account, w in sorted(watch.items()):
        by_committee.setdefault(w.committee, account)
    assert len(by_committee) >= 3, by_committee
    a, b, c = (by_committee[k] for k in sorted(by_committee)[:3])
    background = [x for x in sorted(watch) if x not in (a, b, c)][:12]
    env = {**os.environ, **services, "GATEWAY_ALERTS_URL": store_url, "GATEWAY_MQTT_PREFIX": prefix,
           "GATEWAY_ALERTS_JURISDICTION": SUBDISTRICT, "GATEWAY_ALERTS_WATCH_S": "3600"}
    worker = Worker(env, tmp_path / "worker")
    worker.start()
    # c's house is recorded VACANT after the worker made its watch list: it must ask again before alerting
    sec = {k: gw.token("committee_secretary", watch[x].committee, user=f"sec-{k}") for k, x in
           (("a", a), ("b", b), ("c", c))}
    wkr_a = gw.token("committee_worker", watch[a].committee, user="worker-a")
    house_c = g.ids.encode("House", watch[c].house)
    r = gw.gql("""mutation($h: ID!) { setHouseStatus(houseId: $h, status: VACANT) { status } }""", sec["c"], {"h": house_c})
    assert r["data"]["setHouseStatus"]["status"] == "VACANT", r

    got: dict[str, list[dict[str, Any]]] = {k: [] for k in ("a", "b", "c", "masked")}
    ws = gw.base.replace("http://", "ws://") + "/graphql"

    async def scenario() -> None:
        readies = {k: asyncio.Event() for k in got}
        subs = [asyncio.create_task(_collect(ws, sec[k], g.ids.encode("Committee", watch[x].committee), got[k],
                                             readies[k])) for k, x in (("a", a), ("b", b), ("c", c))]
        subs.append(asyncio.create_task(_collect(ws, wkr_a, g.ids.encode("Committee", watch[a].committee),
                                                 got["masked"], readies["masked"])))
        await asyncio.gather(*(e.wait() for e in readies.values()))
        await asyncio.sleep(0.5)

        async def step(hour: int, at: dt.datetime) -> None:
            if hour == 10:
                assert await asyncio.to_thread(worker.stop) == 0  # SIGTERM: applies what it received, then exits
            elif hour == 14 or hour == 26:
                await asyncio.to_thread(worker.start)  # the broker kept the readings of the hours in between
            elif hour == 22:
                await asyncio.to_thread(worker.stop, signal.SIGKILL)  # no goodbye at all
            await asyncio.sleep(0.05)

        silent = dict.fromkeys((a, b, c), T0 + dt.timedelta(hours=2))
        await publish(MQTT, prefix, sorted({a, b, c, *background}), T0, 40, silent, speed=1e9, step=step)
        deadline = time.monotonic() + 60
        while (len(stored(store_url)) < 2 or not got["a"] or not got["b"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # time for a wrong third alert or a duplicate to show
        for t in subs:
            t.cancel()
        await asyncio.gather(*subs, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()
    alerts = stored(store_url)
    assert sorted((x[1], x[2], x[3]) for x in alerts) == sorted(
        [(a, watch[a].committee, watch[a].house), (b, watch[b].committee, watch[b].house)]), alerts
    assert [x["house"]["addressCode"] for x in got["a"]] == [watch[a].house]
    assert [x["house"]["addressCode"] for x in got["b"]] == [watch[b].house]
    assert got["c"] == []  # c's house is VACANT: c's committee hears nothing
    # the secretary reads the residents' ID numbers in full, the worker masked
    assert [p["idNumber"] for p in got["a"][0]["residents"]] == list(watch[a].residents)
    masked = [p["idNumber"] for p in got["masked"][0]["residents"]]
    assert masked and all(m not in watch[a].residents and "*" in m for m in masked)
    assert got["a"][0]["silentSince"].startswith("2026-11-01T01:00:00")

    # acknowledging: a visit, a VACANT status, once only, by the right committee only
    id_a, id_b = got["a"][0]["id"], got["b"][0]["id"]
    foreign = gw.gql(ACK, sec["a"], {"id": id_b, "o": "VISITED_OK", "n": "not mine"})
    assert codes(foreign) == ["NOT_FOUND"] and foreign["data"]["acknowledgeAlert"] is None
    ok = gw.gql(ACK, sec["a"], {"id": id_a, "o": "VISITED_OK", "n": "doing fine, meter was off"})
    assert ok["data"]["acknowledgeAlert"]["status"] == "ACKNOWLEDGED", ok
    assert ok["data"]["acknowledgeAlert"]["outcome"] == "VISITED_OK"
    again = gw.gql(ACK, wkr_a, {"id": id_a, "o": "NEEDS_HELP", "n": "second answer"})
    assert codes(again) == ["ALERT_ALREADY_ACKNOWLEDGED"]
    gone = gw.gql(ACK, sec["b"], {"id": id_b, "o": "VACANT", "n": "moved to her daughter's"})
    assert gone["data"]["acknowledgeAlert"]["outcome"] == "VACANT", gone
    with sqlite3.connect(data / "committee_records.db") as conn:
        notes = conn.execute("SELECT sfzh, qk, zfr FROM visit_record WHERE qk LIKE '[water alert%' ORDER BY id").fetchall()
        status = conn.execute("SELECT zt FROM house_status WHERE fwbm = ? ORDER BY id DESC LIMIT 1",
                              (watch[b].house,)).fetchone()
    assert [(n[0].upper(), n[2]) for n in notes] == [*((p, "sec-a") for p in watch[a].residents),
                                                    *((p, "sec-b") for p in watch[b].residents)]
    assert status == ("空置",)
    acks = re.search(r"^gateway_alert_ack_seconds_count ([0-9.e+]+)$", httpx.get(gw.base + "/metrics").text, re.MULTILINE)
    assert acks is not None and float(acks.group(1)) >= 2  # time from alert to acknowledgement is a metric


def test_the_demo_stream_publishes_what_it_says(demo_dir: Path, prefix: str) -> None:
    """`gateway alerts demo-stream --demo`, as the README runs it, on the test's demo data and its own topics."""
    _broker_up()
    got: list[bytes] = []

    async def listen(ready: asyncio.Event) -> None:
        import aiomqtt

        async with aiomqtt.Client("127.0.0.1", 1883) as client:
            await client.subscribe(f"{prefix}-demo/+/reading", qos=1)
            ready.set()
            async for m in client.messages:
                got.append(bytes(m.payload))  # type: ignore[arg-type]

    expected = [0]

    async def scenario() -> subprocess.CompletedProcess[str]:
        ready = asyncio.Event()
        task = asyncio.create_task(listen(ready))
        await ready.wait()
        env = {**os.environ, "GATEWAY_DEMO_DIR": str(demo_dir), "GATEWAY_MQTT_PREFIX": f"{prefix}-demo",
               "GATEWAY_ALERTS_JURISDICTION": SUBDISTRICT}
        p = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "gateway.cli", "alerts", "demo-stream",
                                                     "--demo", "--hours", "3", "--speed", "1000000", "--silent", "2"],
                                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        m = re.search(r"published (\d+) readings of (\d+) meters over 3 simulated hours", p.stdout)
        expected[0] = int(m.group(1)) if m else 0
        deadline = time.monotonic() + 30
        while len(got) < expected[0] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a reading too many would show now
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return p

    p = asyncio.run(scenario())
    assert p.returncode == 0, p.stderr[-2000:]
    silent = [ln for ln in p.stdout.splitlines() if ln.startswith("silent from")]
    assert len(silent) == 2 and expected[0] > 0 and expected[0] % 3 == 0, p.stdout
    assert len(got) == expected[0]  # every reading it counted reached a subscriber
