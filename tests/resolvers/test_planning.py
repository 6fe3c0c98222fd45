"""Similar buildings: walk-ups ranked against those that retrofitted an elevator, from protected counts."""
from __future__ import annotations

from typing import Any

import pytest

from resolvers.planning import Profile
from tests.helpers import Api, codes

Q = """query($to: ID, $n: Int!) { similarBuildings(to: $to, first: $n) { distance floors units residents shareOver70
    building { id code floors hasElevator } } }"""


def similar(api: Api, tok: str, to: str | None = None, n: int = 10) -> list[dict[str, Any]]:
    body = api.gql(Q, tok, {"to": to, "n": n})
    assert "errors" not in body, body["errors"]
    return body["data"]["similarBuildings"]


def test_walk_ups_without_a_lift_ranked_nearest_first(api: Api) -> None:
    officer = api.token("subdistrict_officer")
    ranked = similar(api, officer, n=20)
    assert ranked
    assert [r["distance"] for r in ranked] == sorted(r["distance"] for r in ranked)
    k = 5
    for r in ranked:
        b = r["building"]
        assert not b["hasElevator"] and b["floors"] <= 7 and r["floors"] == b["floors"]
        assert r["residents"] % k == 0  # protected, like every stats figure
        assert r["shareOver70"] is None or 0 <= r["shareOver70"] <= 1
    assert similar(api, officer, n=20) == ranked  # the same protected table: the same answer


def test_against_one_building(api: Api) -> None:
    officer = api.token("subdistrict_officer")
    body = api.gql("{ buildings(first: 500) { edges { node { id floors hasElevator } } } }", officer)
    lifts = [e["node"] for e in body["data"]["buildings"]["edges"] if e["node"]["hasElevator"]
             and e["node"]["floors"] <= 7]
    assert lifts, "the demo has retrofitted walk-ups"
    ranked = similar(api, officer, to=lifts[0]["id"], n=5)
    assert ranked and all(r["building"]["id"] != lifts[0]["id"] for r in ranked)


@pytest.mark.parametrize(("role", "variables", "code"), [
    ("district_analyst", {"n": 5}, "UNAUTHORIZED_FIELD_OR_TYPE"),
    ("committee_worker", {"n": 5}, "UNAUTHORIZED_FIELD_OR_TYPE"),
    ("subdistrict_officer", {"n": 0}, "BAD_USER_INPUT"),
    ("subdistrict_officer", {"n": 5, "to": "not-an-id"}, "NOT_FOUND"),
])
def test_refusals(api: Api, role: str, variables: dict[str, Any], code: str) -> None:
    body = api.gql(Q, api.token(role), {"to": None, **variables})
    assert code in codes(body)


def test_the_distance() -> None:
    a = Profile(6, 24, 0.30, False)
    assert a.distance(a) == 0
    assert a.distance(Profile(6, 24, 0.40, False)) < a.distance(Profile(6, 24, 0.60, False))
    assert a.distance(Profile(6, 72, 0.30, False)) == pytest.approx(1.0)
    assert a.distance(Profile(6, 24, None, False)) == 0  # an unknown share counts for nothing


# --- the planning grid (stats groupBy GRID_CELL) ------------------------------------------------------
GRID = '{ stats(subject: PERSONS, groupBy: [GRID_CELL, AGE_BAND]) { total cells { gridCell ageBand count } } }'
BY_BUILDING = '{ stats(subject: PERSONS, groupBy: [BUILDING, AGE_BAND]) { total cells { building ageBand count } } }'
BUILDINGS = 'query($a: String) { buildings(first: 1000, after: $a) { pageInfo { hasNextPage endCursor } ' \
            'edges { node { code longitude latitude } } } }'


def test_grid_cells_are_sums_of_the_same_protected_table(api: Api) -> None:
    from common.grid import cell_of

    officer = api.token("subdistrict_officer")
    grid = api.gql(GRID, officer)
    assert "errors" not in grid, grid["errors"]
    by_building = api.gql(BY_BUILDING, officer)["data"]["stats"]
    where: dict[str, str] = {}
    after = None
    while True:
        page = api.gql(BUILDINGS, officer, {"a": after})["data"]["buildings"]
        where |= {e["node"]["code"]: cell_of(e["node"]["longitude"], e["node"]["latitude"]) for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected: dict[tuple[str, str], int] = {}
    for c in by_building["cells"]:
        key = (where[c["building"]], c["ageBand"])
        expected[key] = expected.get(key, 0) + c["count"]
    got = {(c["gridCell"], c["ageBand"]): c["count"] for c in grid["data"]["stats"]["cells"]}
    assert got == expected and grid["data"]["stats"]["total"] == by_building["total"]
    assert len({c for c, _ in got}) > 3 and all(c.startswith("G250-E") for c, _ in got)


@pytest.mark.parametrize("group_by", ["[GRID_CELL, COMMITTEE]", "[BUILDING, GRID_CELL]", "[GRID_CELL, GRID_CELL]"])
def test_the_grid_is_a_place_grouping_of_its_own(api: Api, group_by: str) -> None:
    q = f"{{ stats(subject: PERSONS, groupBy: {group_by}) {{ total }} }}"
    assert codes(api.gql(q, api.token("subdistrict_officer"))) == ["BAD_USER_INPUT"]


def test_the_grid_is_fixed_and_named_by_column_and_row() -> None:
    from common.grid import cell_of, centre, position

    c = cell_of(121.4335, 31.2412)
    assert c is not None and c == cell_of(*centre(c))  # a cell's centre lies in it
    col, row = position(c)
    assert cell_of(121.4335 + 0.003, 31.2412) != c and position(cell_of(121.4335, 31.2412 + 0.003) or "")[1] > row
    assert col > 0 and cell_of(0.0, 0.0) is None and cell_of(None, 31.2) is None
    with pytest.raises(ValueError):
        centre("UNLOCATED")
