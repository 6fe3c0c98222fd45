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
