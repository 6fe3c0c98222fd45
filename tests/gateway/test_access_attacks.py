"""Named attacker tests against the access-control layer (issue 3, "Enforcement").

Each test is one attack a curious or malicious caller could try, written so a reviewer can
read what is attempted and what the gateway must answer. Everything runs over HTTP against
a real gateway on the 3,000-person demo; department calls are read from GET /metrics.
"""
from __future__ import annotations

import base64
import itertools
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jwt
import pytest

from policies.engine import PolicyEngine
from schema.build import field_meta
from tests.helpers import SUBDISTRICT, adapter_calls, codes

UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"
C1, C2 = f"{SUBDISTRICT}001", f"{SUBDISTRICT}002"
RAW_ID = re.compile(r"\d{17}[\dXx]")
MASKED_ID = re.compile(r"\d{6}\*{8}\d{3}[\dXx]")
MASKED_PHONE = re.compile(r"\d{3}\*{4}\d{4}")
K = 5


# --------------------------------------------------------------------------- helpers
def calls_during(api: Any, fn: Any) -> tuple[Any, Counter[str]]:
    before = adapter_calls(api)
    result = fn()
    after = adapter_calls(api)
    return result, Counter({a: after[a] - before[a] for a in after if after[a] != before[a]})


def nodes(body: dict[str, Any], root: str = "persons") -> list[dict[str, Any]]:
    return [e["node"] for e in body["data"][root]["edges"]]


def walk(v: Any) -> Any:
    """Every (key, value) pair at any depth."""
    if isinstance(v, dict):
        for k, x in v.items():
            yield k, x
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


def strings(v: Any) -> list[str]:
    return [x for _, x in walk({"": v}) if isinstance(x, str)]


def unauthorized_paths(body: dict[str, Any]) -> list[list[Any]]:
    return [e.get("path") for e in body.get("errors") or [] if e["extensions"]["code"] == UNAUTHORIZED]


def person_ids(api: Any, committee: str, n: int = 5) -> list[str]:
    body = api.gql("query($c: String) { persons(first: 50, filter: {committee: $c}) { edges { node { id } } } }",
                   api.token("developer"), {"c": committee})
    ids = [p["id"] for p in nodes(body)]
    assert len(ids) >= n, body
    return ids[:n]


# --------------------------------------------------------------------------- aliases, fragments, paths
def test_alias_does_not_unmask_an_id_number(api) -> None:  # type: ignore[no-untyped-def]
    """`x: idNumber` and `phone: idNumber` are still the ID number, still masked for a committee worker."""
    token = api.token("committee_worker", jurisdiction=C1)
    body = api.gql("{ persons(first: 30) { edges { node { x: idNumber phone: idNumber name: idNumber idNumber "
                   "realPhone: phone } } } }", token)
    assert "errors" not in body, body
    people = nodes(body)
    assert len(people) == 30
    for p in people:
        for key in ("x", "phone", "name", "idNumber"):
            assert p[key] is None or MASKED_ID.fullmatch(p[key]), p
    # and the engine agrees: a worker may call residents, so the phone itself is full
    assert PolicyEngine(field_meta=field_meta()).decide(["committee_worker"], None, "Person.phone").effect == "allow"
    assert any(p["realPhone"] and re.fullmatch(r"1\d{10}", p["realPhone"]) for p in people)


def test_alias_of_a_denied_field_under_an_allowed_name(api) -> None:  # type: ignore[no-untyped-def]
    """`name: health` and `phone: birthDate` do not inherit the decision of the name they borrow."""
    token = api.token("committee_worker", jurisdiction=C1)
    body = api.gql("{ persons(first: 10) { edges { node { phone: birthDate name: health { familyDoctor } } } } }",
                   token)
    assert all(p["phone"] is None and p["name"] is None for p in nodes(body)), body
    assert sorted(map(tuple, unauthorized_paths(body))) == [
        ("persons", "edges", "@", "node", "name"), ("persons", "edges", "@", "node", "phone")]


def test_named_and_inline_fragments_do_not_bypass(api) -> None:  # type: ignore[no-untyped-def]
    token = api.token("committee_worker", jurisdiction=C1)
    q = """
    query { persons(first: 20) { edges { node { ...P ... on Person { h: health { diabetes } ... on Person { x: idNumber } } } } } }
    fragment P on Person { idNumber health { familyDoctor } ...Deeper }
    fragment Deeper on Person { household { members { idNumber birthDate } } }
    """
    (body, moved) = calls_during(api, lambda: api.gql(q, token))
    people = nodes(body)
    assert people
    for p in people:
        assert MASKED_ID.fullmatch(p["idNumber"]) and MASKED_ID.fullmatch(p["x"]), p
        assert p["health"] is None and p["h"] is None, p
        for m in (p["household"] or {}).get("members") or []:
            assert m["birthDate"] is None and MASKED_ID.fullmatch(m["idNumber"]), m
    assert sorted(map(tuple, unauthorized_paths(body))) == sorted([
        ("persons", "edges", "@", "node", "health"), ("persons", "edges", "@", "node", "h"),
        ("persons", "edges", "@", "node", "household", "members", "@", "birthDate")])
    assert moved["health"] == 0, moved


def test_nested_paths_never_leave_the_committee(make_api) -> None:  # type: ignore[no-untyped-def]
    """person -> house -> building -> shops/houses/compound -> committee -> compounds -> buildings, household -> members.

    Scope, not cost, is under test: the gateway gets a budget this deep walk fits in.
    """
    api = make_api(cost_budget=10_000_000)
    token = api.token("committee_worker", jurisdiction=C1)
    q = """{ persons(first: 200) { edges { node { id jurisdictionCode
        household { jurisdictionCode members { id jurisdictionCode } house { jurisdictionCode } }
        house { jurisdictionCode building { code shops { id jurisdictionCode building { code } }
                  houses { jurisdictionCode residents { jurisdictionCode } }
                  compound { code committee { code subdistrict { code } compounds { code buildings { code } } } } } } } } } }"""
    body = api.gql(q, token)
    assert "errors" not in body, body
    codes_seen = [(k, v) for k, v in walk(body["data"]) if k in ("code", "jurisdictionCode") and v is not None]
    assert len(codes_seen) > 1000
    outside = [(k, v) for k, v in codes_seen if not v.startswith(C1)]
    assert not outside, outside[:10]
    # the subdistrict (a parent of the committee) is not the worker's: it comes back null
    assert all(x is None for k, x in walk(body["data"]) if k == "subdistrict")


def test_members_of_a_household_outside_the_committee_are_dropped(api) -> None:  # type: ignore[no-untyped-def]
    """Households whose members live in several committees: the worker sees only their own residents."""
    dev = api.token("developer")
    body = api.gql("{ persons(first: 1000) { edges { node { household { householdNumber members { "
                   "jurisdictionCode } } } } } }", dev)
    mixed = {p["household"]["householdNumber"] for p in nodes(body) if p["household"] and
             len({m["jurisdictionCode"][:12] for m in p["household"]["members"] or []}) > 1}
    for c in COMMITTEES_WITH_DATA:
        token = api.token("committee_worker", jurisdiction=c)
        b = api.gql("{ persons(first: 1000) { edges { node { household { householdNumber members { id "
                    "jurisdictionCode } } } } } }", token)
        for p in nodes(b):
            for m in (p["household"] or {}).get("members") or []:
                assert m["jurisdictionCode"].startswith(c), (c, p)
    assert mixed is not None  # (the demo may or may not have such households; scope holds either way)


COMMITTEES_WITH_DATA = [f"{SUBDISTRICT}00{i}" for i in (1, 2, 3)]


def test_event_registrants_outside_the_committee_are_null(api) -> None:  # type: ignore[no-untyped-def]
    """events -> registrations -> person: a registrant living elsewhere comes back null, never their record."""
    token = api.token("developer", jurisdiction=C1)
    body = api.gql("{ events(first: 50) { edges { node { jurisdictionCode registrations { person { id "
                   "jurisdictionCode } } } } } }", token)
    assert "errors" not in body, body
    for e in nodes(body, "events"):
        assert e["jurisdictionCode"].startswith(C1), e
        for r in e["registrations"] or []:
            assert r["person"] is None or r["person"]["jurisdictionCode"].startswith(C1), r


# --------------------------------------------------------------------------- node(id)
def test_out_of_scope_node_is_indistinguishable_from_a_forged_id(api) -> None:  # type: ignore[no-untyped-def]
    other = person_ids(api, C2, 1)[0]
    mine = person_ids(api, C1, 1)[0]
    raw = base64.urlsafe_b64decode(other + "=" * (-len(other) % 4))
    tampered = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).rstrip(b"=").decode()
    absent = api.gateway.ids.encode("Person", "110101190001010000")
    token = api.token("committee_worker", jurisdiction=C1)
    answers = {}
    for label, gid in (("other committee", other), ("tampered", tampered), ("garbage", "not-an-id"),
                       ("never existed", absent)):
        for root in ("node", "person"):
            r = api.post(f'{{ {root}(id: "{gid}") {{ id ... on Person {{ name }} }} }}', token)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["data"] == {root: None}, (label, body)
            assert codes(body) == ["NOT_FOUND"], (label, body)
            answers[(label, root)] = [{k: v for k, v in e.items()} for e in body["errors"]]
    for root in ("node", "person"):
        variants = {repr(v) for (label, r), v in answers.items() if r == root}
        assert len(variants) == 1, answers  # same message, path, locations and extensions
    ok = api.gql(f'{{ node(id: "{mine}") {{ id ... on Person {{ name }} }} }}', token)
    assert ok["data"]["node"]["id"] == mine, ok


def test_node_of_another_committees_shop_and_house(api) -> None:  # type: ignore[no-untyped-def]
    dev = api.token("subdistrict_officer")
    shops = api.gql("query($c: String) { shops(first: 5, filter: {committee: $c}) { edges { node { id } } } }", dev,
                    {"c": C2})
    houses = api.gql("query($c: String) { houses(first: 5, filter: {committee: $c}) { edges { node { id } } } }", dev,
                     {"c": C2})
    token = api.token("committee_worker", jurisdiction=C1)
    ids = [n["id"] for n in nodes(shops, "shops")] + [n["id"] for n in nodes(houses, "houses")]
    assert ids
    for gid in ids:
        body = api.gql(f'{{ node(id: "{gid}") {{ id }} shop(id: "{gid}") {{ id name }} }}', token)
        assert body["data"] == {"node": None, "shop": None}, body
        assert sorted(codes(body)) == ["NOT_FOUND", "NOT_FOUND"], body


# --------------------------------------------------------------------------- filters as oracles
@pytest.mark.parametrize("role, purpose, flt, department", [
    ("family_doctor", "health_service", "{livingAlone: true}", "civil_affairs"),  # welfare denied
    ("committee_worker", None, "{isVeteran: true}", "veterans"),  # veteran records denied
    ("committee_worker", None, "{disabilityCategory: VISUAL}", "disability"),  # disability needs a purpose
    ("developer", None, "{hasDisability: true}", "disability"),  # disability denied outright
    ("subdistrict_officer", None, "{disabilityCategory: MENTAL}", "disability"),  # needs subsidy_review
])
def test_filter_on_a_field_the_role_cannot_read_in_full_is_refused(api, role, purpose, flt,  # type: ignore[no-untyped-def]
                                                                   department) -> None:
    token = api.token(role, purpose=purpose, user="张敏丽")
    q = f"{{ persons(first: 20, filter: {flt}) {{ totalCount edges {{ node {{ id }} }} }} }}"
    body, moved = calls_during(api, lambda: api.gql(q, token))
    assert body["data"] == {"persons": None}, body
    assert codes(body) == [UNAUTHORIZED], body
    assert body["errors"][0]["path"] == ["persons"]
    assert moved[department] == 0, moved  # the oracle question is never even asked


def test_place_filter_is_no_whereabouts_oracle(api) -> None:  # type: ignore[no-untyped-def]
    """A civil affairs officer without a whereabouts purpose sees neither the house nor the building code of a
    person; filtering persons by building must not tell them who lives there either."""
    token = api.token("civil_affairs_officer")
    engine = PolicyEngine(field_meta=field_meta())
    for coord in ("Person.jurisdictionCode", "Person.houseCode", "Person.house"):
        assert engine.decide(["civil_affairs_officer"], None, coord).effect == "deny"
    body = api.gql(f'{{ persons(first: 50, filter: {{building: "{C1}001013"}}) {{ totalCount edges {{ node {{ '
                   "name idNumber } } } }", token)
    assert body["data"]["persons"] is None and UNAUTHORIZED in codes(body), (
        "persons filtered by building reveal where named residents live", body["data"])


# --------------------------------------------------------------------------- aggregates
@pytest.mark.parametrize("root, department", [
    ('persons(first: 5) { edges { node { id gender } } }', "population"),
    ('houses(first: 5) { edges { node { id propertyType } } }', "housing"),
    ('shops(first: 5) { edges { node { id category } } }', "market"),
    ('node(id: "NODE") { id ... on Person { gender } }', "population"),
])
def test_district_analyst_gets_no_rows(api, root, department) -> None:  # type: ignore[no-untyped-def]
    if "NODE" in root:
        root = root.replace("NODE", person_ids(api, C1, 1)[0])
    token = api.token("district_analyst")
    body, moved = calls_during(api, lambda: api.gql(f"{{ {root} }}", token))
    assert body["data"][root.split("(")[0]] is None, body
    assert codes(body) == [UNAUTHORIZED], body
    assert moved[department] == 0, moved


def stats(api: Any, token: str, subject: str, group_by: Sequence[str], place: str | None = None) -> dict[str, Any]:
    flt = f", filter: {place}" if place else ""
    q = (f"{{ stats(subject: {subject}, groupBy: [{', '.join(group_by)}]{flt}) {{ k total suppressedCells cells {{ "
         "committee compound building ageBand gender livingAlone propertyType shopCategory count suppressed } } }")
    body = api.gql(q, token)
    assert "errors" not in body, body
    return body["data"]["stats"]  # type: ignore[no-any-return]


def test_stats_protects_small_cells(api) -> None:  # type: ignore[no-untyped-def]
    """Every released count is a multiple of k from the protected finest table, empty cells
    included (listed like any other), so neither a cell's presence nor its value tells 0 from 1..k-1."""
    token = api.token("district_analyst")
    s = stats(api, token, "PERSONS", ["BUILDING", "AGE_BAND", "GENDER", "LIVING_ALONE"])
    assert s["k"] == K
    assert s["suppressedCells"] == 0 and not any(c["suppressed"] for c in s["cells"])
    assert all(c["count"] is not None and c["count"] >= 0 and c["count"] % K == 0 for c in s["cells"])
    assert len(s["cells"]) == len({c["building"] for c in s["cells"]}) * 24
    assert s["total"] == sum(c["count"] for c in s["cells"])
    # every grouping and place filter: dense, protected, never suppressed
    for group_by, place in ((["BUILDING", "LIVING_ALONE"], f'{{committee: "{C1}"}}'), (["LIVING_ALONE"], None),
                            (["COMMITTEE", "AGE_BAND", "GENDER"], None), (["AGE_BAND"], f'{{building: "{C1}001011"}}')):
        s = stats(api, token, "PERSONS", group_by, place)
        for c in s["cells"]:
            assert not c["suppressed"] and c["count"] % K == 0, (group_by, place, c)
        assert len(s["cells"]) == len({tuple(c.values()) for c in s["cells"]}), (group_by, place)


def released(s: dict[str, Any], keys: Sequence[str]) -> dict[tuple[Any, ...], int]:
    out: dict[tuple[Any, ...], int] = {}
    for c in s["cells"]:
        if c["count"] is not None:
            k = tuple(c[x] for x in keys)
            out[k] = out.get(k, 0) + c["count"]
    return out


def assert_no_differencing(total: int, parts: Sequence[int], what: Any) -> None:
    """Released numbers over the same units are sums of the same protected finest cells: a
    difference is exactly 0, never a count of 1..k-1 (nor any other figure about true counts)."""
    diff = total - sum(parts)
    assert diff % K == 0 and diff == 0, (what, total, parts, diff)


@pytest.mark.parametrize("subject, dims", [
    ("PERSONS", ["AGE_BAND", "GENDER", "LIVING_ALONE"]),
    ("HOUSES", ["PROPERTY_TYPE"]),
    ("SHOPS", ["SHOP_CATEGORY"]),
])
def test_complementary_stats_never_difference_out_a_small_cell(api, subject, dims) -> None:  # type: ignore[no-untyped-def]
    token = api.token("district_analyst")
    field_of = {"COMMITTEE": "committee", "COMPOUND": "compound", "BUILDING": "building", "AGE_BAND": "ageBand",
                "GENDER": "gender", "LIVING_ALONE": "livingAlone", "PROPERTY_TYPE": "propertyType",
                "SHOP_CATEGORY": "shopCategory"}
    # coarse-to-fine groupings: every released total minus the sum of its released sub-cells is 0 or >= k
    for place in ("COMMITTEE", "COMPOUND", "BUILDING"):
        chain = [[place], *[[place, *dims[:i]] for i in range(1, len(dims) + 1)]]
        whole = stats(api, token, subject, [])
        by_place = stats(api, token, subject, [place])
        assert_no_differencing(whole["total"], list(released(by_place, ["committee" if place == "COMMITTEE" else
                                                                         field_of[place]]).values()), place)
        for coarse, fine in itertools.pairwise(chain):
            a = released(stats(api, token, subject, coarse), [field_of[d] for d in coarse])
            b = released(stats(api, token, subject, fine), [field_of[d] for d in fine])
            for key, n in a.items():
                assert_no_differencing(n, [m for k, m in b.items() if k[:len(key)] == key], (coarse, fine, key))
            # and each fine grouping summed over any single dimension
            for drop in range(1, len(fine)):
                kept = [field_of[d] for i, d in enumerate(fine) if i != drop]
                agg = released(stats(api, token, subject, [d for i, d in enumerate(fine) if i != drop]), kept)
                for key, n in agg.items():
                    parts = [m for k, m in b.items() if tuple(x for i, x in enumerate(k) if i != drop) == key]
                    assert_no_differencing(n, parts, (fine, drop, key))
    # place filters: a committee against its buildings, and against the whole
    whole = stats(api, token, subject, [])
    per_committee = []
    for c in COMMITTEES_WITH_DATA:
        sc = stats(api, token, subject, [], f'{{committee: "{c}"}}')
        per_committee.append(sc["total"])
        buildings = {k[0]: n for k, n in
                     released(stats(api, token, subject, ["BUILDING"], f'{{committee: "{c}"}}'), ["building"]).items()}
        per_building = [stats(api, token, subject, [], f'{{building: "{b}"}}')["total"] for b in buildings]
        assert_no_differencing(sc["total"], per_building, c)
        for b, n in buildings.items():
            for d in dims:
                fine = released(stats(api, token, subject, [d], f'{{building: "{b}"}}'), [field_of[d]])
                assert_no_differencing(n, list(fine.values()), (b, d))
    assert_no_differencing(whole["total"], per_committee, "subdistrict vs committees")


class MaskedDimensions:
    """The demo policy, except that the district analyst may see Welfare.livingAlone only masked and
    Person.gender not at all (a policy where grouping by them would be an oracle)."""

    def __init__(self) -> None:
        self.inner = PolicyEngine(field_meta=field_meta())
        self.version = self.inner.version

    def decide(self, roles: Sequence[str], purpose: str | None, coordinate: str) -> Any:
        d = self.inner.decide(roles, purpose, coordinate)
        if "district_analyst" in roles and coordinate == "Welfare.livingAlone":
            return type(d)("mask", "test: masked", "masked", "id_number")
        if "district_analyst" in roles and coordinate == "Person.gender":
            return type(d)("deny", "test: denied", "denied_by_rule")
        return d

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


MASKED_DIMENSIONS = MaskedDimensions()


@pytest.mark.parametrize("dim", ["LIVING_ALONE", "GENDER"])
def test_cannot_group_by_a_dimension_seen_only_masked_or_denied(make_api, dim) -> None:  # type: ignore[no-untyped-def]
    api = make_api(engine=MASKED_DIMENSIONS)
    token = api.token("district_analyst")
    body = api.gql(f"{{ stats(subject: PERSONS, groupBy: [COMMITTEE, {dim}]) {{ total cells {{ count }} }} }}", token)
    assert body["data"]["stats"] is None, body
    assert codes(body) == [UNAUTHORIZED], body
    ok = api.gql("{ stats(subject: PERSONS, groupBy: [COMMITTEE, AGE_BAND]) { total } }", token)
    assert "errors" not in ok and ok["data"]["stats"]["total"] > 0, ok


# --------------------------------------------------------------------------- health, modes, trace
def test_committee_worker_asking_for_health(api) -> None:  # type: ignore[no-untyped-def]
    """The "done when" scenario: 200 persons with idNumber, phone and health { familyDoctor }."""
    token = api.token("committee_worker", jurisdiction=C1)
    q = "{ persons(first: 200) { edges { node { jurisdictionCode idNumber phone health { familyDoctor } } } } }"
    body, moved = calls_during(api, lambda: api.gql(q, token))
    people = nodes(body)
    assert len(people) == 200
    assert all(MASKED_ID.fullmatch(p["idNumber"]) for p in people)
    assert all(p["health"] is None for p in people)
    assert all(p["jurisdictionCode"].startswith(C1) for p in people)
    assert body["errors"] == [{"message": "not authorized to read Person.health",
                               "path": ["persons", "edges", "@", "node", "health"],
                               "extensions": {"code": UNAUTHORIZED, "coordinate": "Person.health"}}], body["errors"]
    assert moved["health"] == 0 and moved["population"] > 0, moved


def test_reject_mode_refuses_the_whole_operation(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(auth_mode="reject")
    token = api.token("committee_worker", jurisdiction=C1)
    q = "{ persons(first: 5) { edges { node { name birthDate health { familyDoctor } h2: health { diabetes } } } } }"
    body, moved = calls_during(api, lambda: api.gql(q, token))
    assert body["data"] is None, body
    assert codes(body) == [UNAUTHORIZED], body
    ext = body["errors"][0]["extensions"]
    assert sorted(map(tuple, ext["paths"])) == sorted([
        ("persons", "edges", "@", "node", "birthDate"), ("persons", "edges", "@", "node", "health"),
        ("persons", "edges", "@", "node", "h2")]), ext
    assert not moved, moved  # no department is asked anything
    fine = api.gql("{ persons(first: 2) { edges { node { name } } } }", token)
    assert "errors" not in fine and len(nodes(fine)) == 2


def test_dry_run_returns_data_and_lists_would_be_denials(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(auth_mode="dry_run")
    token = api.token("committee_worker", jurisdiction=C1)
    body = api.gql("{ persons(first: 50) { edges { node { idNumber birthDate health { familyDoctor } } } } }", token)
    assert UNAUTHORIZED not in codes(body), body
    people = nodes(body)
    assert any(p["health"] is not None for p in people), "dry_run denies nothing"
    assert any(p["birthDate"] is not None for p in people)
    would = body["extensions"]["wouldDeny"]
    assert sorted((tuple(w["path"]), w["coordinate"]) for w in would) == [
        (("persons", "edges", "@", "node", "birthDate"), "Person.birthDate"),
        (("persons", "edges", "@", "node", "health"), "Person.health")], would


ROLES = ["committee_worker", "committee_secretary", "subdistrict_officer", "district_analyst", "civil_affairs_officer",
         "family_doctor", "inspector", "culture_staff", "auditor", "dept_admin", "developer"]


@pytest.mark.parametrize("role", ROLES)
def test_trace_only_for_the_developer(api, role) -> None:  # type: ignore[no-untyped-def]
    token = api.token(role)
    body = api.gql("{ committees(first: 2) { edges { node { name } } } persons(first: 2) { edges { node { id } } } }",
                   token, **{"X-Gateway-Trace": "1"})
    trace = (body.get("extensions") or {}).get("trace")
    if role == "developer":
        assert trace and trace["adapters"]["population"]["calls"] >= 1, body
    else:
        assert trace is None, body


# --------------------------------------------------------------------------- purpose and tokens
def test_unknown_purpose_header_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("{ persons(first: 1) { edges { node { id } } } }", api.token("committee_worker"),
                 headers={"X-Purpose": "curiosity"})
    assert r.status_code == 400 and codes(r.json()) == ["UNKNOWN_PURPOSE"], r.text
    assert "data" not in r.json() or r.json()["data"] is None


def test_purpose_header_must_match_the_token(api) -> None:  # type: ignore[no-untyped-def]
    token = api.token("committee_worker", purpose="resident_service")
    r = api.post("{ persons(first: 1) { edges { node { disability { category } } } } }", token,
                 headers={"X-Purpose": "elderly_care_visit"})
    assert r.status_code == 400 and codes(r.json()) == ["BAD_USER_INPUT"], r.text


def _forged(api: Any, **changes: Any) -> str:
    now = int(time.time())
    s = api.settings
    claims = {"sub": "mallory", "roles": ["developer"], "jurisdiction": SUBDISTRICT, "iss": s.jwt_issuer,
              "aud": s.jwt_audience, "iat": now, "exp": now + 600}
    secret = changes.pop("secret", s.jwt_secret)
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


def _alg_none(api: Any) -> str:
    now = int(time.time())
    s = api.settings

    def b64(d: Any) -> str:
        import json

        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return b64({"alg": "none", "typ": "JWT"}) + "." + b64(
        {"sub": "mallory", "roles": ["developer"], "jurisdiction": SUBDISTRICT, "iss": s.jwt_issuer,
         "aud": s.jwt_audience, "iat": now, "exp": now + 600}) + "."


@pytest.mark.parametrize("case", ["none", "not-bearer", "garbage", "other audience", "other issuer", "expired",
                                  "wrong key", "alg none", "no roles", "bad jurisdiction", "no expiry"])
def test_bad_tokens_get_401(api, case) -> None:  # type: ignore[no-untyped-def]
    headers: dict[str, str] = {}
    token: str | None = None
    if case == "not-bearer":
        headers["Authorization"] = "Basic dXNlcjpwYXNz"
    elif case == "garbage":
        token = "abc.def.ghi"
    elif case == "other audience":
        token = _forged(api, aud="another-service")
    elif case == "other issuer":
        token = _forged(api, iss="evil")
    elif case == "expired":
        token = _forged(api, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    elif case == "wrong key":
        token = _forged(api, secret="not-the-gateway-signing-key-at-all")
    elif case == "alg none":
        token = _alg_none(api)
    elif case == "no roles":
        token = _forged(api, roles=[])
    elif case == "bad jurisdiction":
        token = _forged(api, jurisdiction="31010700500x")
    elif case == "no expiry":
        token = _forged(api, exp=None)
    r = api.post("{ persons(first: 1) { edges { node { id name } } } }", token, headers=headers)
    assert r.status_code == 401, (case, r.status_code, r.text)
    body = r.json()
    assert codes(body) in (["INVALID_TOKEN"], ["UNAUTHENTICATED"]), body
    assert body.get("data") is None


# --------------------------------------------------------------------------- document tricks
def test_include_directive_with_a_variable(api) -> None:  # type: ignore[no-untyped-def]
    """@include(if: $var) is ordinary GraphQL; the authorizer must evaluate it as the executor does."""
    token = api.token("committee_worker", jurisdiction=C1)
    q = "query($b: Boolean!) { persons(first: 3) { edges { node { name health @include(if: $b) { familyDoctor } } } } }"
    body = api.gql(q, token, {"b": True})
    assert "INTERNAL_ERROR" not in codes(body), body
    assert unauthorized_paths(body) == [["persons", "edges", "@", "node", "health"]], body
    assert all(p["health"] is None for p in nodes(body))
    body = api.gql(q, token, {"b": False})
    assert codes(body) == [] and all("health" not in p for p in nodes(body)), body
    # a default value: the authorizer must see the same (coerced) value the executor uses
    q2 = "query($b: Boolean = true) { persons(first: 3) { edges { node { name health @include(if: $b) { diabetes } } } } }"
    body = api.gql(q2, token)
    assert unauthorized_paths(body) == [["persons", "edges", "@", "node", "health"]], body


def test_too_deep_or_too_many_aliases_is_400(api) -> None:  # type: ignore[no-untyped-def]
    token = api.token("committee_worker", jurisdiction=C1)
    deep = "{ persons(first: 1) { edges { node { " + "house { building { compound { committee { compounds { " \
           "buildings { houses { building { compound { committee { code } } } } } } } } } } } } } }"
    r = api.post(deep, token)
    assert r.status_code == 400 and codes(r.json()) == ["QUERY_TOO_COMPLEX"], r.text
    many = "{ persons(first: 1) { edges { node { " + " ".join(f"a{i}: idNumber" for i in range(100)) + " } } } }"
    r = api.post(many, token)
    assert r.status_code == 400 and codes(r.json()) == ["QUERY_TOO_COMPLEX"], r.text


def test_role_stacking_cannot_lift_a_guardrail(api) -> None:  # type: ignore[no-untyped-def]
    """An explicit deny from any role wins: analyst + worker still gets no rows, worker + doctor no health."""
    body = api.gql("{ persons(first: 3) { edges { node { id } } } }",
                   api.token(["district_analyst", "committee_worker"], jurisdiction=C1))
    assert body["data"]["persons"] is None and codes(body) == [UNAUTHORIZED], body
    body = api.gql("{ persons(first: 3) { edges { node { health { familyDoctor } } } } }",
                   api.token(["committee_worker", "family_doctor"], jurisdiction=C1, purpose="health_service",
                             user="张敏丽"))
    engine = PolicyEngine(field_meta=field_meta())
    eff = engine.decide(["committee_worker", "family_doctor"], "health_service", "Person.health").effect
    if eff != "allow":
        assert all(p["health"] is None for p in nodes(body)), body


def test_certificate_number_does_not_carry_the_unmasked_id_number(api) -> None:  # type: ignore[no-untyped-def]
    """A civil affairs officer sees ID numbers only masked; no other field may hand out the full number."""
    token = api.token("civil_affairs_officer", purpose="subsidy_review")
    engine = PolicyEngine(field_meta=field_meta())
    assert engine.decide(["civil_affairs_officer"], "subsidy_review", "Person.idNumber").effect == "mask"
    body = api.gql("{ persons(first: 50, filter: {hasDisability: true}) { edges { node { idNumber "
                   "disability { idNumber certificateNumber } } } } }", token)
    assert "errors" not in body, body
    people = nodes(body)
    assert people
    leaks = [s for s in strings(body["data"]) if RAW_ID.search(s)]
    assert not leaks, f"unmasked ID numbers inside other fields: {leaks[:5]}"


def test_directive_variables_cannot_smuggle_a_denied_field(api) -> None:  # type: ignore[no-untyped-def]
    """@include/@skip driven by variables (and defaults) are evaluated as the executor does."""
    worker = api.token("committee_worker", jurisdiction="310107005003")
    q = """query($b: Boolean!, $s: Boolean = false) { persons(first: 5) { edges { node {
             name health @include(if: $b) { familyDoctor } idNumber @skip(if: $s) } } } }"""
    body = api.gql(q, worker, {"b": True})
    nodes = [e["node"] for e in body["data"]["persons"]["edges"]]
    assert nodes and all(n["health"] is None for n in nodes)
    assert all(re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", n["idNumber"]) for n in nodes if n["idNumber"])
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    skipped = api.gql(q, worker, {"b": False})
    assert "errors" not in skipped and all("health" not in e["node"] for e in skipped["data"]["persons"]["edges"])
