"""5,000 requests at concurrency 20, refused ones included (401, 400, cost, denied fields, fail-closed
never triggered): exactly 5,000 records, each request's id and outcome among them, and the chain
verifies. The same, smaller, against PostgreSQL."""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

from gateway.audit.db import engine_for
from tests.gateway.audit_support import audit_gateway, audit_settings, check, pg_database, signing_key
from tests.helpers import SUBDISTRICT, Api

COMMITTEE = SUBDISTRICT + "001"
RAW_ID = re.compile(r"(?<![0-9a-f])\d{17}[\dXx](?![0-9a-f])")
COSTLY = ("{ persons(first: 1000) { edges { node { household { members { eventRegistrations { event { "
          "registrations { person { name } } } } } } } } } }")
# (role, jurisdiction, purpose, query): None role = no token; "bad" = a forged token
MIX: list[tuple[str | None, str, str | None, str]] = [
    ("committee_worker", COMMITTEE, None, "{ persons(first: 5) { edges { node { idNumber name phone } } } }"),
    ("developer", SUBDISTRICT, None, "{ persons(first: 5) { edges { node { gender age } } } }"),
    (None, SUBDISTRICT, None, "{ persons(first: 1) { totalCount } }"),
    ("developer", SUBDISTRICT, None, "{ persons(first: 1) { totalCount "),
    ("subdistrict_officer", SUBDISTRICT, None, COSTLY),
    ("family_doctor", SUBDISTRICT, "health_service", "{ persons(first: 3) { edges { node { name health { diabetes } } } } }"),
    ("committee_worker", COMMITTEE, None, "{ persons(first: 2) { edges { node { name health { diabetes } } } } }"),
    ("district_analyst", SUBDISTRICT, None, "{ persons(first: 2) { edges { node { name } } } }"),  # denied
    ("bad", SUBDISTRICT, None, "{ persons(first: 1) { totalCount } }"),
]


def outcome(r: httpx.Response) -> str:
    body = r.json()
    if r.status_code != 200:
        return str(body["errors"][0]["extensions"]["code"])
    return "error" if body.get("data") is None else "ok"


def run(api: Api, n: int, concurrency: int = 20) -> tuple[Counter[str], set[str], float]:
    tokens: dict[int, str | None] = {}
    for i, (role, jur, purpose, _q) in enumerate(MIX):
        if role is None:
            tokens[i] = None
        elif role == "bad":
            tokens[i] = api.token("developer")[:-4] + "AAAA"
        else:
            tokens[i] = api.token(role, jurisdiction=jur, purpose=purpose, user=f"{role}-1")

    def one(i: int) -> tuple[str, str]:
        k = i % len(MIX)
        r = api.post(MIX[k][3], tokens[k])
        return outcome(r), r.headers["x-request-id"]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        got = list(ex.map(one, range(n)))
    return Counter(o for o, _ in got), {rid for _, rid in got}, time.perf_counter() - t0


async def _stored(url: str) -> tuple[Counter[str], set[str], int]:
    engine = engine_for(url, 10.0)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT outcome, body FROM audit_records"))).all()
    finally:
        await engine.dispose()
    bodies = [json.loads(b) for _, b in rows]
    return Counter(o for o, _ in rows), {b["request_id"] for b in bodies}, len(rows)


def stored(url: str) -> tuple[Counter[str], set[str], int]:
    return asyncio.run(_stored(url))


def load_and_check(demo_env: dict[str, str], folder: Path, url: str | None, n: int) -> float:
    settings = audit_settings(folder, url)
    with audit_gateway(demo_env, **settings) as api:
        outcomes, ids, seconds = run(api, n)
    assert {"ok", "UNAUTHENTICATED", "INVALID_TOKEN", "GRAPHQL_PARSE_FAILED", "QUERY_TOO_COSTLY"} <= set(outcomes), \
        outcomes
    assert "AUDIT_UNAVAILABLE" not in outcomes
    kept, kept_ids, count = stored(settings["audit_url"])
    assert count == n  # exactly one record per request: none lost at shutdown, none doubled
    assert kept == outcomes and kept_ids == ids
    report = check(settings["audit_url"], signing_key(folder))
    assert report.ok, report.as_dict()
    assert report.records == report.sealed == n  # the shutdown sealed the tail
    return seconds


def test_5000_requests_leave_5000_records_that_verify(demo_env: dict[str, str], tmp_path: Path) -> None:
    seconds = load_and_check(demo_env, tmp_path, None, 5000)
    print(f"5,000 requests at concurrency 20 in {seconds:.1f} s")
    with sqlite3.connect(tmp_path / "audit.db") as db:  # the data subjects are keyed hashes, never ID numbers
        bodies = [b for (b,) in db.execute("SELECT body FROM audit_records")]
        assert not [b for b in bodies if RAW_ID.search(b)]
        assert db.execute("SELECT count(DISTINCT subject) FROM audit_subjects").fetchone()[0] > 0


def test_1000_requests_on_postgresql(demo_env: dict[str, str], tmp_path: Path) -> None:
    with pg_database("audit_load") as url:
        load_and_check(demo_env, tmp_path, url, 1000)


