"""Tags over the demo: members agree with the departments' own records, filters are exact, and a tag
is usable only with every field it reads (real gateway, real department services)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common.dates import age_on
from schema.tags import load
from tests.helpers import Api, codes
from tests.resolvers.test_refreshing import operation_calls

COMMITTEE = "310107005001"
ALL = """query($f: PersonFilter, $a: String) { persons(first: 500, after: $a, filter: $f) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id age tags welfare { livingAlone careLevel } } } } }"""


def walk(api: Api, tok: str, f: dict[str, Any] | None = None, query: str = ALL, root: str = "persons") -> list[dict[str, Any]]:
    out, after = [], None
    while True:
        body = api.gql(query, tok, {"f": f, "a": after})
        assert "errors" not in body, body["errors"]
        conn = body["data"][root]
        out += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            assert conn["totalCount"] == len(out)
            return out
        after = conn["pageInfo"]["endCursor"]


@pytest.fixture(scope="module")
def worker(api: Api) -> str:
    """On the duty the tags serve: the disability grade and where people live are read for elderly care."""
    return api.token("committee_worker", jurisdiction=COMMITTEE, purpose="elderly_care_visit")


@pytest.fixture(scope="module")
def residents(api: Api, worker: str) -> list[dict[str, Any]]:
    return walk(api, worker)


def test_members_are_what_the_records_say(residents: list[dict[str, Any]]) -> None:
    """Each person's tags, recomputed here from the fields the worker reads through the same gateway."""
    assert residents
    for p in residents:
        w = p["welfare"] or {}
        age = p["age"]
        expect = {
            "aged-80-plus": age is not None and age >= 80,
            "living-alone": w.get("livingAlone") is True,
            "elder-living-alone": age is not None and age >= 70 and w.get("livingAlone") is True,
            "needs-care": w.get("careLevel") in ("MODERATE", "SEVERE"),
            "toddler-2-3": age is not None and 2 <= age <= 3,
        }
        for tag, member in expect.items():
            assert (tag in p["tags"]) == member, (tag, p)
    assert sum("elder-living-alone" in p["tags"] for p in residents) > 0


def test_a_filter_is_the_members_exactly(api: Api, worker: str, residents: list[dict[str, Any]]) -> None:
    def by_tags(yes: list[str], no: list[str] | tuple[str, ...] = ()) -> set[str]:
        return {p["id"] for p in residents if set(yes) <= set(p["tags"]) and not set(no) & set(p["tags"])}

    for yes, no in [(["elder-living-alone"], []), (["aged-80-plus", "needs-care"], []), ([], ["aged-60-plus"]),
                    (["vulnerable"], ["visited-90-days"]), (["living-alone"], ["aged-70-plus", "needs-care"])]:
        got = walk(api, worker, {"tags": yes, "notTags": no})
        assert {p["id"] for p in got} == by_tags(yes, no), (yes, no)
    # with other filters: the same set narrowed by them
    got = walk(api, worker, {"tags": ["living-alone"], "gender": "FEMALE", "ageMin": 75})
    assert {p["id"] for p in got} <= by_tags(["living-alone"]) and all(p["age"] >= 75 for p in got)


def test_silent_minority_is_vulnerable_and_unvisited(api: Api, worker: str) -> None:
    q = """query($f: PersonFilter, $a: String) { persons(first: 500, after: $a, filter: $f) { totalCount
        pageInfo { hasNextPage endCursor } edges { node { id tags visits { date } } } } }"""
    since = dt.date.today() - dt.timedelta(days=90)
    silent = walk(api, worker, {"tags": ["silent-minority"]}, q)
    assert silent
    for p in silent:
        assert "vulnerable" in p["tags"] and "silent-minority" in p["tags"]
        assert all(dt.date.fromisoformat(v["date"]) < since for v in p["visits"] or ())


def test_house_tags(api: Api, worker: str) -> None:
    q = """query($f: HouseFilter, $a: String) { houses(first: 500, after: $a, filter: $f) { totalCount
        pageInfo { hasNextPage endCursor } edges { node { id tags statusHistory { status since }
        residents { age tags } } } } }"""
    houses = walk(api, worker, None, q, "houses")
    vacant = {h["id"] for h in houses if h["statusHistory"] and h["statusHistory"][0]["status"] == "VACANT"}
    assert vacant and vacant == {h["id"] for h in houses if "vacant" in h["tags"]}
    watched = {h["id"] for h in houses if h["id"] not in vacant
               and any("elder-living-alone" in (r["tags"] or ()) for r in h["residents"] or ())}
    assert watched == {h["id"] for h in houses if "elder-alone-household" in h["tags"]}
    got = walk(api, worker, {"tags": ["elder-alone-household"]}, q, "houses")
    assert {h["id"] for h in got} == watched


def test_one_call_per_department(api: Api) -> None:
    """A cold filter over three departments asks each for its records in the scope once."""
    tok = api.token("committee_worker", jurisdiction="310107005002", purpose="elderly_care_visit")
    before = operation_calls(api)
    body = api.gql('{ persons(first: 0, filter: {tags: ["vulnerable"]}) { totalCount } }', tok)
    assert "errors" not in body, body
    moved = {k: n - before[k] for k, n in operation_calls(api).items() if n != before[k]}
    assert moved == {("population", "list"): 1, ("civil_affairs", "list"): 1, ("disability", "list"): 1}, moved
    before = operation_calls(api)
    assert api.gql('{ persons(first: 0, filter: {tags: ["vulnerable"]}) { totalCount } }', tok) == body
    assert operation_calls(api) == before  # kept


def test_a_tag_reading_what_the_role_may_not_read_is_not_usable(api: Api) -> None:
    """A worker reads no health record: health tags are not listed for them, not in the catalogue as
    usable, and refused as a filter; without the elderly-care purpose, no disability grade either, so
    no silent minority."""
    worker = api.token("committee_worker", jurisdiction=COMMITTEE, purpose="elderly_care_visit")
    cat = api.gql("{ tags(subject: PERSON) { name usable reads } }", worker)["data"]["tags"]
    usable = {t["name"] for t in cat if t["usable"]}
    assert "hypertension" not in usable and "elder-chronic-alone" not in usable and "aged-80-plus" in usable
    assert {t["name"] for t in cat} == {n for n, t in load().items() if t.subject == "Person" and ":" not in n}
    body = api.gql('{ persons(first: 1, filter: {tags: ["elder-chronic-alone"]}) { totalCount } }', worker)
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"] and body["data"]["persons"] is None
    body = api.gql('{ persons(first: 1, filter: {notTags: ["hypertension"]}) { totalCount } }', worker)
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    tagged = walk(api, worker)
    assert not any({"hypertension", "diabetes", "chronic-disease"} & set(p["tags"]) for p in tagged)
    no_duty = api.token("committee_worker", jurisdiction=COMMITTEE)
    cat = api.gql("{ tags(subject: PERSON) { name usable } }", no_duty)["data"]["tags"]
    assert {t["name"] for t in cat if not t["usable"]} >= {"vulnerable", "silent-minority", "disabled"}
    body = api.gql('{ persons(first: 1, filter: {tags: ["silent-minority"]}) { totalCount } }', no_duty)
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"]


def test_roles_without_the_field_get_nothing(api: Api) -> None:
    analyst = api.token("district_analyst", jurisdiction="310107")
    body = api.gql("{ persons(first: 1) { edges { node { tags } } } }", analyst)
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(body)
    body = api.gql('{ persons(first: 1, filter: {tags: ["aged-80-plus"]}) { totalCount } }', analyst)
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(body)


@pytest.mark.parametrize("f", [{"tags": ["no-such-tag"]}, {"notTags": ["vacant"]}, {"tags": ["Aged 80"]}])
def test_unknown_tags_are_bad_input(api: Api, worker: str, f: dict[str, Any]) -> None:
    body = api.gql("query($f: PersonFilter) { persons(first: 1, filter: $f) { totalCount } }", worker, {"f": f})
    assert codes(body) == ["BAD_USER_INPUT"] and body["data"]["persons"] is None


def test_a_department_down_fails_only_the_tags_reading_it(make_api: Any, demo_env: dict[str, str]) -> None:
    down = make_api(env={**demo_env, "HOTLINE_URL": "http://127.0.0.1:9"})
    worker = down.token("committee_worker", jurisdiction=COMMITTEE, purpose="elderly_care_visit")
    body = down.gql('{ houses(first: 1, filter: {tags: ["open-complaint"]}) { totalCount } }', worker)
    assert codes(body) == ["DEPARTMENT_UNAVAILABLE"] and body["data"]["houses"] is None
    body = down.gql("{ houses(first: 5) { edges { node { floor tags } } } }", worker)
    assert codes(body) == ["DEPARTMENT_UNAVAILABLE"] and body["errors"][0]["path"][-1] == "tags"
    assert all(e["node"]["floor"] is not None and e["node"]["tags"] is None for e in body["data"]["houses"]["edges"])
    # no person tag reads the hotline: persons' tags are all there
    body = down.gql("{ persons(first: 50) { edges { node { age tags } } } }", worker)
    assert "errors" not in body, body["errors"]
    nodes = [e["node"] for e in body["data"]["persons"]["edges"]]
    assert all(("aged-60-plus" in n["tags"]) == (n["age"] >= 60) for n in nodes)


def test_ages_are_by_birthday() -> None:
    today = dt.date(2026, 3, 1)
    assert age_on(dt.date(1946, 3, 1), today) == 80 and age_on(dt.date(1946, 3, 2), today) == 79


# --- policy finds people -------------------------------------------------------------------------------
ELIGIBLE = """query($r: String!, $a: String) { eligible(rule: $r, first: 500, after: $a) { totalCount
    pageInfo { hasNextPage endCursor } edges { node { id age registrationType welfare { elderlyAllowance }
    jurisdictionCode } } } }"""


def test_eligible_are_those_who_qualify_and_do_not_receive(api: Api) -> None:
    officer = api.token("subdistrict_officer")
    everyone = walk(api, officer, None, """query($f: PersonFilter, $a: String) { persons(first: 500, after: $a,
        filter: $f) { totalCount pageInfo { hasNextPage endCursor } edges { node { id age registrationType
        welfare { elderlyAllowance } } } } }""")
    expect = {p["id"] for p in everyone if p["age"] >= 80 and p["registrationType"] == "LOCAL"
              and not (p["welfare"] or {}).get("elderlyAllowance")}
    out, after = [], None
    while True:
        body = api.gql(ELIGIBLE, officer, {"r": "elderly-allowance", "a": after})
        assert "errors" not in body, body["errors"]
        conn = body["data"]["eligible"]
        out += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert {p["id"] for p in out} == expect and expect
    assert all(len(p["jurisdictionCode"]) == 18 for p in out)  # the committee that serves them: its first 12
    rules = api.gql("{ eligibilityRules { name usable qualifies } }", officer)["data"]["eligibilityRules"]
    assert {r["name"] for r in rules} >= {"elderly-allowance", "old-age-pension"}


@pytest.mark.parametrize(("role", "rule", "code"), [
    ("committee_worker", "no-such-rule", "BAD_USER_INPUT"),
    ("district_analyst", "elderly-allowance", "UNAUTHORIZED_FIELD_OR_TYPE"),
    ("family_doctor", "elderly-allowance", "UNAUTHORIZED_FIELD_OR_TYPE"),
])
def test_eligible_refusals(api: Api, role: str, rule: str, code: str) -> None:
    body = api.gql('query($r: String!) { eligible(rule: $r, first: 1) { totalCount } }', api.token(role), {"r": rule})
    assert code in codes(body) and body["data"] is None or body["data"]["eligible"] is None


# --- the silent minority ---------------------------------------------------------------------------------
WORKLIST = """query($d: Int!, $n: Int!) { silentMinority(days: $d, first: $n) { reasons lastVisit daysSinceVisit
    person { id idNumber tags } } }"""


def test_the_worklist_is_ranked_with_reasons(api: Api, worker: str) -> None:
    body = api.gql(WORKLIST, worker, {"d": 90, "n": 500})
    assert "errors" not in body, body["errors"]
    items = body["data"]["silentMinority"]
    silent = {p["id"] for p in walk(api, worker, {"tags": ["silent-minority"]})}
    assert items and {i["person"]["id"] for i in items} == silent
    today = dt.date.today()
    for i in items:
        assert i["reasons"] and set(i["reasons"]) <= set(i["person"]["tags"])
        assert "*" in i["person"]["idNumber"]  # masked for the worker, as in persons
        if i["lastVisit"] is not None:
            assert (today - dt.date.fromisoformat(i["lastVisit"])).days == i["daysSinceVisit"] > 90
    ranks = [(-len(i["reasons"]), i["lastVisit"] or "") for i in items]
    assert ranks == sorted(ranks)
    fewer = api.gql(WORKLIST, worker, {"d": 3000, "n": 500})["data"]["silentMinority"]
    assert len(fewer) < len(items)  # a longer window: more were visited within it


@pytest.mark.parametrize(("variables", "code"), [({"d": 0, "n": 5}, "BAD_USER_INPUT"),
                                                 ({"d": 90, "n": 0}, "BAD_USER_INPUT"),
                                                 ({"d": 99999, "n": 5}, "BAD_USER_INPUT")])
def test_worklist_bad_input(api: Api, worker: str, variables: dict[str, int], code: str) -> None:
    assert codes(api.gql(WORKLIST, worker, variables)) == [code]


def test_worklist_needs_the_duty(api: Api) -> None:
    """Without the elderly-care purpose a worker reads no disability grade: no worklist; an analyst has none."""
    no_duty = api.token("committee_worker", jurisdiction=COMMITTEE)
    assert codes(api.gql(WORKLIST, no_duty, {"d": 90, "n": 5})) == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    analyst = api.token("district_analyst", jurisdiction="310107")
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(api.gql(WORKLIST, analyst, {"d": 90, "n": 5}))


# --- tag counts in stats ---------------------------------------------------------------------------------
TAG_STATS = """query($t: String) { stats(subject: PERSONS, groupBy: [COMMITTEE, AGE_BAND], tag: $t) { k total
    cells { committee ageBand count } } }"""


def test_tag_counts_are_protected_like_any_stats(api: Api) -> None:
    analyst = api.token("district_analyst", jurisdiction="310107")
    dev = api.token("developer")
    body = api.gql(TAG_STATS, analyst, {"t": "aged-80-plus"})
    assert "errors" not in body, body["errors"]
    res = body["data"]["stats"]
    k = res["k"]
    assert all(c["count"] % k == 0 for c in res["cells"])
    assert api.gql(TAG_STATS, analyst, {"t": "aged-80-plus"}) == body  # the same protected table again
    true = api.gql('{ persons(first: 0, filter: {tags: ["aged-80-plus"]}) { totalCount } }', dev)
    n = true["data"]["persons"]["totalCount"]
    committees = len({c["committee"] for c in res["cells"]})
    finest = committees * 6 * 2 * 2  # a tag's finest cells: committee x age band x gender x living alone
    assert n > 0 and abs(res["total"] - n) <= k * finest  # each finest cell is one of the two multiples around it
    untagged = api.gql(TAG_STATS, analyst, {"t": None})["data"]["stats"]
    assert untagged["total"] > res["total"]
    # one committee's count is near: its 24 finest cells are per committee, not per building (about 700 cells
    # here, mostly empty, each released as 0 or k alike, whose sum came out more than ten times the true count)
    one = api.gql(TAG_STATS, api.token("district_analyst", jurisdiction="310107005001"), {"t": "aged-80-plus"})
    mine = api.gql('{ persons(first: 0, filter: {tags: ["aged-80-plus"]}) { totalCount } }',
                   api.token("developer", jurisdiction="310107005001"))["data"]["persons"]["totalCount"]
    assert mine > 20 and abs(one["data"]["stats"]["total"] - mine) <= k * 24 / 2, (one, mine)


@pytest.mark.parametrize("query", [
    '{ stats(subject: PERSONS, groupBy: [BUILDING], tag: "aged-80-plus") { total } }',
    '{ stats(subject: PERSONS, groupBy: [COMPOUND, AGE_BAND], tag: "aged-80-plus") { total } }',
    '{ stats(subject: PERSONS, groupBy: [GRID_CELL], tag: "aged-80-plus") { total } }',
    ('{ stats(subject: PERSONS, groupBy: [AGE_BAND], tag: "aged-80-plus", filter: {compound: "310107005001001"}) '
     '{ total } }'),
])
def test_tag_counts_are_per_committee_at_the_finest(api: Api, query: str) -> None:
    officer = api.token("subdistrict_officer")
    assert codes(api.gql(query, officer)) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(("tag", "code"), [("hypertension", "UNAUTHORIZED_FIELD_OR_TYPE"),
                                           ("no-such-tag", "BAD_USER_INPUT"), ("vacant", "BAD_USER_INPUT"),
                                           ("rule:elderly-allowance", "BAD_USER_INPUT")])
def test_tag_counts_refusals(api: Api, tag: str, code: str) -> None:
    analyst = api.token("district_analyst", jurisdiction="310107")
    assert codes(api.gql(TAG_STATS, analyst, {"t": tag})) == [code]


@pytest.mark.parametrize("op", ["=", ">=", ">", "<=", "<"])
@pytest.mark.parametrize("today", [dt.date(2026, 11, 24), dt.date(2028, 2, 29), dt.date(2027, 3, 1)])
def test_an_age_pushed_down_is_the_age_read(op: str, today: dt.date) -> None:
    """The birth-date range an age atom becomes holds exactly the birth dates whose age (by birthday) matches."""
    from adapters.base import Range
    from resolvers.tags import _holds, pushable
    from schema.tags import Own

    atom = Own("age", op, 80)
    pushed = pushable("Person", atom, today)
    assert pushed is not None
    r = pushed["birthDate"]
    assert isinstance(r, Range)
    start = dt.date(today.year - 83, 1, 1)
    for born in (start + dt.timedelta(days=i) for i in range(0, 365 * 6, 1)):
        inside = (r.lo is None or born >= r.lo) and (r.hi is None or born <= r.hi)
        assert inside == _holds(age_on(born, today), op, 80), (born, today, op)


def test_a_narrow_filter_reads_only_its_matches(api: Api) -> None:
    """An exact tag without a ``not`` is pushed down: the population registry is asked for the keys of the
    ages (grouped by key: one column), not for everyone's records; the answer is the same as reading everyone."""
    tok = api.token("subdistrict_officer", jurisdiction="310107005003")
    q = '{ persons(first: 0, filter: {tags: ["elder-living-alone"], notTags: ["visited-90-days"]}) { totalCount } }'
    before = operation_calls(api)
    narrow = api.gql(q, tok)
    moved = {k: n - before[k] for k, n in operation_calls(api).items() if n != before[k]}
    assert moved == {("population", "aggregate"): 1, ("civil_affairs", "list"): 1, ("committee_records", "list"): 1}
    everyone = walk(api, tok, None, """query($f: PersonFilter, $a: String) { persons(first: 500, after: $a,
        filter: $f) { totalCount pageInfo { hasNextPage endCursor } edges { node { id tags } } } }""")
    expect = [p for p in everyone if "elder-living-alone" in p["tags"] and "visited-90-days" not in p["tags"]]
    assert narrow["data"]["persons"]["totalCount"] == len(expect) > 0


async def test_accepts_says_what_list_takes(demo_env: dict[str, str]) -> None:
    """A pushed-down atom asks only what the department's list takes: ``accepts`` agrees with ``list``."""
    from adapters.base import Eq, ListQuery, Range
    from adapters.registry import Registry
    from common.errors import FilterNotAllowedError
    from schema.build import catalogue
    from tests.helpers import ADAPTERS_DIR

    reg = Registry.from_dir(ADAPTERS_DIR, catalogue(), demo_env)
    population, housing = reg.for_entity("Person"), reg.for_entity("House")
    today = dt.date.today()
    cases = [(population, "Person", {"birthDate": Range(None, today.replace(year=today.year - 100))}),
             (population, "Person", {"noSuchField": Eq((1,))}),
             (housing, "House", {"floor": Range(4, None)}), (housing, "House", {"propertyType": Eq(("OLD_PUBLIC",))})]
    for adapter, entity, filters in cases:
        try:
            await adapter.list(entity, ListQuery(scope=COMMITTEE, filters=filters, limit=1))
            took = True
        except FilterNotAllowedError:
            took = False
        assert adapter.accepts(entity, filters) == took, (entity, filters)
    for a in reg:
        await a.close()
