"""The response cache's key and lifetime (gateway/response_cache.py), without Redis: the process's own store."""
from __future__ import annotations

import asyncio

from graphql import parse

from gateway.response_cache import ResponseCache
from gateway.shared import Shared

DOC = parse("{ stats(subject: PERSONS, groupBy: [COMMITTEE]) { total } }")
BASE = {"version": 1, "roles": ("subdistrict_officer",), "purpose": None, "jurisdiction": "310107005", "user": None,
        "doc": DOC, "operation": None, "variables": {}}


def _key(cache: ResponseCache, **over: object) -> str:
    a = {**BASE, **over}
    return cache.key(a["version"], a["roles"], a["purpose"], a["jurisdiction"], a["user"], a["doc"],  # type: ignore[arg-type]
                     a["operation"], a["variables"])  # type: ignore[arg-type]


def test_the_key_changes_with_everything_that_authorizes_the_answer() -> None:
    cache = ResponseCache(Shared("", "t"), 60, {})
    same = _key(cache)
    assert _key(cache, doc=parse("{stats(subject:PERSONS,groupBy:[COMMITTEE]){total}}")) == same  # normalised
    assert _key(cache, roles=["subdistrict_officer"]) == same
    for over in ({"version": 2}, {"roles": ("district_analyst",)}, {"roles": ("subdistrict_officer", "developer")},
                 {"purpose": "subsidy_review"}, {"jurisdiction": "310107005001"}, {"user": "doctor-1"},
                 {"variables": {"x": 1}}, {"operation": "Q"}):
        assert _key(cache, **over) != same, over


def test_a_department_s_ttl_shortens_or_forbids_keeping() -> None:
    cache = ResponseCache(Shared("", "t"), 60, {"population": 10, "health": 0, "housing": None})
    assert cache.ttl([]) == 60 and cache.ttl(["housing"]) == 60
    assert cache.ttl(["housing", "population"]) == 10
    assert cache.ttl(["population", "health"]) == 0


def test_the_process_store_expires_and_is_bounded() -> None:
    cache = ResponseCache(Shared("", "t"), 60, {})

    async def go() -> None:
        await cache.put("a", {"body": 1}, 0.05)
        await cache.put("never", {"body": 2}, 0)
        assert await cache.get("a") == {"body": 1} and await cache.get("never") is None
        await asyncio.sleep(0.06)
        assert await cache.get("a") is None

    asyncio.run(go())
    assert not ResponseCache(Shared("", "t"), 0, {}).on
