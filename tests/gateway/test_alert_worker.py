"""The alert worker's parts without the broker: readings, shards, the store's once-only rules, and the
fresh look at a house's status before its alert opens (real SQLite files, the real demo departments)."""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.registry import Registry
from gateway.alerts.store import AlertStore, Meter, Reading, advanced
from gateway.alerts.worker import AlertWorker, Shard, parse_reading
from gateway.app import Gateway
from schema.build import catalogue
from tests.helpers import ADAPTERS_DIR, Api

T = dt.datetime(2026, 11, 1)


@pytest.mark.parametrize("topic, payload", [
    ("water/A1/reading", b"{not json"),
    ("water/A1/reading", b'{"account": "A1", "at": "2026-11-01T00:00:00", "reading": 1}'),  # no offset
    ("water/A1/reading", b'{"account": "A1", "at": "yesterday", "reading": 1}'),
    ("water/A1/reading", b'{"account": "A1", "at": "2026-11-01T00:00:00+00:00", "reading": -1}'),
    ("water/A1/reading", b'{"account": "A1", "at": "2026-11-01T00:00:00+00:00", "reading": true}'),
    ("water/A1/reading", b'{"account": "A1", "at": "2026-11-01T00:00:00+00:00", "reading": "3"}'),
    ("water/A1/reading", b'{"account": "A2", "at": "2026-11-01T00:00:00+00:00", "reading": 3}'),  # other meter
    ("water/A1/usage", b'{"account": "A1", "at": "2026-11-01T00:00:00+00:00", "reading": 3}'),
    ("gas/A1/reading", b'{"account": "A1", "at": "2026-11-01T00:00:00+00:00", "reading": 3}'),
    ("water/A1/reading", b'[1, 2]'),
    ("water/A1/reading", b'{"at": "2026-11-01T00:00:00+00:00", "reading": 3}'),
])
def test_a_malformed_reading_is_skipped(topic: str, payload: bytes) -> None:
    assert parse_reading("water", topic, payload) is None


def test_a_reading_is_read_in_utc() -> None:
    r = parse_reading("water", "water/A1/reading", b'{"account": "A1", "at": "2026-11-01T08:00:00+08:00", "reading": 2.5}')
    assert r == Reading("A1", T, 2.5)


def test_silence_starts_at_the_last_rise() -> None:
    m = advanced(None, Reading("A", T, 10.0))
    assert m == Meter("A", 10.0, T, T)
    same = advanced(m, Reading("A", T + dt.timedelta(hours=1), 10.0))
    assert same is not None and same.rose_at == T
    rose = advanced(same, Reading("A", T + dt.timedelta(hours=2), 10.2))
    assert rose is not None and rose.rose_at == T + dt.timedelta(hours=2)
    assert advanced(rose, Reading("A", T + dt.timedelta(hours=1), 99.0)) is None  # older than the kept one


@pytest.mark.parametrize("text", ["0/1", "2/3"])
def test_shards_split_the_meters(text: str) -> None:
    s = Shard.parse(text)
    assert str(s) == text
    owners = [[Shard(i, 3).owns(f"31010{n:05d}") for i in range(3)] for n in range(300)]
    assert all(sum(o) == 1 for o in owners)


@pytest.mark.parametrize("bad", ["1/1", "x/2", "2", "-1/2", "0/0"])
def test_a_bad_shard_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Shard.parse(bad)


def test_the_store_applies_a_batch_once_and_opens_an_alert_once(tmp_path: Path) -> None:
    async def go() -> None:
        store = AlertStore(f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}")
        await store.start()
        batch = [Reading("A", T + dt.timedelta(hours=h), 4.0 + min(h, 3) / 10) for h in range(30)]
        now = await store.apply("0/1", batch)
        assert now == T + dt.timedelta(hours=29)
        assert await store.apply("0/1", batch) == now  # replayed after a restart: nothing changes
        [m] = await store.silent(["A", "B"], now - dt.timedelta(hours=24))
        assert m.rose_at == T + dt.timedelta(hours=3)  # the last rise
        first = await store.open(m, now, 1.0, "H", "310107005001", ["P1"])
        assert first is not None and first.status == "OPEN"
        assert await store.open(m, now, 2.0, "H", "310107005001", ["P1"]) is None  # the same silence: once
        assert await store.silent(["A"], now - dt.timedelta(hours=24)) == []
        assert [a.id for a in await store.open_in("310107005001")] == [first.id]
        done = await store.acknowledge(first.id, "VISITED_OK", "fine", "u1", 9.0)
        assert done is not None and done.status == "ACKNOWLEDGED" and done.acknowledged_by == "u1"
        assert await store.acknowledge(first.id, "VACANT", "again", "u2", 10.0) is None
        assert await store.open_in("310107005001") == []
        await store.close()

    asyncio.run(go())


def test_a_house_recorded_vacant_after_the_watch_list_raises_no_alert(
        make_api: Callable[..., Api], demo_env: dict[str, str], services: dict[str, str], tmp_path: Path) -> None:
    api = make_api(env=services, alerts_url=f"sqlite+aiosqlite:///{tmp_path / 'gw-alerts.db'}")
    settings = api.settings.model_copy(update={"alerts_url": f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}",
                                               "alerts_jurisdiction": "310107005"})

    async def go() -> list[str]:
        # the worker's own gateway parts, in this test's event loop (the served gateway runs in another)
        own = Gateway(settings, registry=Registry.from_dir(ADAPTERS_DIR, catalogue(), {**demo_env, **services}))
        worker = AlertWorker(settings, Shard(0, 1), gateway=own)
        await worker.store.start()
        try:
            await worker.refresh()
            accounts = sorted(worker.watch)
            first = accounts[0]
            second = next(a for a in accounts if worker.watch[a].house != worker.watch[first].house)
            w = worker.watch[first]
            r = await asyncio.to_thread(
                api.gql, "mutation($h: ID!) { setHouseStatus(houseId: $h, status: VACANT) { status } }",
                api.token("committee_worker", w.committee), {"h": api.gateway.ids.encode("House", w.house)})
            assert r["data"]["setHouseStatus"]["status"] == "VACANT", r
            for h in range(26):
                await worker.handle([Reading(a, T + dt.timedelta(hours=h), 1.0) for a in (first, second)])
            opened = [a.account for a in await worker.store.after(0)]
            assert opened == [second]  # the watch list still had the first; the fresh look did not
            return opened
        finally:
            await worker.store.close()
            await own.registry.close()

    assert len(asyncio.run(go())) == 1
