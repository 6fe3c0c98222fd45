"""Ledgers (gateway/ledgers.py) as users fetch them: GET /ledgers/NAME with a token, CSV and XLSX (opened
with openpyxl), filled with the caller's policy (masked stays masked, denied columns absent and named
in the header), every page audited, refusals with stable codes, and `gateway ledger export` as a
subprocess."""
from __future__ import annotations

import csv
import io
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from gateway.ledgers import DENIED_HEADER, load
from gateway.settings import PROJECT
from tests.helpers import Api

LEDGERS = sorted(load(PROJECT / "ledgers"))
MINE = "310107005003"
GATEWAY = str(Path(sys.executable).parent / "gateway")
FULL_ID = re.compile(r"\b\d{17}[\dX]\b")


def export(api: Api, name: str, tok: str | None, fmt: str = "csv", **headers: str) -> httpx.Response:
    h = {"Authorization": f"Bearer {tok}"} if tok else {}
    return httpx.get(f"{api.base}/ledgers/{name}", params={"format": fmt}, headers={**h, **headers}, timeout=120)


def csv_rows(r: httpx.Response) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(r: httpx.Response) -> list[list[str]]:
    assert r.status_code == 200, r.text
    ws = load_workbook(io.BytesIO(r.content), read_only=True).active
    assert ws is not None
    return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]


def table(rows: list[list[str]]) -> tuple[list[str], list[list[str]], list[str]]:
    """(column titles, data rows, denied titles) of an export: title, description, [denied], columns, rows."""
    denied = [t for line in rows[:3] for t in (line[0].split(": ", 1)[1].split("、") if line and
                                               line[0].startswith(DENIED_HEADER) else [])]
    head = 3 if denied else 2
    cols = [c for c in rows[head] if c]
    pad = [""] * len(cols)  # a sheet row ends at its last filled cell
    return cols, [[_number(v) for v in (r + pad)[:len(cols)]] for r in rows[head + 1:]], denied


def _number(v: str) -> str:
    """119.0 and 119 alike: CSV prints a float as Python does, a sheet reads a whole number back as int."""
    try:
        f = float(v)
    except ValueError:
        return v
    return str(int(f)) if f.is_integer() and not FULL_ID.fullmatch(v) and len(v) < 16 else v


@pytest.mark.parametrize("name", LEDGERS)
def test_every_ledger_exports_as_csv_and_xlsx_alike(api: Api, name: str) -> None:
    tok = api.token("committee_secretary", jurisdiction=MINE)
    as_csv, as_xlsx = table(csv_rows(export(api, name, tok))), table(xlsx_rows(export(api, name, tok, "xlsx")))
    titles = [c.title for c in load(PROJECT / "ledgers")[name].columns]
    assert as_csv[2] == [] and (as_csv[0] == titles or as_csv[0][-1] == "数量")  # nothing denied to the secretary
    assert as_csv[1], name  # the test data fills every ledger
    assert as_xlsx == as_csv
    assert len(LEDGERS) >= 10


def test_a_roster_holds_the_people_the_query_finds_in_order(api: Api) -> None:
    tok = api.token("committee_secretary", jurisdiction=MINE)
    cols, rows, _ = table(csv_rows(export(api, "elders-living-alone", tok)))
    total = api.gql("{ persons(first: 1, filter: {ageMin: 60, livingAlone: true}) { totalCount } }", tok)
    assert len(rows) == total["data"]["persons"]["totalCount"] > 0
    ages = [int(r[cols.index("年龄")]) for r in rows]
    assert ages == sorted(ages, reverse=True) and min(ages) >= 60
    assert {r[cols.index("性别")] for r in rows} <= {"男", "女"}


def test_a_grouped_ledger_counts_every_item(api: Api) -> None:
    tok = api.token("committee_secretary", jurisdiction=MINE)
    cols, rows, _ = table(csv_rows(export(api, "visits-by-month", tok)))
    assert cols == ["月份", "社工", "数量"]
    body = api.gql("{ persons(first: 1000, filter: {ageMin: 60}) { edges { node { visits { date } } } } }", tok)
    visits = [v for e in body["data"]["persons"]["edges"] for v in e["node"]["visits"]]
    assert sum(int(r[2]) for r in rows) == len(visits) > 0
    assert all(re.fullmatch(r"\d{4}-\d{2}", r[0]) for r in rows)


def test_a_committee_worker_s_export_has_masked_id_numbers(api: Api) -> None:
    tok = api.token("committee_worker", jurisdiction=MINE)
    for fmt, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        r = export(api, "elders-living-alone", tok, fmt)
        cols, rows, denied = table(read(r))
        ids = [row[cols.index("身份证号")] for row in rows]
        assert ids and all("*" in i for i in ids) and denied == ["出生日期"]  # a worker is not given birth dates
        assert not FULL_ID.search(r.content.decode("utf-8", "replace")) if fmt == "csv" else True


def test_columns_the_caller_may_not_read_are_absent_and_named(api: Api) -> None:
    """A developer reads names and ID numbers masked and never the committees' visits."""
    cols, rows, denied = table(csv_rows(export(api, "elders-living-alone", api.token("developer", jurisdiction=MINE))))
    assert denied == ["最近走访"] and "最近走访" not in cols
    assert rows and all("*" in r[cols.index("身份证号")] and "*" in r[cols.index("姓名")] for r in rows)


def test_every_page_is_an_audited_request(make_api: Callable[..., Api]) -> None:
    api = make_api(ledger_max_rows=99_999)  # its own gateway: its own audit file
    tok = api.token("committee_secretary", jurisdiction=MINE, user="ledger-reader")
    _, rows, _ = table(csv_rows(export(api, "elders-living-alone", tok)))
    pages = -(-len(rows) // 500) or 1  # the ledger's query asks 500 rows a page
    path = api.settings.audit_url.split("///", 1)[1]
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(path) as c:
            n = c.execute("SELECT count(*) FROM audit_records WHERE user_id = 'ledger-reader'").fetchone()[0]
        if n >= pages or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert n == pages and rows


@pytest.mark.parametrize(("name", "fmt", "tok", "status", "code"), [
    ("no-such-ledger", "csv", "secretary", 404, "NOT_FOUND"),
    ("..policies", "csv", "secretary", 404, "NOT_FOUND"),
    ("elders-living-alone", "pdf", "secretary", 400, "BAD_USER_INPUT"),
    ("elders-living-alone", "csv", None, 401, "UNAUTHENTICATED"),
    ("elders-living-alone", "csv", "not-a-jwt", 401, "INVALID_TOKEN"),
    ("elders-living-alone", "csv", "district_analyst", 403, "UNAUTHORIZED_FIELD_OR_TYPE"),
])
def test_refusals_have_stable_codes(api: Api, name: str, fmt: str, tok: str | None, status: int, code: str) -> None:
    token = {"secretary": api.token("committee_secretary", jurisdiction=MINE),
             "district_analyst": api.token("district_analyst")}.get(tok or "", tok)
    r = httpx.get(f"{api.base}/ledgers/{name}", params={"format": fmt},
                  headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=60)
    assert r.status_code == status and r.json()["errors"][0]["extensions"]["code"] == code, r.text


@pytest.fixture(scope="module")
def broken(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data with the population registry's and market supervision's databases unreadable."""
    import shutil
    copy = tmp_path_factory.mktemp("broken") / "demo"
    shutil.copytree(demo_dir, copy)
    for db in ("population.db", "market.db"):
        (copy / db).unlink()
        (copy / db).mkdir()  # a path SQLite cannot open as a database
    return copy


def closed_port() -> str:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once it is closed


@pytest.mark.parametrize("name", LEDGERS)
def test_a_department_that_is_down_fails_the_export_whole(make_api: Callable[..., Api], broken: Path,
                                                           name: str) -> None:
    """The department of each ledger's rows down (persons, shops: their databases; houses, events: their
    services): the export is that error, no file."""
    rows = load(PROJECT / "ledgers")[name].rows
    env = {"GATEWAY_DEMO_DIR": str(broken), **{"houses": {"HOUSING_URL": closed_port()},
                                               "events": {"CULTURE_URL": closed_port()}}.get(rows, {})}
    api = make_api(env=env)
    for fmt in ("csv", "xlsx"):
        r = export(api, name, api.token("committee_secretary", jurisdiction=MINE), fmt)
        assert r.status_code == 502 and r.json()["errors"][0]["extensions"]["code"] == "DEPARTMENT_UNAVAILABLE"


@pytest.mark.parametrize("name", LEDGERS)
def test_every_ledger_refuses_a_caller_without_the_grant_and_a_bad_format(api: Api, name: str) -> None:
    analyst = export(api, name, api.token("district_analyst"))  # counts only, never rows
    assert analyst.status_code == 403
    assert analyst.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    bad = export(api, name, api.token("committee_secretary", jurisdiction=MINE), "pdf")
    assert bad.status_code == 400 and bad.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT",
                                                                                 "argument": "format"}


def test_the_cli_exports_for_the_token_s_caller(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "elders.xlsx"
    tok = api.token("committee_worker", jurisdiction=MINE)
    p = subprocess.run([GATEWAY, "ledger", "export", "elders-living-alone", "--format", "xlsx", "--url", api.base,
                        "--token", tok, "-o", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    ws = load_workbook(out, read_only=True).active
    assert ws is not None
    rows = [[str(v or "") for v in r] for r in ws.iter_rows(values_only=True)]
    cols, data, _ = table(rows)
    assert data and all("*" in r[cols.index("身份证号")] for r in data)
    bad = subprocess.run([GATEWAY, "ledger", "export", "elders-living-alone", "--url", api.base, "--token", "x.y.z"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1 and "[INVALID_TOKEN]" in bad.stderr
    listed = subprocess.run([GATEWAY, "ledger", "list"], capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(LEDGERS)

