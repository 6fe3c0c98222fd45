"""Kept values (resolvers/refreshing.py): fresh, stale-while-refreshing and expired lattices, one computation per key,
failures never kept; and, on a real gateway, a repeated stats request that asks no department."""
from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from resolvers import filters
from resolvers.refreshing import Refreshing
from tests.helpers import CLIENT, Api, adapter_calls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting(values: list[Any], gate: asyncio.Event | None = None) -> tuple[Callable[[], Any], list[int]]:
    calls = [0]

    async def compute() -> Any:
        calls[0] += 1
        if gate is not None:
            await gate.wait()
        v = values[min(calls[0], len(values)) - 1]
        if isinstance(v, Exception):
            raise v
        return v

    return compute, calls


def test_fresh_then_stale_then_expired() -> None:
    async def main() -> None:
        clock = Clock()
        cache: Refreshing[str] = Refreshing("test", ttl_s=10, clock=clock)
        compute, calls = counting(["v1", "v2", "v3"])
        assert await cache.get("k", compute) == "v1"
        clock.now += 9
        assert await cache.get("k", compute) == "v1" and calls[0] == 1  # fresh
        clock.now += 2
        assert await cache.get("k", compute) == "v1"  # stale: answered at once, refreshed behind
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert calls[0] == 2
        assert await cache.get("k", compute) == "v2"  # the refreshed one, fresh again
        clock.now += 25  # older than twice the ttl: waited for
        assert await cache.get("k", compute) == "v3" and calls[0] == 3

    asyncio.run(main())


def test_concurrent_misses_share_one_computation_that_outlives_a_cancelled_caller() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        cache: Refreshing[str] = Refreshing("test", ttl_s=10)
        compute, calls = counting(["v"], gate)
        first = asyncio.create_task(cache.get("k", compute))
        others = [asyncio.create_task(cache.get("k", compute)) for _ in range(5)]
        await asyncio.sleep(0)
        first.cancel()  # the first caller reaches its deadline
        gate.set()
        assert await asyncio.gather(*others) == ["v"] * 5
        assert calls[0] == 1
        assert await cache.get("k", compute) == "v" and calls[0] == 1

    asyncio.run(main())


def test_a_failed_computation_is_not_kept() -> None:
    async def main() -> None:
        cache: Refreshing[str] = Refreshing("test", ttl_s=10)
        compute, calls = counting([RuntimeError("department down"), "v"])
        with pytest.raises(RuntimeError):
            await cache.get("k", compute)
        assert await cache.get("k", compute) == "v" and calls[0] == 2

    asyncio.run(main())


def test_a_failed_background_refresh_keeps_the_stale_lattice() -> None:
    async def main() -> None:
        clock = Clock()
        cache: Refreshing[str] = Refreshing("test", ttl_s=10, clock=clock)
        compute, calls = counting(["v1", RuntimeError("department down"), "v3"])
        await cache.get("k", compute)
        clock.now += 12
        assert await cache.get("k", compute) == "v1"
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert calls[0] == 2 and await cache.get("k", compute) == "v1"  # still stale: refreshed again
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert await cache.get("k", compute) == "v3"

    asyncio.run(main())


def test_the_cache_is_bounded_by_weight() -> None:
    async def main() -> None:
        cache: Refreshing[int] = Refreshing("test", ttl_s=10, max_weight=3)
        for i in range(10):
            compute, _ = counting([i])
            await cache.get(i, compute)
        assert list(cache.entries) == [7, 8, 9] and cache.weight == 3
        heavy: Refreshing[list[int]] = Refreshing("test", ttl_s=10, max_weight=10, weigh=len)
        for key, n in (("a", 4), ("b", 4), ("c", 4), ("d", 11)):
            compute, _ = counting([[0] * n])
            assert len(await heavy.get(key, compute)) == n  # answered, kept only while it fits
        assert list(heavy.entries) == ["b", "c"] and heavy.weight == 8

    asyncio.run(main())


STATS = """query($s: StatsSubject!, $g: [StatsDimension!]!) {
  stats(subject: $s, groupBy: $g) { k total cells { committee ageBand propertyType count } } }"""


@pytest.mark.parametrize("subject,group_by", [("PERSONS", ["COMMITTEE", "AGE_BAND"]),
                                              ("HOUSES", ["PROPERTY_TYPE"])])
def test_a_repeated_stats_request_asks_no_department_and_answers_the_same(
        api: Api, make_api: Callable[..., Api], subject: str, group_by: list[str]) -> None:
    analyst = api.token("district_analyst")
    variables = {"s": subject, "g": group_by}
    first = api.gql(STATS, analyst, variables)
    before = adapter_calls(api)
    again = api.gql(STATS, analyst, variables)
    assert adapter_calls(api) == before
    assert again == first and "errors" not in first
    uncached = make_api(stats_cache_s=0)
    assert uncached.gql(STATS, uncached.token("district_analyst"), variables) == first


def test_a_computation_is_bounded_by_the_background_timeout_not_the_requests() -> None:
    from adapters.guard import BACKGROUND_TIMEOUT_S, REQUEST_START

    async def main() -> None:
        seen: list[tuple[float | None, float | None]] = []

        async def compute() -> str:
            seen.append((REQUEST_START.get(), BACKGROUND_TIMEOUT_S.get()))
            return "v"

        REQUEST_START.set(asyncio.get_running_loop().time())  # as the edge sets it per request
        assert await Refreshing[str]("test", ttl_s=10, timeout_s=120).get("k", compute) == "v"
        assert seen == [(None, 120)]
        assert REQUEST_START.get() is not None and BACKGROUND_TIMEOUT_S.get() is None  # the request's own: unchanged

    asyncio.run(main())


FILTERED = "{ persons(first: 3, filter: {livingAlone: true, ageMin: 60}) { totalCount edges { node { id } } } }"


def test_a_repeated_filter_reuses_its_key_set(api: Api, make_api: Callable[..., Api]) -> None:
    officer = api.token("subdistrict_officer")
    first = api.gql(FILTERED, officer)
    assert "errors" not in first and first["data"]["persons"]["totalCount"] > 0
    before = adapter_calls(api)
    assert api.gql(FILTERED, officer) == first
    moved = {a for a, n in adapter_calls(api).items() if n != before[a]}
    assert moved == {"population"}, moved  # the welfare key set was kept; only the root was asked again
    fresh = make_api(keyset_cache_s=0)
    assert fresh.gql(FILTERED, fresh.token("subdistrict_officer")) == first


def test_kept_lattices_are_per_caller_scope(api: Api, make_api: Callable[..., Api]) -> None:
    """A district caller filtering to a compound and a compound's own caller narrow to the same scope but
    list places within different jurisdictions: each gets what it would get with nothing kept."""
    uncached = make_api(stats_cache_s=0)
    compound = "310107005001001"
    q = """query($f: PlaceFilter) { stats(subject: PERSONS, groupBy: [COMMITTEE, GENDER], filter: $f) {
             total cells { committee compound gender count } } }"""
    for jurisdiction, f in (("310107005", {"compound": compound}), (compound, None), ("310107005", {"compound": compound})):
        mine = api.gql(q, api.token("district_analyst", jurisdiction=jurisdiction), {"f": f})
        theirs = uncached.gql(q, uncached.token("district_analyst", jurisdiction=jurisdiction), {"f": f})
        assert "errors" not in mine and mine == theirs, jurisdiction


def operation_calls(api: Api) -> Counter[tuple[str, str]]:
    """gateway_adapter_calls_total per (adapter, operation), from GET /metrics."""
    text = CLIENT.get(api.base + "/metrics", timeout=30).text
    return Counter({(a, o): int(float(n)) for a, o, n in re.findall(
        r'^gateway_adapter_calls_total\{adapter="([^"]+)",operation="([^"]+)"\} ([0-9.e+]+)$', text, re.MULTILINE)})


PAGE = """query($f: PersonFilter, $a: String) { persons(first: 40, after: $a, filter: $f) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id age welfare { livingAlone } } } } }"""
EXACT_FILTERS = [{"livingAlone": True}, {"livingAlone": True, "ageMin": 70}, {"livingAlone": True, "gender": "FEMALE",
                 "committee": "310107005001"}, {"elderlyAllowance": True, "livingAlone": True, "ageMax": 85}]


def walk_pages(api: Api, tok: str, f: dict[str, Any]) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        body = api.gql(PAGE, tok, {"f": f, "a": after})
        assert "errors" not in body, body["errors"]
        pages.append(body["data"]["persons"])
        if not pages[-1]["pageInfo"]["hasNextPage"]:
            return pages
        after = pages[-1]["pageInfo"]["endCursor"]


@pytest.mark.parametrize("f", EXACT_FILTERS)
def test_a_large_key_set_is_intersected_in_the_gateway(api: Api, f: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Over ``SHIP_KEYS`` the semi-join is made exact in the gateway (the root's key set for the scope
    and pushed filters, kept): the pages, cursors and totals are those of shipping the keys."""
    officer = api.token("subdistrict_officer")
    shipped = walk_pages(api, officer, f)
    monkeypatch.setattr(filters, "SHIP_KEYS", 0)
    assert walk_pages(api, officer, f) == shipped
    before = operation_calls(api)
    assert walk_pages(api, officer, f) == shipped
    moved = {k: n - before[k] for k, n in operation_calls(api).items() if n != before[k]}
    # warm: no list call to any department; a page is its keys' records, fetched by key
    assert {a for a, _ in moved} <= {"population", "civil_affairs"} and all(o == "load_many" for _, o in moved), moved
    assert sum(p["totalCount"] for p in shipped) == len(shipped) * shipped[0]["totalCount"]


@pytest.mark.parametrize("f", EXACT_FILTERS)
def test_a_warm_filtered_count_asks_no_department(api: Api, f: dict[str, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The joined key set is kept whole: a warm ``totalCount`` of a filtered list calls nothing; a
    different filter is a different set."""
    monkeypatch.setattr(filters, "SHIP_KEYS", 0)
    officer = api.token("subdistrict_officer")
    q = "query($f: PersonFilter) { persons(first: 0, filter: $f) { totalCount } }"
    cold = api.gql(q, officer, {"f": f})
    before = operation_calls(api)
    assert api.gql(q, officer, {"f": f}) == cold
    assert operation_calls(api) == before
    narrower = api.gql(q, officer, {"f": {**f, "ageMin": 95}})
    assert narrower["data"]["persons"]["totalCount"] < cold["data"]["persons"]["totalCount"]


def test_a_scope_count_is_kept(api: Api, make_api: Callable[..., Api]) -> None:
    """An unfiltered totalCount is asked of the department once per keyset_cache_s; with 0, every time;
    the same number either way."""
    q = '{ persons(first: 2, filter: {gender: FEMALE, ageMin: 3}) { totalCount edges { node { id } } } }'
    officer = api.token("subdistrict_officer")
    before = operation_calls(api)
    first = api.gql(q, officer)
    moved = {k: n - before[k] for k, n in operation_calls(api).items() if n != before[k]}
    assert moved == {("population", "list"): 1}, moved  # cold: counted with the page, in the same call
    assert "errors" not in first and first["data"]["persons"]["totalCount"] > 2
    before = operation_calls(api)
    assert api.gql(q, officer) == first
    moved = {k: n - before[k] for k, n in operation_calls(api).items() if n != before[k]}
    assert moved == {("population", "list"): 1}, moved  # the page only; the count was kept
    fresh = make_api(keyset_cache_s=0)
    tok = fresh.token("subdistrict_officer")
    before = operation_calls(fresh)
    assert fresh.gql(q, tok) == first
    moved = {k: n - before[k] for k, n in operation_calls(fresh).items() if n != before[k]}
    assert moved == {("population", "list"): 1}, moved  # counted with the page, in one call


def test_a_value_put_is_held_then_refreshed_like_a_computed_one() -> None:
    async def main() -> None:
        clock = Clock()
        kept = Refreshing[int]("test", ttl_s=10, clock=clock)
        compute, calls = counting([7])
        assert not kept.holds("k")
        kept.put("k", 3)
        assert kept.holds("k") and await kept.get("k", compute) == 3 and calls == [0]
        clock.now += 15  # stale: answered, refreshed behind
        assert kept.holds("k") and await kept.get("k", compute) == 3
        await asyncio.sleep(0)
        assert calls == [1] and await kept.get("k", compute) == 7
        clock.now += 25  # expired: not held
        assert not kept.holds("k")

    asyncio.run(main())
