"""End to end with the SQL departments on the machine's PostgreSQL and MariaDB: a gateway whose five SQL
departments read a server answers exactly what the gateway on the SQLite files answers, and writes
back there once per request key. `gateway demo-data --target` loads them, as an operator would."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from demo.servers import ENV_VARS, drop
from tests.helpers import Api

GATEWAY = str(Path(sys.executable).with_name("gateway"))
SERVERS = {"postgresql": "postgresql://postgres@127.0.0.1:5432/postgres", "mariadb": "mysql://root@127.0.0.1:3306/"}
COMMITTEE = "310107005001"
QUERIES = [
    """{ persons(first: 30, filter: {ageMin: 70}) { totalCount edges { node { id name age idNumber
         welfare { livingAlone careLevel } house { address water { accountNumber averageDailyUsage } } } } } }""",
    ('{ persons(first: 20, filter: {tags: ["elder-living-alone"], notTags: ["visited-90-days"]}) { totalCount '
     'edges { node { id name visits { date kind } } } } }'),
    "{ shops(first: 20) { totalCount edges { node { name category grade licence { licenceNumber } } } } }",
    ("{ stats(subject: PERSONS, groupBy: [COMMITTEE, AGE_BAND, LIVING_ALONE]) { total cells { committee ageBand "
     "livingAlone count } } }"),
]
VISIT = """mutation($p: ID!, $k: String) { recordVisit(personId: $p, date: "2026-11-20", kind: PHONE, note: "电话问候",
  idempotencyKey: $k) { visitId date note } }"""


@pytest.fixture(scope="module", params=list(SERVERS))
def server(request: pytest.FixtureRequest, demo_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo's SQL departments loaded into one server by the CLI (databases of this module, dropped after)."""
    prefix = f"civic_e2e_{os.getpid()}"
    target = SERVERS[request.param]
    p = subprocess.run([GATEWAY, "demo-data", "--dir", str(demo_dir), "--persons", "3000", "--target", target,
                        "--prefix", prefix], capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    env = dict(line.removeprefix("export ").replace("'", "").split("=", 1) for line in p.stdout.splitlines()
               if line.startswith("export "))
    assert set(env) == set(ENV_VARS.values())
    try:
        yield request.param, env
    finally:
        asyncio.run(drop(target, prefix))


def test_a_server_answers_what_sqlite_answers(api: Api, make_api: Callable[..., Api],
                                              server: tuple[str, dict[str, str]]) -> None:
    on_server = make_api(env=server[1])
    for role, jurisdiction in (("developer", "310107005"), ("committee_worker", COMMITTEE),
                               ("subdistrict_officer", "310107005")):
        for q in QUERIES:
            want = api.post(q, api.token(role, jurisdiction)).json()
            got = on_server.post(q, on_server.token(role, jurisdiction)).json()
            assert got == want, (server[0], role, q)


def _visits(url: str) -> list[Any]:
    """The visits written through the gateway (those with a request key), read from the server itself."""
    async def go() -> list[Any]:
        from sqlalchemy.ext.asyncio import create_async_engine
        e = create_async_engine(url)
        try:
            async with e.connect() as c:
                return list((await c.execute(sa.text("SELECT id, qk FROM visit_record WHERE qqh IS NOT NULL"))).all())
        finally:
            await e.dispose()
    return asyncio.run(go())


def test_writes_land_once_per_key_on_a_server(make_api: Callable[..., Api], server: tuple[str, dict[str, str]]) -> None:
    gw = make_api(env=server[1])
    worker = gw.token("committee_worker", COMMITTEE, user=f"w-{server[0]}")
    person = gw.gql('{ persons(first: 1) { edges { node { id } } } }', worker)["data"]["persons"]["edges"][0]["node"]["id"]
    with ThreadPoolExecutor(8) as pool:  # eight at once with one key: one row
        bodies = list(pool.map(lambda _: gw.gql(VISIT, worker, {"p": person, "k": "same-key"}), range(8)))
    assert all("errors" not in b for b in bodies), bodies
    assert len({b["data"]["recordVisit"]["visitId"] for b in bodies}) == 1
    other = gw.gql(VISIT, worker, {"p": person, "k": "another-key"})["data"]["recordVisit"]
    assert other["visitId"] != bodies[0]["data"]["recordVisit"]["visitId"]
    rows = _visits(server[1]["COMMITTEE_RECORDS_DB_URL"])
    assert len(rows) == 2 and {r[1] for r in rows} == {"电话问候"}
    read = gw.gql('query($p: ID!) { node(id: $p) { ... on Person { visits { visitId note } } } }', worker, {"p": person})
    assert {v["visitId"] for v in read["data"]["node"]["visits"]} >= {other["visitId"]}
