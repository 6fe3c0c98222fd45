"""Mutations through a real gateway on its own copy of the demo data: the committees' records written
into their SQLite file, read back through Person.visits and House.statusHistory, once per idempotency
key, refused with stable codes (no grant, another committee, bad input, the department down) and
never half-written."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Api, codes

MINE, OTHER = "310107005003", "310107005002"  # the test data (3,000 residents) fills committees 001-003
VISIT = """mutation($p: ID!, $d: Date!, $k: VisitKind!, $n: String!, $f: Boolean!, $i: String) {
  recordVisit(personId: $p, date: $d, kind: $k, note: $n, followUp: $f, idempotencyKey: $i) {
    visitId idNumber date kind note followUp worker } }"""
STATUS = """mutation($h: ID!, $s: HouseStatus!, $i: String) {
  setHouseStatus(houseId: $h, status: $s, idempotencyKey: $i) { recordId addressCode status since worker } }"""


@pytest.fixture(scope="module")
def gw(make_api: Callable[..., Api], services: dict[str, str]) -> Api:
    return make_api(env=services)


def visits(data: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data / "committee_records.db") as c:
        return c.execute("SELECT id, sfzh, jwh, zfrq, zflx, qk, xygz, zfr, qqh FROM visit_record WHERE qqh IS NOT NULL "
                         "ORDER BY id").fetchall()


def first_person(api: Api, committee: str) -> dict[str, Any]:
    body = api.gql("{ persons(first: 1) { edges { node { id idNumber } } } }",
                   api.token("committee_secretary", jurisdiction=committee))
    return body["data"]["persons"]["edges"][0]["node"]  # type: ignore[no-any-return]


def first_house(api: Api, committee: str) -> dict[str, Any]:
    body = api.gql("{ houses(first: 1) { edges { node { id addressCode } } } }", api.token("committee_worker", jurisdiction=committee))
    return body["data"]["houses"]["edges"][0]["node"]  # type: ignore[no-any-return]


def args(person: str, **over: Any) -> dict[str, Any]:
    return {"p": person, "d": dt.date.today().isoformat(), "k": "HOME", "n": "在家，身体尚好", "f": False,
            "i": uuid.uuid4().hex, **over}


def audited(api: Api, marker: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The audit record of the request whose write has the key ``marker`` (the store writes in batches)."""
    path = api.settings.audit_url.split("///", 1)[1]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(path) as c:
            for (body,) in c.execute("SELECT body FROM audit_records ORDER BY position DESC LIMIT 50"):
                rec = json.loads(body)
                if any(str(w.get("key")) == marker for w in rec.get("writes") or ()):
                    return rec  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"no audit record of write {marker}")


def test_a_worker_records_a_visit_of_their_committee(gw: Api, data: Path) -> None:
    person = first_person(gw, MINE)
    worker = gw.token("committee_worker", jurisdiction=MINE, user="w00301")
    body = gw.gql(VISIT, worker, args(person["id"], n="水电费已代为缴纳", f=True))
    assert codes(body) == []
    got = body["data"]["recordVisit"]
    assert got["idNumber"] != person["idNumber"] and got["idNumber"].endswith(person["idNumber"][-4:])  # masked
    assert {k: got[k] for k in ("date", "kind", "note", "followUp", "worker")} == {
        "date": dt.date.today().isoformat(), "kind": "HOME", "note": "水电费已代为缴纳", "followUp": True,
        "worker": "w00301"}
    [row] = [r for r in visits(data) if str(r[0]) == got["visitId"]]
    assert row[1:8] == (person["idNumber"], MINE, dt.date.today().isoformat(), "上门", "水电费已代为缴纳", 1, "w00301")
    read = gw.gql('query($id: ID!) { node(id: $id) { ... on Person { visits { visitId date } } } }', worker,
                  {"id": person["id"]})
    listed = read["data"]["node"]["visits"]
    assert listed[0]["visitId"] == got["visitId"]  # newest first
    assert [v["date"] for v in listed] == sorted((v["date"] for v in listed), reverse=True)
    rec = audited(gw, got["visitId"])
    assert rec["user"] == "w00301" and rec["writes"] == [
        {"department": "committee_records", "type": "Visit", "key": got["visitId"]}]
    assert len(rec["subjects"]) == 1  # the resident written about, as a keyed hash


def test_a_retried_visit_is_written_once(gw: Api, data: Path) -> None:
    person = first_person(gw, MINE)
    worker = gw.token("committee_worker", jurisdiction=MINE)
    a = args(person["id"])
    first, again = gw.gql(VISIT, worker, a), gw.gql(VISIT, worker, a)
    assert codes(first) == codes(again) == [] and first["data"] == again["data"]
    other_user = gw.gql(VISIT, gw.token("committee_worker", jurisdiction=MINE, user="someone-else"), a)
    assert other_user["data"]["recordVisit"]["visitId"] != first["data"]["recordVisit"]["visitId"]  # keys are per user
    before = len(visits(data))
    reused = gw.gql(VISIT, worker, {**a, "n": "another note"})
    assert codes(reused) == ["IDEMPOTENCY_KEY_REUSED"] and reused["data"]["recordVisit"] is None
    assert len(visits(data)) == before


def test_a_visit_to_a_resident_of_another_committee_is_refused_unwritten(gw: Api, data: Path) -> None:
    foreign = first_person(gw, OTHER)
    before = visits(data)
    body = gw.gql(VISIT, gw.token("committee_worker", jurisdiction=MINE), args(foreign["id"]))
    assert codes(body) == ["NOT_FOUND"] and body["data"]["recordVisit"] is None
    assert visits(data) == before


@pytest.mark.parametrize("role", ["developer", "subdistrict_officer", "district_analyst", "inspector"])
def test_a_role_without_the_write_grant_cannot_record(gw: Api, data: Path, role: str) -> None:
    person = first_person(gw, MINE)
    before = visits(data)
    body = gw.gql(VISIT, gw.token(role, jurisdiction=MINE), args(person["id"]))
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(body) and (body.get("data") or {}).get("recordVisit") is None
    assert visits(data) == before


@pytest.mark.parametrize(("over", "argument"), [
    ({"n": "   "}, "note"), ({"n": "x" * 1001}, "note"), ({"n": "bell\x07"}, "note"),
    ({"d": (dt.date.today() + dt.timedelta(days=1)).isoformat()}, "date"),
    ({"d": (dt.date.today() - dt.timedelta(days=400)).isoformat()}, "date"),
    ({"i": "spaces are not a key"}, "idempotencyKey"), ({"i": "k" * 129}, "idempotencyKey"),
])
def test_bad_input_is_refused_by_argument_and_nothing_is_written(gw: Api, data: Path, over: dict[str, Any],
                                                                 argument: str) -> None:
    person = first_person(gw, MINE)
    before = visits(data)
    body = gw.gql(VISIT, gw.token("committee_worker", jurisdiction=MINE), args(person["id"], **over))
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["argument"] == argument
    assert visits(data) == before


@pytest.mark.parametrize("bad", [{"k": "VISITED"}, {"d": "yesterday"}, {"p": None}])
def test_malformed_variables_never_reach_the_resolver(gw: Api, data: Path, bad: dict[str, Any]) -> None:
    before = visits(data)
    r = gw.post(VISIT, gw.token("committee_worker", jurisdiction=MINE), args(first_person(gw, MINE)["id"], **bad))
    assert r.status_code in (200, 400) and codes(r.json()) and visits(data) == before


def test_a_forged_or_foreign_type_id_is_not_found(gw: Api, data: Path) -> None:
    house = first_house(gw, MINE)
    worker = gw.token("committee_worker", jurisdiction=MINE)
    for pid in (house["id"], "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", gw.gateway.ids.encode("Person", "310107190001010000")):
        body = gw.gql(VISIT, worker, args(pid))
        assert codes(body) == ["NOT_FOUND"], pid


def test_house_status_is_recorded_and_read_newest_first(gw: Api, data: Path) -> None:
    house = first_house(gw, MINE)
    worker = gw.token("committee_worker", jurisdiction=MINE, user="w00302")
    body = gw.gql(STATUS, worker, {"h": house["id"], "s": "VACANT", "i": uuid.uuid4().hex})
    assert codes(body) == []
    got = body["data"]["setHouseStatus"]
    assert got["addressCode"] == house["addressCode"] and got["status"] == "VACANT" and got["worker"] == "w00302"
    with sqlite3.connect(data / "committee_records.db") as c:
        assert c.execute("SELECT fwbm, jwh, zt, ksrq FROM house_status WHERE id = ?", (got["recordId"],)).fetchone() == (
            house["addressCode"], MINE, "空置", dt.date.today().isoformat())
    read = gw.gql('query($id: ID!) { node(id: $id) { ... on House { statusHistory { recordId status } } } }', worker,
                  {"id": house["id"]})
    assert read["data"]["node"]["statusHistory"][0] == {"recordId": got["recordId"], "status": "VACANT"}
    foreign = first_house(gw, OTHER)
    assert codes(gw.gql(STATUS, worker, {"h": foreign["id"], "s": "VACANT"})) == ["NOT_FOUND"]


def test_a_department_that_is_down_loses_nothing(make_api: Callable[..., Api], data: Path, services: dict[str, str],
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    broken = tmp_path_factory.mktemp("down") / "demo"
    shutil.copytree(data, broken)
    (broken / "committee_records.db").unlink()
    (broken / "committee_records.db").mkdir()  # a path SQLite cannot open as a database
    api = make_api(env={**services, "GATEWAY_DEMO_DIR": str(broken)})
    person = first_person(api, MINE)
    body = api.gql(VISIT, api.token("committee_worker", jurisdiction=MINE), args(person["id"]))
    assert codes(body) == ["DEPARTMENT_UNAVAILABLE"] and body["data"]["recordVisit"] is None
    assert body["errors"][0]["extensions"]["department"] == "committee_records"


def test_the_write_grant_is_what_explain_and_the_matrix_show() -> None:
    from gateway.settings import load_settings
    from policies.engine import PolicyEngine
    from policies.matrix import cell

    engine = PolicyEngine(load_settings(env={}).policy_dir)
    for role, word in (("committee_worker", "allow"), ("committee_secretary", "allow"), ("developer", "no grant"),
                       ("subdistrict_officer", "no grant")):
        for m in ("Mutation.recordVisit", "Mutation.setHouseStatus"):
            assert str(cell(engine, role, m).label) == word, (role, m)
            assert (engine.explain(role, None, m).effect.value == "allow") is (word == "allow")
    # a read grant is not a write grant: the secretary reads Visit.* but writes only what records.csv says
    assert engine.decide_write(["committee_secretary"], "Mutation.noSuchMutation").effect.value != "allow"


INSPECT = """mutation($s: ID!, $d: InspectingDepartment!, $r: InspectionResult!, $f: String!, $i: String) {
  recordInspection(shopId: $s, department: $d, result: $r, findings: $f, idempotencyKey: $i) {
    inspectionId creditCode date result department findings inspector } }"""
REPORT = """mutation($s: ID!, $c: String!, $t: String!, $i: String) {
  reportShop(shopId: $s, category: $c, text: $t, idempotencyKey: $i) { caseNumber category status } }"""
REGISTER = """mutation($e: ID!, $p: ID!, $i: String) {
  registerForEvent(eventId: $e, personId: $p, idempotencyKey: $i) { registrationId eventId attended } }"""


def first_shop(api: Api, committee: str) -> dict[str, Any]:
    body = api.gql("{ shops(first: 1) { edges { node { id creditCode } } } }", api.token("inspector", jurisdiction=committee))
    return body["data"]["shops"]["edges"][0]["node"]  # type: ignore[no-any-return]


def rows_of(data: Path, db: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data / db) as c:
        return c.execute(sql, args).fetchall()


def test_inspectors_of_the_four_departments_record_inspections(gw: Api, data: Path) -> None:
    shop = first_shop(gw, MINE)
    tok = gw.token("inspector", jurisdiction=MINE, user="fire-07")
    got = []
    for dept in ("CITY_MANAGEMENT", "FIRE", "MARKET", "GREENING"):
        body = gw.gql(INSPECT, tok, {"s": shop["id"], "d": dept, "r": "FAIL", "f": f"{dept}: 灭火器过期",
                                     "i": uuid.uuid4().hex})
        assert codes(body) == [], body
        got.append(body["data"]["recordInspection"])
    assert [g["department"] for g in got] == ["CITY_MANAGEMENT", "FIRE", "MARKET", "GREENING"]
    assert all(g["creditCode"] == shop["creditCode"] and g["inspector"] == "fire-07" for g in got)
    stored = rows_of(data, "city_management.db", "SELECT dept, result, remark FROM inspection WHERE request_key "
                     "IS NOT NULL ORDER BY inspectionId DESC LIMIT 4")
    assert sorted(r[0] for r in stored) == sorted(["城管", "消防", "市场监管", "绿化市容"]) and {r[1] for r in stored} == {"不合格"}
    read = gw.gql('query($id: ID!) { node(id: $id) { ... on Shop { inspections { inspectionId } } } }', tok,
                  {"id": shop["id"]})
    assert {g["inspectionId"] for g in got} <= {i["inspectionId"] for i in read["data"]["node"]["inspections"]}


def test_a_resident_s_report_reaches_the_hotline_once(gw: Api, data: Path) -> None:
    shop = first_shop(gw, MINE)
    tok = gw.token("resident", jurisdiction=MINE, user="resident-1")
    a = {"s": shop["id"], "c": "油烟污染", "t": "店铺油烟直排，影响居民", "i": uuid.uuid4().hex}
    first, again = gw.gql(REPORT, tok, a), gw.gql(REPORT, tok, a)
    assert codes(first) == [] and first == again
    case = first["data"]["reportShop"]
    assert case["status"] == "OPEN" and case["category"] == "油烟污染" and case["caseNumber"]
    stored = rows_of(data, "hotline.db", "SELECT category, summary, credit_code, status FROM complaint WHERE case_no = ?",
                     case["caseNumber"])
    assert stored == [("油烟污染", "店铺油烟直排，影响居民", shop["creditCode"], "0")]
    assert codes(gw.gql(REPORT, tok, {**a, "t": "另一件事"})) == ["IDEMPOTENCY_KEY_REUSED"]
    assert codes(gw.gql(REPORT, tok, {**a, "i": None, "t": " "})) == ["BAD_USER_INPUT"]


def test_registration_respects_capacity_and_holds_one_seat_each(gw: Api, data: Path) -> None:
    staff = gw.token("culture_staff", jurisdiction=MINE)
    events = gw.gql("{ events(first: 100) { edges { node { id eventId capacity registrations { eventId } } } } }",
                    staff)["data"]["events"]["edges"]
    event = min((e["node"] for e in events), key=lambda n: (n["capacity"] or 0) - len(n["registrations"] or ()))
    free = (event["capacity"] or 0) - len(event["registrations"] or ())
    people = gw.gql("{ persons(first: 200) { edges { node { id } } } }", gw.token("committee_secretary", jurisdiction=MINE))
    ids = [e["node"]["id"] for e in people["data"]["persons"]["edges"]]
    taken = 0
    for pid in ids[:free]:
        body = gw.gql(REGISTER, staff, {"e": event["id"], "p": pid, "i": uuid.uuid4().hex})
        if codes(body) == ["ALREADY_REGISTERED"]:
            continue
        assert codes(body) == [], body
        taken += 1
    before = rows_of(data, "culture.db", "SELECT count(*) FROM registration WHERE eventId = ?", event["eventId"])
    full = gw.gql(REGISTER, staff, {"e": event["id"], "p": ids[free + 1], "i": uuid.uuid4().hex})
    assert codes(full) == ["EVENT_FULL"] and full["data"]["registerForEvent"] is None
    again = gw.gql(REGISTER, staff, {"e": event["id"], "p": ids[0], "i": uuid.uuid4().hex})
    assert codes(again) in (["ALREADY_REGISTERED"], ["EVENT_FULL"])
    assert rows_of(data, "culture.db", "SELECT count(*) FROM registration WHERE eventId = ?", event["eventId"]) == before


@pytest.mark.parametrize(("mutation", "role"), [("recordInspection", "committee_worker"), ("reportShop", "developer"),
                                                ("registerForEvent", "inspector")])
def test_no_grant_no_write(gw: Api, mutation: str, role: str) -> None:
    shop = first_shop(gw, MINE)
    tok = gw.token(role, jurisdiction=MINE)
    query, variables = {
        "recordInspection": (INSPECT, {"s": shop["id"], "d": "FIRE", "r": "PASS", "f": "ok"}),
        "reportShop": (REPORT, {"s": shop["id"], "c": "其他", "t": "x"}),
        "registerForEvent": (REGISTER, {"e": shop["id"], "p": shop["id"]}),
    }[mutation]
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(gw.gql(query, tok, variables))


def test_a_shop_of_another_committee_is_not_found(gw: Api, data: Path) -> None:
    shops = gw.gql("{ shops(first: 500) { edges { node { id jurisdictionCode } } } }", gw.token("inspector"))
    foreign = next(e["node"] for e in shops["data"]["shops"]["edges"] if not e["node"]["jurisdictionCode"].startswith(MINE))
    before = rows_of(data, "city_management.db", "SELECT count(*) FROM inspection")
    tok = gw.token("inspector", jurisdiction=MINE)
    assert codes(gw.gql(INSPECT, tok, {"s": foreign["id"], "d": "FIRE", "r": "PASS", "f": "ok"})) == ["NOT_FOUND"]
    assert rows_of(data, "city_management.db", "SELECT count(*) FROM inspection") == before


def closed_port() -> str:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once it is closed


@pytest.mark.parametrize(("mutation", "down"), [("recordInspection", "CITY_MANAGEMENT_URL"),
                                                ("reportShop", "HOTLINE_URL"), ("registerForEvent", "CULTURE_URL")])
def test_a_department_that_is_down_is_unavailable_and_writes_nothing(gw: Api, make_api: Callable[..., Api],
                                                                   services: dict[str, str], mutation: str,
                                                                   down: str) -> None:
    shop, person = first_shop(gw, MINE), first_person(gw, MINE)
    events = gw.gql("{ events(first: 1) { edges { node { id } } } }", gw.token("culture_staff", jurisdiction=MINE))
    event = events["data"]["events"]["edges"][0]["node"]["id"]
    api = make_api(env={**services, down: closed_port()})
    role, query, variables = {
        "recordInspection": ("inspector", INSPECT, {"s": shop["id"], "d": "FIRE", "r": "PASS", "f": "ok"}),
        "reportShop": ("resident", REPORT, {"s": shop["id"], "c": "其他", "t": "门口堆物"}),
        "registerForEvent": ("culture_staff", REGISTER, {"e": event, "p": person["id"]}),
    }[mutation]
    body = api.gql(query, api.token(role, jurisdiction=MINE), variables)
    assert codes(body) == ["DEPARTMENT_UNAVAILABLE"] and body["data"][mutation] is None


@pytest.mark.parametrize(("query", "variables", "argument"), [
    (INSPECT, {"d": "FIRE", "r": "PASS", "f": "  "}, "findings"),
    (INSPECT, {"d": "FIRE", "r": "PASS", "f": "ok", "i": "no spaces"}, "idempotencyKey"),
    (REPORT, {"c": "", "t": "x"}, "category"),
    (REPORT, {"c": "其他", "t": "x" * 1001}, "text"),
])
def test_bad_shop_input_is_refused_by_argument(gw: Api, query: str, variables: dict[str, Any], argument: str) -> None:
    shop = first_shop(gw, MINE)
    role = "inspector" if query is INSPECT else "resident"
    body = gw.gql(query, gw.token(role, jurisdiction=MINE), {"s": shop["id"], **variables})
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["argument"] == argument


FILE = """query($id: ID!) { node(id: $id) { ... on Shop { grade licenceNumber licenceExpiry
  inspections { result date } fireChecks { result date } violations { status date } complaints { receivedAt }
  appearance { shopFrontCompliant wasteSortingCompliant } } } }"""


def documented_points(shop: dict[str, Any], today: dt.date) -> int:
    """docs/shop-grade.md, written out again here: the test does not trust the code it checks."""
    since = (today - dt.timedelta(days=365)).isoformat()

    def recent(d: str | None) -> bool:
        return d is None or d >= since
    p = 100
    p -= 15 * sum(1 for i in shop["inspections"] or () if i["result"] == "FAIL" and recent(i["date"]))
    p -= 15 * sum(1 for i in shop["fireChecks"] or () if i["result"] == "HAZARD" and recent(i["date"]))
    p -= sum(20 if v["status"] == "OPEN" else 5 if recent(v["date"]) else 0 for v in shop["violations"] or ())
    p -= 5 * sum(1 for c in shop["complaints"] or () if recent(c["receivedAt"]))
    look = shop["appearance"]
    if look and (look["shopFrontCompliant"] is False or look["wasteSortingCompliant"] is False):
        p -= 10
    if not shop["licenceNumber"] or (shop["licenceExpiry"] and shop["licenceExpiry"] < today.isoformat()):
        p -= 30
    return p


def letter(points: int) -> str:
    return "A" if points >= 90 else "B" if points >= 75 else "C" if points >= 60 else "D"


def test_the_grade_is_the_documented_formula_and_falls_with_failed_inspections(gw: Api) -> None:
    tok = gw.token("inspector")
    shops = gw.gql("{ shops(first: 500) { edges { node { id grade } } } }", tok)["data"]["shops"]["edges"]
    today = dt.date.today()
    for e in shops[:60]:
        f = gw.gql(FILE, tok, {"id": e["node"]["id"]})["data"]["node"]
        assert f["grade"] == letter(documented_points(f, today)) == e["node"]["grade"], f
    best = next(e["node"] for e in shops if e["node"]["grade"] == "A")
    before = documented_points(gw.gql(FILE, tok, {"id": best["id"]})["data"]["node"], today)
    for dept in ("FIRE", "MARKET"):
        assert codes(gw.gql(INSPECT, tok, {"s": best["id"], "d": dept, "r": "FAIL", "f": "整改", "i": uuid.uuid4().hex})) == []
    after = gw.gql(FILE, tok, {"id": best["id"]})["data"]["node"]
    assert documented_points(after, today) == before - 30 and after["grade"] == letter(before - 30)


def test_shops_filtered_by_grade_are_those_of_that_grade(make_api: Callable[..., Api], services: dict[str, str]) -> None:
    api = make_api(env=services, keyset_cache_s=0)  # nothing kept: the grades as they are now
    tok = api.token("inspector")
    every = api.gql("{ shops(first: 1000) { totalCount edges { node { creditCode grade } } } }", tok)["data"]["shops"]
    assert every["totalCount"] == len(every["edges"])
    for g in ("A", "B", "C", "D"):
        body = api.gql('query($g: ShopGrade) { shops(first: 1000, filter: {grade: $g}) { totalCount edges { node { creditCode grade } } } }',
                       tok, {"g": g})
        got = body["data"]["shops"]
        assert {n["node"]["creditCode"] for n in got["edges"]} == {
            n["node"]["creditCode"] for n in every["edges"] if n["node"]["grade"] == g}
        assert got["totalCount"] == len(got["edges"]) and all(n["node"]["grade"] == g for n in got["edges"])


def test_a_role_without_the_shop_file_cannot_filter_by_grade(gw: Api) -> None:
    body = gw.gql("{ shops(first: 5, filter: {grade: D}) { totalCount } }", gw.token("culture_staff"))
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(body)


def test_grade_boundaries() -> None:
    from resolvers.shop_grade import grade_of, points

    assert [grade_of(p) for p in (100, 90, 89, 75, 74, 60, 59, -40)] == ["A", "A", "B", "B", "C", "C", "D", "D"]
    today = dt.date(2026, 11, 24)
    shop = {"licenceNumber": "L1", "licenceExpiry": dt.date(2027, 1, 1)}
    old = {"result": "FAIL", "date": dt.date(2025, 11, 23)}  # 366 days before: outside the window
    assert points(shop, {"inspections": [old, {**old, "date": dt.date(2025, 11, 24)}]}, today) == 85
    assert points({**shop, "licenceExpiry": dt.date(2026, 11, 23)}, {}, today) == 70
    assert points(shop, {"appearance": {"shopFrontCompliant": True, "wasteSortingCompliant": False}}, today) == 90


def test_house_status_refuses_bad_input_a_caller_without_the_grant_and_a_department_down(
        gw: Api, make_api: Callable[..., Api], data: Path, services: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    house = first_house(gw, MINE)
    worker = gw.token("committee_worker", jurisdiction=MINE)
    with sqlite3.connect(data / "committee_records.db") as c:
        before = c.execute("SELECT count(*) FROM house_status").fetchone()[0]
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    bad = gw.gql('mutation($h: ID!, $d: Date) { setHouseStatus(houseId: $h, status: VACANT, since: $d) { recordId } }',
                 worker, {"h": house["id"], "d": tomorrow})
    assert codes(bad) == ["BAD_USER_INPUT"] and bad["errors"][0]["extensions"]["argument"] == "since"
    assert codes(gw.gql(STATUS, worker, {"h": house["id"], "s": "VACANT", "i": "not a key"})) == ["BAD_USER_INPUT"]
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in codes(gw.gql(STATUS, gw.token("developer", jurisdiction=MINE),
                                                        {"h": house["id"], "s": "VACANT"}))
    with sqlite3.connect(data / "committee_records.db") as c:
        assert c.execute("SELECT count(*) FROM house_status").fetchone()[0] == before
    down = tmp_path_factory.mktemp("down-status") / "demo"
    shutil.copytree(data, down)
    (down / "committee_records.db").unlink()
    (down / "committee_records.db").mkdir()
    api = make_api(env={**services, "GATEWAY_DEMO_DIR": str(down)})
    body = api.gql(STATUS, api.token("committee_worker", jurisdiction=MINE), {"h": house["id"], "s": "VACANT"})
    assert codes(body) == ["DEPARTMENT_UNAVAILABLE"] and body["data"]["setHouseStatus"] is None


def test_registration_refuses_bad_input(gw: Api) -> None:
    staff = gw.token("culture_staff", jurisdiction=MINE)
    event = gw.gql("{ events(first: 1) { edges { node { id } } } }", staff)["data"]["events"]["edges"][0]["node"]["id"]
    person = first_person(gw, MINE)["id"]
    assert codes(gw.gql(REGISTER, staff, {"e": event, "p": person, "i": "k" * 129})) == ["BAD_USER_INPUT"]
    assert codes(gw.gql(REGISTER, staff, {"e": person, "p": event})) == ["NOT_FOUND"]  # ids of the wrong types
