"""API behaviour through a real gateway: pagination, filters, opaque ids, relations, stats.

Roles are picked per check with `gateway policy explain`: subdistrict_officer reads places,
shops and demographic fields of persons (identifiers masked); developer reads events with
their registrations; district_analyst reads only stats.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.helpers import Api, codes

SUB = "310107005"
OFFICER = "subdistrict_officer"


def gql(api: Api, query: str, tok: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = api.gql(query, tok, variables)
    assert codes(body) == [], body.get("errors")
    return body["data"]  # type: ignore[no-any-return]


def nodes(conn: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in conn["edges"]]


@pytest.fixture(scope="module")
def officer(api: Api) -> str:
    return api.token(OFFICER)


@pytest.fixture(scope="module")
def committees(api: Api, officer: str) -> list[str]:
    data = gql(api, "{ committees(first: 100) { totalCount edges { node { code name } } } }", officer)
    codes_ = [n["code"] for n in nodes(data["committees"])]
    assert len(codes_) == data["committees"]["totalCount"] > 1
    return codes_


@pytest.fixture(scope="module")
def everyone(api: Api, officer: str) -> list[dict[str, Any]]:
    """Every person of the subdistrict, in one page."""
    data = gql(api, """{ persons(first: 1000) { totalCount pageInfo { hasNextPage endCursor } edges { node {
        id gender age jurisdictionCode houseCode welfare { livingAlone } } } } }""", officer)
    conn = data["persons"]
    out = nodes(conn)
    while conn["pageInfo"]["hasNextPage"]:
        conn = gql(api, """query($a: String) { persons(first: 1000, after: $a) { pageInfo { hasNextPage endCursor }
            edges { node { id gender age jurisdictionCode houseCode welfare { livingAlone } } } } }""",
                   officer, {"a": conn["pageInfo"]["endCursor"]})["persons"]
        out += nodes(conn)
    assert len(out) == data["persons"]["totalCount"]
    return out


PAGE = """query($f: PersonFilter, $n: Int, $a: String) { persons(first: $n, after: $a, filter: $f) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id jurisdictionCode } } } }"""


def walk(api: Api, tok: str, f: dict[str, Any] | None, n: int) -> tuple[list[str], set[int]]:
    ids: list[str] = []
    totals: set[int] = set()
    after = None
    pages = 0
    while True:
        conn = gql(api, PAGE, tok, {"f": f, "n": n, "a": after})["persons"]
        totals.add(conn["totalCount"])
        info = conn["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        if conn["edges"]:
            assert info["startCursor"] == conn["edges"][0]["cursor"]
            assert info["endCursor"] == conn["edges"][-1]["cursor"]
            assert len(conn["edges"]) <= n
        ids += [e["node"]["id"] for e in conn["edges"]]
        pages += 1
        assert pages < 2000
        if not info["hasNextPage"]:
            assert len(conn["edges"]) <= n
            return ids, totals
        assert len(conn["edges"]) == n
        after = info["endCursor"]


# --- pagination ------------------------------------------------------------------------------
@pytest.mark.parametrize(("level", "n"), [("committee", 19), ("committee", 100), ("committee", 333),
                                         ("building", 1), ("building", 4)])
def test_pagination_walks_a_place_without_gaps_or_duplicates(api: Api, officer: str,
                                                             everyone: list[dict[str, Any]], level: str,
                                                             n: int) -> None:
    sizes = Counter(p["jurisdictionCode"][: 12 if level == "committee" else 18] for p in everyone)
    place = min((c for c, k in sizes.items() if k > 20), key=lambda c: sizes[c])  # the smallest real one
    expected = {p["id"] for p in everyone if p["jurisdictionCode"].startswith(place)}
    ids, totals = walk(api, officer, {level: place}, n)
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(ids) == expected, "gaps"
    assert totals == {len(expected)}


def test_pagination_order_is_stable(api: Api, officer: str, committees: list[str]) -> None:
    f = {"committee": committees[0]}
    a, _ = walk(api, officer, f, 25)
    b, _ = walk(api, officer, f, 40)
    assert a == b
    whole = gql(api, PAGE, officer, {"f": f, "n": 1000, "a": None})["persons"]
    assert [e["node"]["id"] for e in whole["edges"]] == a


def test_committee_counts_add_up(api: Api, officer: str, committees: list[str],
                                 everyone: list[dict[str, Any]]) -> None:
    total = 0
    for c in committees:
        total += gql(api, PAGE, officer, {"f": {"committee": c}, "n": 0, "a": None})["persons"]["totalCount"]
    assert total == len(everyone)


def test_default_page_size(api: Api, officer: str) -> None:
    conn = gql(api, "{ persons { edges { cursor } pageInfo { hasNextPage } } }", officer)["persons"]
    assert len(conn["edges"]) == api.settings.default_page
    assert conn["pageInfo"]["hasNextPage"] is True


def test_last_page_exactly(api: Api, officer: str, everyone: list[dict[str, Any]]) -> None:
    n = 1000
    after = None
    seen = 0
    while True:
        conn = gql(api, PAGE, officer, {"f": None, "n": n, "a": after})["persons"]
        seen += len(conn["edges"])
        after = conn["pageInfo"]["endCursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
    assert seen == len(everyone)
    assert len(conn["edges"]) == (len(everyone) % n or n)  # a full last page still says "no next page"
    beyond = gql(api, PAGE, officer, {"f": None, "n": 5, "a": after})["persons"]
    assert beyond["edges"] == [] and beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["pageInfo"]["endCursor"] is None
    assert beyond["totalCount"] == len(everyone)


# --- filters ------------------------------------------------------------------------------------
FILTERED = """query($f: PersonFilter, $a: String) { persons(first: 1000, after: $a, filter: $f) { totalCount
    pageInfo { hasNextPage endCursor } edges { node { id gender age jurisdictionCode welfare { livingAlone } } } } }"""


def filtered(api: Api, tok: str, f: dict[str, Any]) -> list[dict[str, Any]]:
    """Every person matching ``f``, across pages."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        conn = gql(api, FILTERED, tok, {"f": f, "a": after})["persons"]
        out += nodes(conn)
        if not conn["pageInfo"]["hasNextPage"]:
            assert conn["totalCount"] == len(out)
            return out
        after = conn["pageInfo"]["endCursor"]


@pytest.mark.parametrize(("lo", "hi"), [(60, None), (None, 17), (30, 40), (65, 65), (0, 200)])
def test_age_range(api: Api, officer: str, everyone: list[dict[str, Any]], lo: int | None,
                   hi: int | None) -> None:
    got = filtered(api, officer, {"ageMin": lo, "ageMax": hi})
    want = {p["id"] for p in everyone if (lo is None or p["age"] >= lo) and (hi is None or p["age"] <= hi)}
    assert {p["id"] for p in got} == want
    assert want


def test_empty_age_range(api: Api, officer: str) -> None:
    assert filtered(api, officer, {"ageMin": 50, "ageMax": 40}) == []


@pytest.mark.parametrize("gender", ["MALE", "FEMALE"])
def test_gender(api: Api, officer: str, everyone: list[dict[str, Any]], gender: str) -> None:
    got = filtered(api, officer, {"gender": gender})
    assert {p["id"] for p in got} == {p["id"] for p in everyone if p["gender"] == gender}


def test_living_alone(api: Api, officer: str, everyone: list[dict[str, Any]]) -> None:
    got = filtered(api, officer, {"livingAlone": True})
    want = {p["id"] for p in everyone if (p["welfare"] or {}).get("livingAlone") is True}
    assert want
    assert {p["id"] for p in got} == want
    assert all(p["welfare"]["livingAlone"] is True for p in got)


def test_combined_filters_intersect(api: Api, officer: str, everyone: list[dict[str, Any]],
                                   committees: list[str]) -> None:
    f = {"livingAlone": True, "ageMin": 70, "gender": "FEMALE", "committee": committees[2]}
    got = filtered(api, officer, f)
    want = {p["id"] for p in everyone if (p["welfare"] or {}).get("livingAlone") is True and p["age"] >= 70
            and p["gender"] == "FEMALE" and p["jurisdictionCode"].startswith(committees[2])}
    assert {p["id"] for p in got} == want


def test_has_disability_needs_a_purpose_and_then_filters(api: Api) -> None:
    q = "{ persons(first: 1000, filter: {hasDisability: true}) { totalCount edges { node { id disability { grade } } } } }"
    body = api.gql(q, api.token(OFFICER))
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(body)
    assert body["data"]["persons"] is None
    tok = api.token(OFFICER, purpose="subsidy_review")
    conn = gql(api, q, tok)["persons"]
    assert 0 < conn["totalCount"] == len(conn["edges"])
    assert all(n["disability"] is not None and n["disability"]["grade"] is not None for n in nodes(conn))


def test_has_disability_false_is_refused(api: Api) -> None:
    body = api.gql("{ persons(first: 5, filter: {hasDisability: false}) { totalCount } }",
                   api.token(OFFICER, purpose="subsidy_review"))
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["data"]["persons"] is None


def test_filter_on_a_field_the_role_cannot_read_is_refused(api: Api) -> None:
    body = api.gql("{ persons(first: 5, filter: {ageMin: 60}) { totalCount } }", api.token("culture_staff"))
    assert body["data"]["persons"] is None
    assert codes(body) and set(codes(body)) == {"UNAUTHORIZED_FIELD_OR_TYPE"}


def test_place_narrowing(api: Api, officer: str, everyone: list[dict[str, Any]]) -> None:
    by_building = Counter(p["jurisdictionCode"] for p in everyone)
    building, n = by_building.most_common(1)[0]
    compound = building[:15]
    got = filtered(api, officer, {"building": building})
    assert len(got) == n and all(p["jurisdictionCode"] == building for p in got)
    got = filtered(api, officer, {"compound": compound})
    assert {p["id"] for p in got} == {p["id"] for p in everyone if p["jurisdictionCode"].startswith(compound)}
    # nested narrowing agrees; disjoint narrowing is empty
    assert {p["id"] for p in filtered(api, officer, {"committee": building[:12], "building": building})} == \
        {p["id"] for p in everyone if p["jurisdictionCode"] == building}
    other = next(b for b in by_building if b[:12] != building[:12])
    assert filtered(api, officer, {"committee": building[:12], "building": other}) == []


def test_committee_filter_never_widens(api: Api, committees: list[str],
                                       everyone: list[dict[str, Any]]) -> None:
    mine, theirs = committees[0], committees[1]
    tok = api.token(OFFICER, jurisdiction=mine)
    own = {p["id"] for p in everyone if p["jurisdictionCode"].startswith(mine)}
    assert {p["id"] for p in filtered(api, tok, {})} == own
    assert filtered(api, tok, {"committee": theirs}) == []
    assert filtered(api, tok, {"building": next(p["jurisdictionCode"] for p in everyone
                                                if p["jurisdictionCode"].startswith(theirs))}) == []
    assert filtered(api, tok, {"committee": "310108005001"}) == []  # another subdistrict
    assert {p["id"] for p in filtered(api, tok, {"committee": SUB})} == own  # a wider code does not widen
    assert {p["id"] for p in filtered(api, tok, {"committee": "310107"})} == own
    for root in ("houses", "buildings", "shops", "events"):
        got = gql(api, f'{{ {root}(first: 1000, filter: {{committee: "{theirs}"}}) {{ totalCount edges {{ cursor }} }} }}',
                  tok)[root]
        assert got["totalCount"] == 0 and got["edges"] == [], root


# --- the other roots --------------------------------------------------------------------------------
def test_houses_root(api: Api, officer: str) -> None:
    conn = gql(api, """{ houses(first: 50) { totalCount edges { node {
        id addressCode address area propertyType jurisdictionCode building { code } } } } }""", officer)["houses"]
    assert conn["totalCount"] > 100
    for h in nodes(conn):
        assert h["id"] and h["addressCode"].startswith(h["jurisdictionCode"])
        assert h["jurisdictionCode"].startswith(SUB) and len(h["jurisdictionCode"]) == 18
        assert h["building"]["code"] == h["jurisdictionCode"]
    every = nodes(gql(api, "{ houses(first: 1000) { edges { node { propertyType } } } }", officer)["houses"])
    kinds = Counter(h["propertyType"] for h in every)
    kind, n = kinds.most_common()[-1]  # the rarest type present
    assert len(kinds) > 1
    typed = gql(api, f"{{ houses(first: 1000, filter: {{propertyType: {kind}}}) {{ totalCount "
                     "edges { node { propertyType } } } }", officer)["houses"]
    assert typed["totalCount"] == n
    assert {x["propertyType"] for x in nodes(typed)} == {kind}


def test_buildings_root(api: Api, officer: str) -> None:
    conn = gql(api, """{ buildings(first: 100) { totalCount edges { node {
        id code name floors hasElevator compoundCode compound { code committee { code } } } } } }""", officer)["buildings"]
    assert conn["totalCount"] == len(conn["edges"]) > 1
    for b in nodes(conn):
        assert b["code"].startswith(b["compoundCode"]) and b["compound"]["code"] == b["compoundCode"]
        assert b["compound"]["committee"]["code"] == b["code"][:12]
    lift = gql(api, "{ buildings(first: 100, filter: {hasElevator: true}) { edges { node { hasElevator } } } }",
               officer)["buildings"]
    assert {n["hasElevator"] for n in nodes(lift)} <= {True}


def test_committees_root(api: Api, officer: str, committees: list[str]) -> None:
    conn = gql(api, "{ committees(first: 100) { edges { node { id code name subdistrict { code name } "
                    "compounds { code } } } } }", officer)["committees"]
    for c in nodes(conn):
        assert c["code"].startswith(SUB) and len(c["code"]) == 12 and c["name"]
        assert c["subdistrict"]["code"] == SUB
        assert all(x["code"].startswith(c["code"]) for x in c["compounds"])


def test_shops_root(api: Api, officer: str) -> None:
    conn = gql(api, "{ shops(first: 1000) { totalCount edges { node { id creditCode name category "
                    "licenceHolder jurisdictionCode } } } }", officer)["shops"]
    assert conn["totalCount"] == len(conn["edges"]) > 10
    assert all(len(s["creditCode"]) == 18 and s["jurisdictionCode"].startswith(SUB) for s in nodes(conn))
    cat = Counter(s["category"] for s in nodes(conn)).most_common(1)[0]
    got = gql(api, f"{{ shops(first: 1000, filter: {{category: {cat[0]}}}) {{ totalCount }} }}", officer)["shops"]
    assert got["totalCount"] == cat[1]


def test_events_root(api: Api, officer: str) -> None:
    conn = gql(api, "{ events(first: 1000) { totalCount edges { node { id eventId title date category "
                    "jurisdictionCode } } } }", officer)["events"]
    assert conn["totalCount"] == len(conn["edges"]) > 0
    assert all(e["eventId"] and e["jurisdictionCode"].startswith(SUB) for e in nodes(conn))


# --- opaque ids ----------------------------------------------------------------------------------------
IDS = """{
  persons(first: 2) { edges { node { id gender } } }
  houses(first: 2) { edges { node { id addressCode } } }
  buildings(first: 2) { edges { node { id code } } }
  committees(first: 2) { edges { node { id code } } }
  shops(first: 2) { edges { node { id creditCode } } }
  events(first: 2) { edges { node { id eventId } } }
}"""
NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Person { gender } ... on House { addressCode } ... on Building { code } ... on Committee { code }
  ... on Shop { creditCode } ... on Event { eventId } } }"""
TYPES = {"persons": ("Person", "gender"), "houses": ("House", "addressCode"), "buildings": ("Building", "code"),
         "committees": ("Committee", "code"), "shops": ("Shop", "creditCode"), "events": ("Event", "eventId")}


@pytest.fixture(scope="module")
def some_ids(api: Api, officer: str) -> dict[str, list[dict[str, Any]]]:
    data = gql(api, IDS, officer)
    return {root: nodes(conn) for root, conn in data.items()}


def test_node_round_trips(api: Api, officer: str, some_ids: dict[str, list[dict[str, Any]]]) -> None:
    seen: set[str] = set()
    for root, objs in some_ids.items():
        tname, key = TYPES[root]
        assert len(objs) == 2
        for o in objs:
            assert o["id"] not in seen
            seen.add(o["id"])
            got = gql(api, NODE, officer, {"id": o["id"]})["node"]
            assert got["__typename"] == tname
            assert got["id"] == o["id"]
            assert got[key] == o[key]


def test_ids_are_stable_and_opaque(api: Api, officer: str, some_ids: dict[str, list[dict[str, Any]]]) -> None:
    again = {root: nodes(conn) for root, conn in gql(api, IDS, officer).items()}
    assert again == some_ids
    for objs in some_ids.values():
        for o in objs:
            for v in o.values():
                if v != o["id"] and isinstance(v, str) and len(v) > 3:
                    assert v not in o["id"]


def test_typed_roots_refuse_other_types(api: Api, officer: str,
                                        some_ids: dict[str, list[dict[str, Any]]]) -> None:
    house = some_ids["houses"][0]["id"]
    person = some_ids["persons"][0]["id"]
    shop = some_ids["shops"][0]["id"]
    for root, gid in (("person", house), ("person", shop), ("shop", person), ("shop", house)):
        body = api.gql(f"query($id: ID!) {{ {root}(id: $id) {{ id }} }}", officer, {"id": gid})
        assert codes(body) == ["NOT_FOUND"], (root, body)
        assert body["data"] == {root: None}
    assert gql(api, "query($id: ID!) { person(id: $id) { id } }", officer, {"id": person})["person"]["id"] == person
    assert gql(api, "query($id: ID!) { shop(id: $id) { id } }", officer, {"id": shop})["shop"]["id"] == shop


def test_node_outside_jurisdiction_is_not_found(api: Api, committees: list[str],
                                                everyone: list[dict[str, Any]]) -> None:
    tok = api.token(OFFICER, jurisdiction=committees[0])
    inside = next(p for p in everyone if p["jurisdictionCode"].startswith(committees[0]))
    outside = next(p for p in everyone if not p["jurisdictionCode"].startswith(committees[0]))
    assert gql(api, NODE, tok, {"id": inside["id"]})["node"]["id"] == inside["id"]
    for root in ("node", "person"):
        body = api.gql(f"query($id: ID!) {{ {root}(id: $id) {{ id }} }}", tok, {"id": outside["id"]})
        assert codes(body) == ["NOT_FOUND"]
        assert body["data"] == {root: None}


def test_ids_from_another_gateway_key_are_not_found(make_api, some_ids: dict[str, list[dict[str, Any]]]) -> None:
    other = make_api(id_secret="another-id-secret-for-this-test")
    body = other.gql(NODE, other.token(OFFICER), {"id": some_ids["persons"][0]["id"]})
    assert codes(body) == ["NOT_FOUND"]


# --- relations --------------------------------------------------------------------------------------
def test_shop_relations_resolve(api: Api, officer: str) -> None:
    shops = nodes(gql(api, """{ shops(first: 1000) { edges { node { creditCode jurisdictionCode
        building { code }
        inspections { inspectionId creditCode date result }
        violations { caseNumber creditCode status }
        appearance { creditCode shopFrontCompliant }
        fireChecks { checkId creditCode result }
        complaints { caseNumber creditCode } } } } }""", officer)["shops"])
    for rel in ("inspections", "violations", "fireChecks", "complaints"):
        with_any = [s for s in shops if s[rel]]
        assert with_any, f"no shop has {rel}"
        for s in with_any:
            assert {x["creditCode"] for x in s[rel]} == {s["creditCode"]}, rel
    assert all(s[r] is not None for s in shops for r in ("inspections", "violations", "fireChecks", "complaints"))
    with_appearance = [s for s in shops if s["appearance"]]
    assert len(with_appearance) > len(shops) // 2
    assert all(s["appearance"]["creditCode"] == s["creditCode"] for s in with_appearance)
    assert all(s["building"]["code"] == s["jurisdictionCode"] for s in shops if s["building"])


def test_house_relations_resolve(api: Api, officer: str) -> None:
    houses = nodes(gql(api, """{ houses(first: 1000) { edges { node { addressCode
        water { addressCode meterNumber lastReading }
        residents { id houseCode gender }
        complaints { addressCode } } } } }""", officer)["houses"])
    with_water = [h for h in houses if h["water"]]
    assert len(with_water) > len(houses) // 2
    assert all(h["water"]["addressCode"] == h["addressCode"] for h in with_water)
    with_residents = [h for h in houses if h["residents"]]
    assert len(with_residents) > len(houses) // 2
    assert all(p["houseCode"] == h["addressCode"] for h in with_residents for p in h["residents"])
    assert all(c["addressCode"] == h["addressCode"] for h in houses for c in h["complaints"] or [])


def test_house_construction_cases_resolve(make_api) -> None:
    """Checked in dry_run: the join itself, independent of the policy."""
    dry = make_api(auth_mode="dry_run")
    houses = nodes(gql(dry, "{ houses(first: 1000) { edges { node { addressCode "
                            "constructionCases { caseNumber addressCode status } } } } }", dry.token(OFFICER))["houses"])
    with_cases = [h for h in houses if h["constructionCases"]]
    assert with_cases
    assert all(c["addressCode"] == h["addressCode"] for h in with_cases for c in h["constructionCases"])


def test_some_role_may_read_construction_cases(api: Api) -> None:
    """House.constructionCases is granted to place roles, but no role may read a ConstructionCase field."""
    readers = []
    for role in ("subdistrict_officer", "committee_worker", "committee_secretary", "inspector"):
        body = api.gql("{ houses(first: 1000) { edges { node { constructionCases { caseNumber } } } } }",
                       api.token(role))
        if "errors" not in body and any(n["constructionCases"] for n in nodes(body["data"]["houses"])):
            readers.append(role)
    assert readers, "no role can read illegal-construction cases"


def test_event_registrations_and_registrants(api: Api) -> None:
    tok = api.token("developer")
    events = nodes(gql(api, """{ events(first: 1000) { edges { node { eventId
        registrations { eventId registrationId attended person { id age gender } event { eventId } } } } } }""",
                       tok)["events"])
    regs = [(e, r) for e in events for r in e["registrations"] or []]
    assert regs
    assert all(r["eventId"] == e["eventId"] and r["event"]["eventId"] == e["eventId"] for e, r in regs)
    with_person = [r for _, r in regs if r["person"]]
    assert len(with_person) > len(regs) // 2
    pid = with_person[0]["person"]["id"]
    got = gql(api, "query($id: ID!) { node(id: $id) { id ... on Person { gender } } }", tok, {"id": pid})["node"]
    assert got == {"id": pid, "gender": with_person[0]["person"]["gender"]}


def test_person_relations_and_reverse_joins_agree(api: Api, officer: str) -> None:
    persons = nodes(gql(api, "{ persons(first: 200) { edges { node { id houseCode "
                             "house { addressCode residents { id } } } } } }", officer)["persons"])
    assert all(p["house"]["addressCode"] == p["houseCode"] for p in persons if p["house"])
    assert all(p["id"] in {r["id"] for r in p["house"]["residents"]} for p in persons if p["house"])


# --- stats ----------------------------------------------------------------------------------------------
STATS = """query($s: StatsSubject!, $g: [StatsDimension!]!, $f: PlaceFilter) {
  stats(subject: $s, groupBy: $g, filter: $f) { k total suppressedCells
    cells { committee compound building ageBand gender livingAlone propertyType shopCategory count suppressed } } }"""


def stats(api: Api, tok: str, subject: str, group: list[str], f: dict[str, Any] | None = None) -> dict[str, Any]:
    s = gql(api, STATS, tok, {"s": subject, "g": group, "f": f})["stats"]
    assert s["k"] == api.settings.k_anonymity
    for c in s["cells"]:
        assert c["suppressed"] is (c["count"] is None), c
        assert c["count"] is None or c["count"] >= 0
    assert s["suppressedCells"] == sum(1 for c in s["cells"] if c["suppressed"])
    assert s["total"] == sum(c["count"] or 0 for c in s["cells"])
    return s  # type: ignore[no-any-return]


def test_stats_for_the_subdistrict_officer(api: Api, officer: str, committees: list[str],
                                           everyone: list[dict[str, Any]]) -> None:
    s = stats(api, officer, "PERSONS", ["COMMITTEE"])
    per = Counter(p["jurisdictionCode"][:12] for p in everyone)
    # dense: every committee of the housing data is listed, with residents or not
    assert [c["committee"] for c in s["cells"]] == sorted(committees) and set(per) <= set(committees)
    # finest cells are perturbed (multiples of k, roughly unbiased): near the truth, never wildly off
    assert abs(s["total"] - len(everyone)) < 0.1 * len(everyone)
    for c in s["cells"]:
        if not c["suppressed"]:
            assert abs(c["count"] - per[c["committee"]]) < 0.2 * per[c["committee"]] + api.settings.k_anonymity


def test_stats_are_consistent_across_groupings(api: Api, officer: str) -> None:
    totals = {g: stats(api, officer, "PERSONS", [g]) for g in ("AGE_BAND", "GENDER", "LIVING_ALONE", "COMMITTEE")}
    unsuppressed = {g: s["total"] for g, s in totals.items() if s["suppressedCells"] == 0}
    assert len(unsuppressed) >= 2
    assert len(set(unsuppressed.values())) == 1, unsuppressed
    again = stats(api, officer, "PERSONS", ["AGE_BAND"])
    assert again == totals["AGE_BAND"]  # deterministic: asking again learns nothing new


def test_stats_protect_small_cells_without_suppressing_them(api: Api, officer: str) -> None:
    s = stats(api, officer, "PERSONS", ["BUILDING", "AGE_BAND", "GENDER", "LIVING_ALONE"])
    k = api.settings.k_anonymity
    assert s["suppressedCells"] == 0 and all(c["count"] % k == 0 for c in s["cells"])
    buildings = {c["building"] for c in s["cells"]}
    assert len(s["cells"]) == len(buildings) * 6 * 2 * 2  # every combination, empty ones included
    assert any(c["count"] == 0 for c in s["cells"])
    coarse = stats(api, officer, "PERSONS", ["AGE_BAND"])
    assert s["total"] == coarse["total"]  # every grouping sums the same protected finest cells


def test_stats_for_the_district_analyst(api: Api) -> None:
    tok = api.token("district_analyst", jurisdiction="310107")
    s = stats(api, tok, "PERSONS", ["COMMITTEE", "GENDER"])
    assert s["total"] > 0 and {c["gender"] for c in s["cells"]} <= {"MALE", "FEMALE"}
    h = stats(api, tok, "HOUSES", ["PROPERTY_TYPE"])
    assert h["total"] > 0
    sh = stats(api, tok, "SHOPS", ["SHOP_CATEGORY"])
    assert sh["total"] > 0
    narrowed = stats(api, tok, "PERSONS", ["GENDER"], {"committee": s["cells"][0]["committee"]})
    assert narrowed["total"] <= s["total"]
    body = api.gql("{ persons(first: 1) { totalCount } }", tok)
    assert body["data"]["persons"] is None
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"]


def test_stats_refuse_a_dimension_of_another_subject(api: Api, officer: str) -> None:
    body = api.gql(STATS, officer, {"s": "SHOPS", "g": ["AGE_BAND"], "f": None})
    assert body["data"]["stats"] is None
    assert codes(body) == ["BAD_USER_INPUT"]


def test_stats_denied_to_row_roles(api: Api) -> None:
    body = api.gql(STATS, api.token("committee_worker"), {"s": "PERSONS", "g": ["COMMITTEE"], "f": None})
    assert body["data"]["stats"] is None
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"]
