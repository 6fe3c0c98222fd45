"""An HTTP department's counting endpoint (spec ``aggregate:``), against a stand-in on loopback: the
request it gets, counts converted like records, and every malformed answer DEPARTMENT_BAD_DATA."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.base import GroupBy, ListQuery
from adapters.registry import Registry
from common.errors import AdapterBadDataError
from schema.build import catalogue
from tests.stand import JsonHandler, Served

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"


class Stand:
    """The housing system's counting endpoint answering whatever ``body`` is; remembers the queries."""

    def __init__(self) -> None:
        self.body: Any = {}
        self.asked: list[dict[str, list[str]]] = []
        stand = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                stand.asked.append(parse_qs(url.query))
                empty = {"data": {"list": [], "total": 0}}  # the listing: no houses
                self.reply(200, stand.body if url.path == "/api/v1/houses/counts" else empty)

        served = Served(Handler)
        self.server, self.url = served.server, served.url


@pytest.fixture(scope="module")
def stand() -> Iterator[Stand]:
    s = Stand()
    yield s
    s.server.shutdown()
    s.server.server_close()


async def counts(stand: Stand, body: Any, group_by: list[GroupBy], scope: str = "310107005") -> list[Any]:
    stand.body = body
    reg = Registry.from_dir(ADAPTERS, catalogue(), {"HOUSING_URL": stand.url})
    try:
        housing = reg.for_entity("House")
        assert housing is not None
        return list(await housing.aggregate("House", ListQuery(scope=scope, limit=None), group_by))
    finally:
        await reg.close()


def cells(*rows: tuple[Any, Any, Any]) -> dict[str, Any]:
    return {"data": {"list": [{"buildingCode:18": b, "houseNature": h, "count": n} for b, h, n in rows]}}


BY = [GroupBy("__jurisdiction", "prefix", 18), GroupBy("propertyType")]


async def test_counts_are_asked_of_the_department_and_converted_like_records(stand: Stand) -> None:
    b = "310107005001001001"
    got = await counts(stand, cells((b, "01", 3), (b, "02", 2), ("3101070050", "01", 1), (b, "09", 4)), BY)
    assert stand.asked[-1] == {"areaCode": ["310107005"], "groupBy": ["buildingCode:18,houseNature"]}
    # an unmapped nature converts as on a record (None); a code shorter than the prefix has none
    assert dict(got) == {(b, "COMMERCIAL"): 3, (b, "PUBLIC_RENTAL"): 2, (None, "COMMERCIAL"): 1, (b, None): 4}


@pytest.mark.parametrize("body", [
    {"data": {"list": [{"buildingCode:18": "310107005001001001", "houseNature": "01", "count": "3"}]}},
    {"data": {"list": [{"buildingCode:18": "310107005001001001", "houseNature": "01", "count": -1}]}},
    {"data": {"list": [{"buildingCode:18": "310107005001001001", "houseNature": "01", "count": True}]}},
    {"data": {"list": [{"buildingCode:18": "310107005001001001", "houseNature": "01"}]}},
    {"data": {"list": "nothing"}}, {"data": {"list": [3]}}, [], "garbage",
])
async def test_a_malformed_count_is_bad_data(stand: Stand, body: Any) -> None:
    with pytest.raises(AdapterBadDataError):
        await counts(stand, body, BY)


async def test_a_grouping_the_endpoint_cannot_take_is_counted_over_the_listing(stand: Stand) -> None:
    stand.asked.clear()
    assert await counts(stand, "never asked", [GroupBy("area")]) == []  # not a field it groups by
    assert stand.asked and all("groupBy" not in q for q in stand.asked)
