"""Fail closed: with the PostgreSQL audit store unreachable (its database refusing connections, the
gateway's own terminated), requests releasing identity or sensitive-category fields answer
AUDIT_UNAVAILABLE and release nothing, others go on buffered until the buffer is full; when the
store returns the buffer drains, the chain continues and verifies, and no record is missing."""
from __future__ import annotations

import re
import time
from pathlib import Path

from tests.gateway.audit_support import (
    audit_gateway,
    audit_settings,
    check,
    pg_database,
    psql,
    readyz_audit,
    signing_key,
    wait_audit,
)
from tests.helpers import SUBDISTRICT, Api, codes

COMMITTEE = SUBDISTRICT + "001"
SENSITIVE = [  # identity (masked or not), contact, health: each would name persons
    ("committee_worker", None, "{ persons(first: 5) { edges { node { idNumber } } } }"),
    ("committee_worker", None, "{ persons(first: 5) { edges { node { name phone } } } }"),
    ("family_doctor", "health_service", "{ persons(first: 5) { edges { node { health { diabetes } } } } }"),
    ("committee_worker", None, "{ persons(first: 2) { edges { node { gender household { members { name } } } } } }"),
]
PLAIN = [  # nothing about anyone in particular
    ("committee_worker", None, "{ persons(first: 5) { edges { node { gender age } } } }"),
    ("developer", None, "{ houses(first: 3) { totalCount edges { node { propertyType } } } }"),
]
RAW_OR_MASKED_ID = re.compile(r"\d{6}[\d*]{8}\d{3}[\dXx]")
BUFFER = 60


def ask(api: Api, role: str, purpose: str | None, query: str) -> tuple[int, dict[str, object], str]:
    jur = COMMITTEE if role == "committee_worker" else SUBDISTRICT
    r = api.post(query, api.token(role, jurisdiction=jur, purpose=purpose, user=f"{role}-fc"))
    return r.status_code, r.json(), r.text


def stop_store(db: str) -> None:
    """The store goes away: no new connections, the open ones cut (the server itself keeps running)."""
    psql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")


def test_store_down_refuses_sensitive_requests_and_recovers(demo_env: dict[str, str], tmp_path: Path) -> None:
    sent = 0
    with pg_database("audit_fc") as url:
        db = url.rsplit("/", 1)[1]
        settings = {**audit_settings(tmp_path, url), "audit_buffer": BUFFER, "audit_timeout_s": 1.0}
        with audit_gateway(demo_env, **settings) as api:
            for role, purpose, q in SENSITIVE + PLAIN:  # all served while the store is up
                status, body, _ = ask(api, role, purpose, q)
                sent += 1
                assert status == 200 and codes(body) == [] and body["data"], body
            wait_audit(api, "up")

            stop_store(db)
            ask(api, *PLAIN[0])  # the writer's next batch fails: the store is down
            sent += 1
            down = wait_audit(api, "down")
            assert down["buffered"] >= 1

            for role, purpose, q in SENSITIVE:
                status, body, text = ask(api, role, purpose, q)
                sent += 1
                assert status == 503 and codes(body) == ["AUDIT_UNAVAILABLE"], body
                assert "data" not in body and not RAW_OR_MASKED_ID.search(text)
            for role, purpose, q in PLAIN:
                status, body, _ = ask(api, role, purpose, q)
                sent += 1
                assert status == 200 and codes(body) == [] and body["data"], body

            answers: list[int] = []  # the buffer fills: then every data request is refused too
            while len(answers) < BUFFER + 10 and (not answers or answers[-1] == 200):
                answers.append(ask(api, *PLAIN[1])[0])
                sent += 1
            assert answers[-1] == 503 and set(answers) == {200, 503}
            assert ask(api, *PLAIN[0])[0] == 503
            sent += 1
            assert BUFFER <= readyz_audit(api)["buffered"] < 2 * BUFFER  # refused ones are kept too: none dropped

            psql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")  # the store returns
            wait_audit(api, "up")
            deadline = time.monotonic() + 30
            while readyz_audit(api)["buffered"] and time.monotonic() < deadline:
                time.sleep(0.05)
            status, body, _ = ask(api, *SENSITIVE[0])
            sent += 1
            assert status == 200 and codes(body) == [] and body["data"], body
        report = check(url, signing_key(tmp_path))
        assert report.ok, report.as_dict()
        assert report.records == sent == report.sealed  # the chain went on where it stopped: nothing lost
