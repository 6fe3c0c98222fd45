"""The auditor's questions: who read this resident (`gateway audit subject`, ``accessesOf``), records by
user, field and outcome (`gateway audit query`, ``auditLog``), unusual volumes (`gateway audit summary`);
all of them only for roles holding Gateway.audit."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies.engine import PolicyEngine
from schema.build import field_meta
from tests.gateway.audit_support import audit_gateway, audit_settings, cli, cli_env, drained
from tests.helpers import ROOT, SUBDISTRICT, Api, codes

DOCTOR = "张敏丽"  # a family doctor of the demo data
WORKER = "worker-li"


@pytest.fixture(scope="module")
def resident(demo_dir: Path) -> tuple[str, str]:
    """(ID number, committee code) of a resident contracted to DOCTOR."""
    with sqlite3.connect(demo_dir / "health.db") as h, sqlite3.connect(demo_dir / "population.db") as p:
        for (idn,) in h.execute("SELECT idCard FROM health_record WHERE doctorName = ? ORDER BY idCard", (DOCTOR,)):
            row = p.execute("SELECT jzdm FROM rk_jbxx WHERE sfzh = ? COLLATE NOCASE", (idn,)).fetchone()
            if row and row[0] and row[0].startswith(SUBDISTRICT):
                return str(idn).upper(), str(row[0])[:12]
    raise AssertionError("no contracted resident in the demo data")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return audit_settings(tmp_path_factory.mktemp("auditor"))


@pytest.fixture(scope="module")
def api(demo_env: dict[str, str], store: dict[str, Any], resident: tuple[str, str]) -> Iterator[Api]:
    idn, committee = resident
    with audit_gateway(demo_env, **store) as a:
        pid = a.gateway.ids.encode("Person", idn)
        worker = a.token("committee_worker", jurisdiction=committee, purpose="elderly_care_visit", user=WORKER)
        doctor = a.token("family_doctor", purpose="health_service", user=DOCTOR)
        one = "query($id: ID!) { person(id: $id) { %s } }"
        for tok, fields in ((worker, "name idNumber phone"), (doctor, "health { diabetes familyDoctor }")):
            body = a.gql(one % fields, tok, {"id": pid})
            assert codes(body) == [] and body["data"]["person"], body
        many = a.gql("{ persons(first: 30) { edges { node { name } } } }", worker)  # a busy day for the worker
        assert len(many["data"]["persons"]["edges"]) == 30
        a.gql("{ persons(first: 5) { edges { node { gender } } } }", a.token("developer", user="dev-1"))
        drained(a)
        yield a


def test_subject_command_lists_the_worker_and_the_doctor(api: Api, store: dict[str, Any],
                                                         resident: tuple[str, str]) -> None:
    p = cli("audit", "subject", "--id-number", resident[0], "--json", env=cli_env(store))
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    fields: dict[str, set[str]] = {}
    purposes: dict[str, set[str]] = {}
    for r in rows:  # the worker read the resident twice: alone, then in a page of 30
        fields.setdefault(r["user"], set()).update(r["fields"])
        purposes.setdefault(r["user"], set()).add(r["purpose"])
    assert purposes == {WORKER: {"elderly_care_visit"}, DOCTOR: {"health_service"}}
    assert {"Person.name", "Person.idNumber", "Person.phone"} <= fields[WORKER]
    assert {"Person.health", "HealthRecord.diabetes"} <= fields[DOCTOR]
    text = cli("audit", "subject", "--id-number", resident[0].lower(), env=cli_env(store))  # x or X: one person
    assert text.returncode == 0 and WORKER in text.stdout and DOCTOR in text.stdout and "health_service" in text.stdout
    assert resident[0] not in text.stdout  # the answer names readers, never the person's number
    assert {s for r in rows for s in r["standing_purposes"] if r["user"] == WORKER} == {"resident_service"}


def test_accesses_of_in_graphql_for_auditors_only(api: Api, resident: tuple[str, str]) -> None:
    q = "query($n: String!) { accessesOf(idNumber: $n) { user purpose fields at requestId } }"
    body = api.gql(q, api.token("auditor", user="aud-1"), {"n": resident[0]})
    assert codes(body) == []
    assert {(r["user"], r["purpose"]) for r in body["data"]["accessesOf"]} == {(WORKER, "elderly_care_visit"),
                                                                               (DOCTOR, "health_service")}
    denied = api.gql(q, api.token("developer"), {"n": resident[0]})
    assert codes(denied) == ["UNAUTHORIZED_FIELD_OR_TYPE"] and denied["data"]["accessesOf"] is None


def test_audit_log_filters_and_pages(api: Api) -> None:
    tok = api.token("auditor", user="aud-2")
    q = """query($f: AuditFilter, $a: String) { auditLog(filter: $f, first: 1, after: $a) {
        pageInfo { hasNextPage endCursor } edges { node { position user outcome purpose subjectCount
        coordinates { coordinate decision } rowsByType { type rows } departments requestId client operation } } } }"""
    f = {"user": WORKER, "field": "Person.idNumber", "outcome": "ok"}
    first = api.gql(q, tok, {"f": f})["data"]["auditLog"]
    node = first["edges"][0]["node"]
    assert node["user"] == WORKER and node["outcome"] == "ok" and node["subjectCount"] == 1
    assert {"coordinate": "Person.idNumber", "decision": "masked"} in node["coordinates"]
    assert node["rowsByType"] == [{"type": "Person", "rows": 1}] and node["departments"] == ["population"]
    assert node["requestId"] and node["client"] == "127.0.0.1" and len(node["operation"]) == 64
    assert first["pageInfo"]["hasNextPage"] is False  # the worker asked for idNumber once
    mine = api.gql(q, tok, {"f": {"user": WORKER}})["data"]["auditLog"]
    after = api.gql(q, tok, {"f": {"user": WORKER}, "a": mine["pageInfo"]["endCursor"]})["data"]["auditLog"]
    assert mine["pageInfo"]["hasNextPage"] and after["edges"][0]["node"]["position"] < mine["edges"][0]["node"]["position"]


def test_query_and_summary_commands(api: Api, store: dict[str, Any]) -> None:
    p = cli("audit", "query", "--user", WORKER, "--field", "Person.idNumber", "--outcome", "ok", "--since", "1h",
            "--json", env=cli_env(store))
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert len(rows) == 1 and rows[0]["user"] == WORKER and rows[0]["coordinates"]["Person.idNumber"] == "masked"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    s = cli("audit", "summary", "--day", today, "--json", env=cli_env(store))
    assert s.returncode == 0, s.stderr
    summary = {r["user"]: r for r in json.loads(s.stdout)}
    assert summary[WORKER]["subjects"] >= 30 and summary[WORKER]["unusual"] is True  # > 20 against a median of 0
    assert summary[DOCTOR]["subjects"] == 1 and summary[DOCTOR]["unusual"] is False
    assert summary["dev-1"]["subjects"] == 0  # genders only: nobody's identity left the gateway
    bad = cli("audit", "query", "--since", "yesterday-ish", env=cli_env(store))
    assert bad.returncode == 2 and "BAD_USER_INPUT" in bad.stderr


def test_the_field_alone_is_not_enough_gateway_audit_is_enforced(demo_env: dict[str, str], tmp_path: Path) -> None:
    policy = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    with open(policy / "audit.csv", "a", encoding="utf-8") as f:
        f.write("p, developer, Query.auditLog, read, allow\n")
    engine = PolicyEngine(policy, field_meta())
    assert not engine.can_use(["developer"], "Gateway.audit")
    with audit_gateway(demo_env, engine=engine, **audit_settings(tmp_path)) as a:
        body = a.gql("{ auditLog(first: 1) { edges { node { user } } } }", a.token("developer"))
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    assert body["errors"][0]["extensions"]["coordinate"] == "Gateway.audit"
    assert body["data"]["auditLog"] is None
