"""Every department is its own failure domain: an outage nulls only its fields.

One department at a time is pointed at a real loopback server that misbehaves (closed
port, too slow, garbage JSON, HTTP 500); the rest of the demo stays healthy. Ledger files
with broken rows, and ledgers rewritten while the gateway runs, are covered at the end.
"""
from __future__ import annotations

import csv
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers import ADAPTERS_DIR, Api, codes

DEPARTMENT_CODES = {"DEPARTMENT_UNAVAILABLE", "DEPARTMENT_TIMEOUT", "DEPARTMENT_BAD_RESPONSE", "DEPARTMENT_BAD_DATA",
                    "DEPARTMENT_REJECTED"}
FAST_TIMEOUT_S = 0.5

PERSONS_HOUSE = """{ persons(first: 30) { totalCount edges { node {
    id gender age welfare { livingAlone } employment { status } house { address jurisdictionCode } } } } }"""
SHOPS_APPEARANCE = """{ shops(first: 30) { totalCount edges { node {
    id name category inspections { date } fireChecks { checkId } appearance { shopFrontCompliant } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeDepartment:
    """A department service that misbehaves on purpose: ``slow`` | ``garbage`` | ``shape`` | ``http500``,
    or behaves: ``proxy`` forwards to the real demo service at ``upstream``."""

    def __init__(self, mode: str, delay_s: float = 3.0, upstream: str | None = None) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.upstream = upstream
        self.hits = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                with fake.lock:
                    fake.hits += 1
                n = int(self.headers.get("content-length") or 0)
                payload = self.rfile.read(n) if n else b""
                if fake.mode == "proxy":
                    assert fake.upstream
                    up = httpx.request(self.command, fake.upstream + self.path, content=payload or None,
                                       headers={"content-type": self.headers.get("content-type") or ""}, timeout=30)
                    status, body = up.status_code, up.content
                elif fake.mode == "slow":
                    time.sleep(fake.delay_s)
                    status, body = 200, b'{"data": {"list": []}}'
                elif fake.mode == "garbage":
                    status, body = 200, b"<html>Service Unavailable</html>{{{"
                elif fake.mode == "shape":
                    status, body = 200, b'{"data": "maintenance", "records": 7, "shop": [1], "list": null}'
                else:
                    status, body = 500, b'{"error": "Traceback (most recent call last): db at 10.0.0.7"}'
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the gateway gave up waiting
                    pass

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fakes() -> Iterator[Callable[..., FakeDepartment]]:
    started: list[FakeDepartment] = []

    def start(mode: str, delay_s: float = 3.0, upstream: str | None = None) -> FakeDepartment:
        f = FakeDepartment(mode, delay_s, upstream)
        started.append(f)
        return f

    yield start
    for f in started:
        f.stop()


@pytest.fixture(scope="module")
def fast_adapters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the adapter specs with a short timeout for housing and greening, so timeouts are quick to test."""
    root = tmp_path_factory.mktemp("adapters-fast") / "adapters"
    shutil.copytree(ADAPTERS_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for slug in ("housing", "greening"):
        p = root / slug / "spec.yaml"
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
        spec["limits"] = {"timeout_s": FAST_TIMEOUT_S}
        p.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


def dept_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body.get("errors") or [] if (e.get("extensions") or {}).get("code") in DEPARTMENT_CODES]


def assert_nulls_only(body: dict[str, Any], slug: str, field: str, expect: set[str]) -> None:
    """The failing department's field is null on every row, the rest is there, one error names the department."""
    root = next(iter(body["data"]))
    conn = body["data"][root]
    assert conn is not None, body
    assert conn["totalCount"] > 0
    nodes = [e["node"] for e in conn["edges"]]
    assert len(nodes) == 30
    assert all(n[field] is None for n in nodes), [n[field] for n in nodes]
    assert all(n["id"] for n in nodes)
    errs = dept_errors(body)
    assert len(errs) == 1, body.get("errors")  # once per path, not once per row
    ext = errs[0]["extensions"]
    assert ext["code"] in expect, ext
    assert ext["department"] == slug
    assert errs[0]["path"][0] == root and errs[0]["path"][-1] == field
    assert set(codes(body)) <= DEPARTMENT_CODES, body["errors"]
    text = str(body)
    for leak in ("Traceback", "10.0.0.7", "127.0.0.1", "httpx", "sqlite"):
        assert leak not in text, text[:2000]


def assert_persons_healthy_parts(body: dict[str, Any]) -> None:
    nodes = [e["node"] for e in body["data"]["persons"]["edges"]]
    assert all(n["gender"] in ("MALE", "FEMALE") and isinstance(n["age"], int) for n in nodes)
    assert any(n["welfare"] is not None for n in nodes)  # civil_affairs (sql) still answers
    assert any(n["employment"] is not None for n in nodes)  # hr_social (ledger) still answers


def assert_shops_healthy_parts(body: dict[str, Any]) -> None:
    nodes = [e["node"] for e in body["data"]["shops"]["edges"]]
    assert all(n["name"] and n["category"] for n in nodes)
    assert any(n["inspections"] for n in nodes)  # city_management still answers
    assert any(n["fireChecks"] for n in nodes)  # fire (ledger) still answers


def readyz(api: Api) -> tuple[int, dict[str, Any]]:
    """/readyz once the gateway has started (it answers 503 `starting` until every department answered once)."""
    deadline = time.monotonic() + 15
    while True:
        t0 = time.perf_counter()
        r = httpx.get(api.base + "/readyz", timeout=30)
        assert time.perf_counter() - t0 < 1.0  # from the background checks: never waits on a department
        if r.json()["status"] != "starting" or time.monotonic() > deadline:
            return r.status_code, r.json()
        time.sleep(0.1)


def wait_status(api: Api, name: str, want: str, timeout_s: float = 10.0) -> tuple[int, dict[str, Any]]:
    """/readyz once department ``name`` shows ``want`` (health checks run every health_interval_s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = readyz(api)
        if adapter_status(body)[name] == want or time.monotonic() > deadline:
            return status, body
        time.sleep(0.1)


def adapter_status(body: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["status"] for a in body["adapters"]}


# --- baseline -----------------------------------------------------------------------------
def test_healthy_gateway_is_ready_and_complete(api: Api) -> None:
    status, body = readyz(api)
    assert status == 200, body
    assert body["status"] == "ready"
    assert len(body["adapters"]) == 16
    assert set(adapter_status(body).values()) == {"up"}
    persons = api.gql(PERSONS_HOUSE, api.token("developer"))
    assert codes(persons) == []
    assert all(e["node"]["house"] is not None for e in persons["data"]["persons"]["edges"])


# --- a department that is down ---------------------------------------------------------------
def test_department_down_nulls_only_its_fields(make_api: Callable[..., Api]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    api = make_api(env={"HOUSING_URL": closed})
    t0 = time.perf_counter()
    r = api.post(PERSONS_HOUSE, api.token("developer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_nulls_only(body, "housing", "house", {"DEPARTMENT_UNAVAILABLE"})
    assert_persons_healthy_parts(body)
    assert time.perf_counter() - t0 < 5
    status, ready = wait_status(api, "housing", "down")
    assert status == 200  # the gateway can serve: only housing's fields are missing
    assert ready["status"] == "degraded"
    st = adapter_status(ready)
    assert st["housing"] == "down"
    assert {n for n, s in st.items() if s != "up"} == {"housing"}


def test_root_owned_by_a_down_department_is_null_with_a_code(make_api: Callable[..., Api]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    api = make_api(env={"HOUSING_URL": closed})
    tok = api.token("subdistrict_officer")
    r = api.post("{ houses(first: 5) { totalCount edges { node { id } } } committees(first: 2) { totalCount } "
                 "persons(first: 2) { totalCount } }", tok)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["houses"] is None
    assert body["data"]["committees"] is None
    assert body["data"]["persons"]["totalCount"] > 0  # population still answers
    errs = dept_errors(body)
    assert {tuple(e["path"]) for e in errs} == {("houses",), ("committees",)}
    assert {e["extensions"]["department"] for e in errs} == {"housing"}


# --- a department that is too slow -----------------------------------------------------------
def test_slow_department_times_out(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment],
                                   fast_adapters: Path) -> None:
    slow = fakes("slow", delay_s=3.0)
    api = make_api(env={"HOUSING_URL": slow.url}, adapters_dir=fast_adapters)
    t0 = time.perf_counter()
    r = api.post(PERSONS_HOUSE, api.token("developer"))
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    body = r.json()
    assert_nulls_only(body, "housing", "house", {"DEPARTMENT_TIMEOUT"})
    assert_persons_healthy_parts(body)
    assert elapsed < 2.5, elapsed  # bounded by the department's timeout, not by the slow service
    status, ready = wait_status(api, "housing", "down")
    assert status == 200
    assert adapter_status(ready)["housing"] == "down"


def test_slow_greening_nulls_only_appearance(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment],
                                             fast_adapters: Path) -> None:
    slow = fakes("slow", delay_s=3.0)
    api = make_api(env={"GREENING_URL": slow.url}, adapters_dir=fast_adapters)
    r = api.post(SHOPS_APPEARANCE, api.token("subdistrict_officer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_nulls_only(body, "greening", "appearance", {"DEPARTMENT_TIMEOUT"})
    assert_shops_healthy_parts(body)


# --- a department that answers nonsense --------------------------------------------------------
BAD_ANSWER = {"garbage": "DEPARTMENT_BAD_DATA", "shape": "DEPARTMENT_BAD_DATA", "http500": "DEPARTMENT_BAD_RESPONSE"}


@pytest.mark.parametrize("mode", ["garbage", "shape", "http500"])
def test_bad_answers_from_greening(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment],
                                   mode: str) -> None:
    bad = fakes(mode)
    api = make_api(env={"GREENING_URL": bad.url})
    r = api.post(SHOPS_APPEARANCE, api.token("subdistrict_officer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_nulls_only(body, "greening", "appearance", {BAD_ANSWER[mode]})
    assert_shops_healthy_parts(body)
    status, ready = readyz(api) if mode == "shape" else wait_status(api, "greening", "down")
    st = adapter_status(ready)
    assert status == 200
    assert {n for n, s in st.items() if s != "up"} <= {"greening"}
    if mode != "shape":  # "shape" answers /health with valid JSON: reachable, only its records are unreadable
        assert st["greening"] == "down"


@pytest.mark.parametrize("mode", ["garbage", "http500"])
def test_bad_answers_from_housing(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment],
                                  mode: str) -> None:
    bad = fakes(mode)
    api = make_api(env={"HOUSING_URL": bad.url})
    r = api.post(PERSONS_HOUSE, api.token("developer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_nulls_only(body, "housing", "house", {BAD_ANSWER[mode]})
    assert_persons_healthy_parts(body)


def test_same_failure_on_two_paths_is_reported_per_path(make_api: Callable[..., Api],
                                                        fakes: Callable[..., FakeDepartment]) -> None:
    bad = fakes("http500")
    api = make_api(env={"GREENING_URL": bad.url})
    r = api.post("{ a: shops(first: 5) { edges { node { appearance { lastCheck } } } } "
                 "b: shops(first: 5, after: \"bzo0\") { edges { node { appearance { lastCheck } } } } }",
                 api.token("subdistrict_officer"))
    assert r.status_code == 200, r.text
    errs = dept_errors(r.json())
    assert sorted(e["path"][0] for e in errs) == ["a", "b"], errs


# --- the circuit breaker ------------------------------------------------------------------------
def test_breaker_opens_and_fails_fast(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment]) -> None:
    bad = fakes("http500")
    # own URL: a gateway (and breaker) of its own; health checks only at the start, so hits are calls
    api = make_api(env={"GREENING_URL": bad.url}, health_interval_s=600)
    tok = api.token("subdistrict_officer")
    seen: list[str] = []
    for _ in range(5):  # the breaker's threshold
        errs = dept_errors(api.gql(SHOPS_APPEARANCE, tok))
        seen.append(errs[0]["extensions"]["code"])
    assert seen == ["DEPARTMENT_BAD_RESPONSE"] * 5
    hits = bad.hits
    for _ in range(3):
        body = api.gql(SHOPS_APPEARANCE, tok)
        errs = dept_errors(body)
        assert [e["extensions"]["code"] for e in errs] == ["DEPARTMENT_UNAVAILABLE"], errs
        assert errs[0]["extensions"]["department"] == "greening"
        assert_shops_healthy_parts(body)
    assert bad.hits == hits  # open: the department is not called at all


def test_breaker_fails_fast_instead_of_waiting(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment],
                                               fast_adapters: Path) -> None:
    slow = fakes("slow", delay_s=2.0)
    api = make_api(env={"GREENING_URL": slow.url}, adapters_dir=fast_adapters)
    tok = api.token("subdistrict_officer")
    for _ in range(5):
        assert [e["extensions"]["code"] for e in dept_errors(api.gql(SHOPS_APPEARANCE, tok))] == ["DEPARTMENT_TIMEOUT"]
    t0 = time.perf_counter()
    body = api.gql(SHOPS_APPEARANCE, tok)
    assert time.perf_counter() - t0 < FAST_TIMEOUT_S
    assert [e["extensions"]["code"] for e in dept_errors(body)] == ["DEPARTMENT_UNAVAILABLE"]


def test_breaker_of_one_department_leaves_the_others_closed(make_api: Callable[..., Api],
                                                            fakes: Callable[..., FakeDepartment]) -> None:
    bad = fakes("http500")
    api = make_api(env={"GREENING_URL": bad.url})
    tok = api.token("subdistrict_officer")
    for _ in range(7):
        api.gql(SHOPS_APPEARANCE, tok)
    breakers = {a.name: a.breaker.state for a in api.gateway.registry}
    assert breakers["greening"] == "open"
    assert {n for n, s in breakers.items() if s != "closed"} == {"greening"}
    body = api.gql(PERSONS_HOUSE, api.token("developer"))
    assert codes(body) == []


def test_breaker_half_opens_after_cooldown_and_closes_on_success(
        make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment], demo_env: dict[str, str]) -> None:
    dept = fakes("http500", upstream=demo_env["GREENING_URL"])
    api = make_api(env={"GREENING_URL": dept.url}, health_interval_s=600)
    tok = api.token("subdistrict_officer")
    for _ in range(5):
        api.gql(SHOPS_APPEARANCE, tok)
    greening = next(a for a in api.gateway.registry if a.name == "greening")
    assert greening.breaker.state == "open"
    greening.breaker.cooldown_s = 1.0  # shorten the wait instead of sleeping the default 10 s
    time.sleep(1.1)
    assert greening.breaker.state == "half-open"
    body = api.gql(SHOPS_APPEARANCE, tok)  # the trial call fails: open again
    assert [e["extensions"]["code"] for e in dept_errors(body)] == ["DEPARTMENT_BAD_RESPONSE"]
    assert greening.breaker.state == "open"
    dept.mode = "proxy"  # the department recovers
    hits = dept.hits
    assert [e["extensions"]["code"] for e in dept_errors(api.gql(SHOPS_APPEARANCE, tok))] == ["DEPARTMENT_UNAVAILABLE"]
    assert dept.hits == hits
    time.sleep(1.1)
    body = api.gql(SHOPS_APPEARANCE, tok)
    assert codes(body) == [], body
    assert any(e["node"]["appearance"] is not None for e in body["data"]["shops"]["edges"])
    assert greening.breaker.state == "closed"
    assert greening.breaker.failures == 0


def test_proxy_department_is_transparent(make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment],
                                         demo_env: dict[str, str]) -> None:
    """Control for the fakes: a well-behaved stand-in yields the same data as the real service."""
    dept = fakes("proxy", upstream=demo_env["HOUSING_URL"])
    api = make_api(env={"HOUSING_URL": dept.url})
    body = api.gql(PERSONS_HOUSE, api.token("developer"))
    assert codes(body) == []
    assert all(e["node"]["house"] is not None for e in body["data"]["persons"]["edges"])
    assert dept.hits > 0


# --- ledgers ---------------------------------------------------------------------------------------
VETERANS = "{ persons(first: 1000, filter: {isVeteran: true}) { totalCount edges { node { id veteran { category } } } } }"


@pytest.fixture()
def ledger_copy(tmp_path: Path, demo_dir: Path) -> tuple[Path, Path]:
    """(adapters dir whose veterans spec reads a private copy of the ledger, that copy)."""
    adapters = tmp_path / "adapters"
    shutil.copytree(ADAPTERS_DIR, adapters, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    data = tmp_path / "veterans-data"
    data.mkdir()
    shutil.copy(demo_dir / "veterans" / "veterans.csv", data / "veterans.csv")
    p = adapters / "veterans" / "spec.yaml"
    spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    spec["connection"]["dir"] = str(data)
    p.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return adapters, data / "veterans.csv"


def read_ledger(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def veterans(api: Api) -> dict[str, Any]:
    body = api.gql(VETERANS, api.token("developer"))
    assert codes(body) == [], body
    return body["data"]["persons"]  # type: ignore[no-any-return]


def veterans_once(api: Api, done: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0) -> dict[str, Any]:
    """The veterans once a reload has landed (the last good version is served while the new one reads)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = veterans(api)
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def ids(conn: dict[str, Any]) -> set[str]:
    return {e["node"]["id"] for e in conn["edges"]}


def categories(conn: dict[str, Any]) -> set[str]:
    return {e["node"]["veteran"]["category"] for e in conn["edges"] if e["node"]["veteran"]}


@pytest.fixture(scope="module")
def baseline(api: Api) -> dict[str, Any]:
    """The veterans the untouched demo ledger yields."""
    got = veterans(api)
    assert got["totalCount"] > 5
    return got


def test_ledger_with_garbage_rows_serves_the_good_ones(make_api: Callable[..., Api], ledger_copy: tuple[Path, Path],
                                                       baseline: dict[str, Any]) -> None:
    adapters, ledger = ledger_copy
    with ledger.open("a", encoding="utf-8", newline="") as f:
        f.write("\n")  # blank line
        f.write(",,,,,,\n")  # no key
        f.write("not-a-row\n")  # one column
        f.write("310107199001011234,王某,9,陆军,notayear,310107005001001001,1\n")  # unknown category, bad year
        f.write(",李某,1,海军,1999,310107005001001001,1\n")  # empty key
        f.write("too,many,columns,here,1,2,3,4,5,6,7,8\n")
        f.write("\"310107199001015678,unterminated quote,1,陆军,1999\n")  # last line: swallows nothing after it
    api = make_api(adapters_dir=adapters)
    got = veterans(api)
    assert got["totalCount"] == baseline["totalCount"]
    assert ids(got) == ids(baseline)
    assert all(e["node"]["veteran"] is not None for e in got["edges"])
    status, ready = readyz(api)
    assert status == 200
    row = next(a for a in ready["adapters"] if a["name"] == "veterans")
    assert row["status"] == "degraded", row  # more than 1 % of the rows fail validation: said, not hidden
    assert "rows fail validation" in row["detail"]


def test_ledger_with_undecodable_bytes_in_one_row_serves_the_good_ones(
        make_api: Callable[..., Api], ledger_copy: tuple[Path, Path], baseline: dict[str, Any]) -> None:
    """One row with bytes that are not UTF-8 (a mis-saved export) must not take the whole ledger down."""
    adapters, ledger = ledger_copy
    with ledger.open("ab") as f:
        f.write(b"310107199001011234," + "王某".encode("gbk") + b",1,\xff\xfe,1999,310107005001001001,1\n")
    api = make_api(adapters_dir=adapters)
    got = veterans(api)
    assert got["totalCount"] == baseline["totalCount"]
    assert ids(got) == ids(baseline)


def rewrite(ledger: Path, header: list[str], rows: list[list[str]]) -> None:
    """Replace the file the way an export job does (write aside, rename over); the size changes."""
    tmp = ledger.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, ledger)


def test_ledger_rewritten_while_running_is_reloaded(make_api: Callable[..., Api], ledger_copy: tuple[Path, Path],
                                                    baseline: dict[str, Any]) -> None:
    adapters, ledger = ledger_copy
    header, rows = read_ledger(ledger)
    api = make_api(adapters_dir=adapters)
    before = veterans(api)
    assert ids(before) == ids(baseline)
    assert {e["node"]["veteran"]["category"] for e in before["edges"]} != {"MARTYR_FAMILY"}

    rewrite(ledger, header, rows[: len(rows) // 2])
    half = veterans_once(api, lambda g: g["totalCount"] < before["totalCount"])
    assert 0 < half["totalCount"] < before["totalCount"]
    assert ids(half) < ids(before)

    cat = header.index("category")
    rewrite(ledger, header, [[*r[:cat], "3", *r[cat + 1:]] for r in rows])  # every row re-categorised
    changed = veterans_once(api, lambda g: ids(g) == ids(before) and categories(g) == {"MARTYR_FAMILY"})
    assert ids(changed) == ids(before)
    assert {e["node"]["veteran"]["category"] for e in changed["edges"]} == {"MARTYR_FAMILY"}

    rewrite(ledger, header, rows)  # and back
    after = veterans_once(api, lambda g: ids(g) == ids(before) and categories(g) != {"MARTYR_FAMILY"})
    assert ids(after) == ids(before)
    assert sorted(str(e["node"]["veteran"]) for e in after["edges"]) == \
        sorted(str(e["node"]["veteran"]) for e in before["edges"])


def test_ledger_file_removed_while_running(make_api: Callable[..., Api], ledger_copy: tuple[Path, Path]) -> None:
    adapters, ledger = ledger_copy
    api = make_api(adapters_dir=adapters)
    assert veterans(api)["totalCount"] > 0
    ledger.rename(ledger.with_suffix(".gone"))
    body = api.gql("{ persons(first: 5) { totalCount edges { node { id gender veteran { category } } } } }",
                   api.token("developer"))
    errs = dept_errors(body)
    assert len(errs) == 1 and errs[0]["extensions"]["department"] == "veterans", body
    assert errs[0]["extensions"]["code"] in DEPARTMENT_CODES
    assert all(e["node"]["veteran"] is None and e["node"]["gender"] for e in body["data"]["persons"]["edges"])
    assert str(ledger.parent) not in str(body)
    status, ready = wait_status(api, "veterans", "down")
    assert status == 200 and adapter_status(ready)["veterans"] == "down"
    ledger.with_suffix(".gone").rename(ledger)
    assert veterans(api)["totalCount"] > 0


# --- bounded under concurrency --------------------------------------------------------------------
def concurrently(n: int, fn: Callable[[], Any]) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda _: fn(), range(n)))


def timed_codes(api: Api, query: str, tok: str) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    body = api.gql(query, tok)
    return time.perf_counter() - t0, [e["extensions"]["code"] for e in dept_errors(body)]


def test_queued_callers_share_one_timeout_and_fail_when_the_breaker_opens(
        make_api: Callable[..., Api], fakes: Callable[..., FakeDepartment], fast_adapters: Path) -> None:
    """A frozen department with 4 slots and 24 callers: no waves of timeouts, everyone answered in about one."""
    slow = fakes("slow", delay_s=3.0)
    api = make_api(env={"GREENING_URL": slow.url}, adapters_dir=fast_adapters, department_max_concurrency=4,
                   health_interval_s=600)
    tok = api.token("subdistrict_officer")
    without = SHOPS_APPEARANCE.replace("appearance { shopFrontCompliant }", "")
    baseline = max(t for t, _ in concurrently(24, lambda: timed_codes(api, without, tok)))
    results = concurrently(24, lambda: timed_codes(api, SHOPS_APPEARANCE, tok))
    worst = max(t for t, _ in results)
    assert worst < baseline + FAST_TIMEOUT_S + 0.5, (baseline, sorted(t for t, _ in results))  # not 6 waves
    got = {c for _, cs in results for c in cs}
    assert got <= {"DEPARTMENT_TIMEOUT", "DEPARTMENT_UNAVAILABLE"} and "DEPARTMENT_TIMEOUT" in got
    assert all(len(cs) == 1 for _, cs in results)
    greening = next(a for a in api.gateway.registry if a.name == "greening")
    assert greening.breaker.state == "open"


def test_half_open_lets_exactly_one_trial_through(make_api: Callable[..., Api],
                                                  fakes: Callable[..., FakeDepartment]) -> None:
    dept = fakes("http500", delay_s=0.5)
    api = make_api(env={"GREENING_URL": dept.url}, health_interval_s=600, breaker_cooldown_s=0.5)
    tok = api.token("subdistrict_officer")
    for _ in range(5):
        api.gql(SHOPS_APPEARANCE, tok)
    greening = next(a for a in api.gateway.registry if a.name == "greening")
    assert greening.breaker.state == "open"
    time.sleep(0.6)
    dept.mode = "slow"  # the trial takes 0.5 s: every other caller arrives while it is under way
    hits = dept.hits
    results = concurrently(8, lambda: timed_codes(api, SHOPS_APPEARANCE, tok))
    assert dept.hits - hits == 1  # one trial, however many callers
    codes_seen = sorted(c for _, cs in results for c in cs)
    assert codes_seen.count("DEPARTMENT_UNAVAILABLE") == 7, codes_seen
    assert greening.breaker.state == "open"  # the trial's answer was unreadable: open again
