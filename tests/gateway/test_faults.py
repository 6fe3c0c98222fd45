"""The fault matrix: every HTTP department behind a TCP fault proxy, a frozen process, and
corrupted ledgers, each under a small concurrent load.

For every case: no 5xx; healthy fields complete in every response; the right code on every
failed field; p99 within the department timeout + 100 ms of the same load without the
fault; recovery within one health interval after the fault ends; no leaked descriptors.
Figures go to $TMPDIR/fault-matrix.json.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.registry import Registry
from gateway.app import Gateway
from gateway.embedded import EmbeddedServer
from gateway.settings import load_settings
from schema.build import catalogue
from tests.faultproxy import FaultProxy
from tests.helpers import ADAPTERS_DIR, Api

TIMEOUT_S = 1.0
NOISE_S = 0.4  # a shared 2-core machine: what the same load costs without any fault varies by this much
INTERVAL_S = 1.0
SETTINGS = {"department_timeout_s": TIMEOUT_S, "health_interval_s": INTERVAL_S, "breaker_cooldown_s": 0.5}
CONCURRENCY = 6
ROUNDS = 3
RESULTS: dict[str, dict[str, Any]] = {}
DEPT = {"DEPARTMENT_UNAVAILABLE", "DEPARTMENT_TIMEOUT", "DEPARTMENT_BAD_DATA", "DEPARTMENT_BAD_RESPONSE"}
EXPECT = {
    "refuse": {"DEPARTMENT_UNAVAILABLE"},
    "hang": {"DEPARTMENT_TIMEOUT", "DEPARTMENT_UNAVAILABLE"},
    "slow": {"DEPARTMENT_TIMEOUT", "DEPARTMENT_UNAVAILABLE"},
    "reset": {"DEPARTMENT_UNAVAILABLE"},
    "garbage": {"DEPARTMENT_UNAVAILABLE", "DEPARTMENT_BAD_DATA"},
    "partial": {"DEPARTMENT_UNAVAILABLE", "DEPARTMENT_BAD_DATA"},
    "frozen": {"DEPARTMENT_TIMEOUT", "DEPARTMENT_UNAVAILABLE"},
    "ledger": {"DEPARTMENT_BAD_DATA", "DEPARTMENT_UNAVAILABLE"},  # bad data counts: the breaker may open
}


def persons(field: str) -> str:
    return f"{{ persons(first: 10) {{ edges {{ node {{ gender {field} }} }} }} }}"


def shops(field: str) -> str:
    return f"{{ shops(first: 10) {{ edges {{ node {{ name {field} }} }} }} }}"


# slug -> (role, purpose, query, field on the node (None: the department owns the rows' scope))
HTTP_CASES: dict[str, tuple[str, str | None, str, str | None]] = {
    "housing": ("developer", None, persons("house { address }"), "house"),
    "greening": ("subdistrict_officer", None, shops("appearance { shopFrontCompliant }"), "appearance"),
    "city_management": ("subdistrict_officer", None, shops("inspections { date }"), "inspections"),
    "hotline": ("subdistrict_officer", None, shops("complaints { caseNumber }"), "complaints"),
    "culture": ("developer", None, ("{ events(first: 5) { edges { node { title } } } persons(first: 3) "
                "{ edges { node { gender } } } }"), None),
    "education": ("committee_secretary", "child_protection", persons("education { stage }"), "education"),
    "health": ("family_doctor", "health_service", ("{ persons(first: 10) { edges { node { gender health "
               "{ hypertension } } } } }"), None),
}
LEDGER_CASES: dict[str, tuple[str, str]] = {
    "hr_social": ("hr_social/employment.csv", persons("employment { status }")),
    "veterans": ("veterans/veterans.csv", persons("veteran { category }")),
    "disability": ("disability/disabled_persons.xlsx", persons("disability { category }")),
    "fire": ("fire/fire_checks.xlsx", shops("fireChecks { checkId }")),
}
LEDGER_PURPOSE = {"disability": "subsidy_review"}
LEDGER_FIELD = {"hr_social": "employment", "veterans": "veteran", "disability": "disability", "fire": "fireChecks"}
UNAFFECTED = ("developer", "{ persons(first: 10) { edges { node { gender welfare { livingAlone } } } } }")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def gateway(env: dict[str, str], base_env: dict[str, str], engine: Any, slug: str) -> Iterator[Api]:
    """A gateway whose department ``slug`` has the matrix's short timeout (the others keep 5 s)."""
    settings = load_settings(env={}, **SETTINGS)
    registry = Registry.from_dir(ADAPTERS_DIR, catalogue(), {**base_env, **env})
    for a in registry:
        if a.name != slug:
            a.limits = a.limits.model_copy(update={"timeout_s": 5.0})
    gw = Gateway(settings, registry=registry, engine=engine)
    srv = EmbeddedServer(gw)
    try:
        yield Api(srv.base, settings, gw)
    finally:
        srv.stop()


class Load:
    """Runs a query concurrently and checks every answer."""

    def __init__(self, api: Api, client: httpx.Client) -> None:
        self.api = api
        self.client = client

    def one(self, query: str, role: str, purpose: str | None) -> tuple[float, int, dict[str, Any]]:
        h = {"Authorization": f"Bearer {self.api.token(role, purpose=purpose)}"}
        t0 = time.perf_counter()
        r = self.client.post(self.api.base + "/graphql", json={"query": query}, headers=h, timeout=30)
        return time.perf_counter() - t0, r.status_code, r.json()

    def run(self, query: str, role: str, purpose: str | None = None) -> list[tuple[float, int, dict[str, Any]]]:
        with ThreadPoolExecutor(CONCURRENCY) as ex:
            out: list[tuple[float, int, dict[str, Any]]] = []
            for _ in range(ROUNDS):
                out += list(ex.map(lambda _: self.one(query, role, purpose), range(CONCURRENCY)))
            return out


def p99(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def codes_of(body: dict[str, Any]) -> list[str]:
    return [(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []]


def check_answers(results: list[tuple[float, int, dict[str, Any]]], slug: str, field: str | None,
                  expect: set[str]) -> set[str]:
    """No 5xx, healthy fields complete, only the expected codes, each naming the department."""
    seen: set[str] = set()
    for _, status, body in results:
        assert status == 200, body
        for e in body.get("errors") or []:
            ext = e.get("extensions") or {}
            assert ext.get("code") in expect, body["errors"]
            assert ext.get("department") == slug, ext
            seen.add(ext["code"])
        for root, conn in (body.get("data") or {}).items():
            if conn is None:
                assert field is None and body.get("errors"), (root, body)  # only when the department owns the rows
                continue
            for edge in conn["edges"]:
                node = edge["node"]
                assert node.get("gender") or node.get("name") or node.get("title"), node  # healthy part is there
    return seen


def recover(load: Load, query: str, role: str, purpose: str | None, slug: str) -> tuple[float, float]:
    """(seconds until a query answers without error, seconds until /readyz shows the department up)."""
    t0 = time.perf_counter()
    served = ready = None
    while served is None or ready is None:
        now = time.perf_counter() - t0
        assert now < 3 * INTERVAL_S + TIMEOUT_S, (served, ready)
        if served is None:
            _, status, body = load.one(query, role, purpose)
            if status == 200 and not body.get("errors"):
                served = time.perf_counter() - t0
        if ready is None:
            rows = load.client.get(load.api.base + "/readyz", timeout=5).json()["adapters"]
            if next(r for r in rows if r["name"] == slug)["status"] == "up":
                ready = time.perf_counter() - t0
        time.sleep(0.05)
    return served, ready


def record(case: str, slug: str, seen: set[str], faulted: list[float], base: list[float],
           served: float, ready: float) -> None:
    RESULTS[f"{case}:{slug}"] = {"codes": sorted(seen), "p99_s": round(p99(faulted), 3),
                                 "baseline_p99_s": round(p99(base), 3), "recovered_s": round(served, 2),
                                 "ready_s": round(ready, 2)}
    (Path(tempfile.gettempdir()) / "fault-matrix.json").write_text(json.dumps(RESULTS, indent=1, sort_keys=True))


def wait_ready(api: Api, client: httpx.Client) -> None:
    deadline = time.monotonic() + 20
    while client.get(api.base + "/readyz", timeout=5).json()["status"] == "starting":
        assert time.monotonic() < deadline
        time.sleep(0.1)


# --- HTTP departments behind the fault proxy ----------------------------------------------------------
@pytest.fixture(scope="module", params=sorted(HTTP_CASES))
def http_dept(request: pytest.FixtureRequest, demo_env: dict[str, str],
              api: Api) -> Iterator[tuple[str, FaultProxy, Load]]:
    slug = request.param
    var = f"{slug.upper()}_URL"
    before = fds()
    proxy = FaultProxy(demo_env[var])
    with httpx.Client() as client, gateway({var: proxy.url}, demo_env, api.gateway.engine, slug) as gw:
        load = Load(gw, client)
        wait_ready(gw, client)
        yield slug, proxy, load
    proxy.close()
    time.sleep(0.2)
    assert fds() <= before + 1, (before, fds())  # nothing leaked: sockets, files, pipes


@pytest.mark.parametrize("mode", ["refuse", "hang", "slow", "reset", "garbage", "partial"])
def test_http_department_fault(http_dept: tuple[str, FaultProxy, Load], mode: str) -> None:
    slug, proxy, load = http_dept
    role, purpose, query, field = HTTP_CASES[slug]
    base = [t for t, _, _ in load.run(query, role, purpose)]
    proxy.set(mode, delay_s=3 * TIMEOUT_S)
    try:
        with ThreadPoolExecutor(1) as side:
            other = side.submit(load.run, UNAFFECTED[1], UNAFFECTED[0])
            results = load.run(query, role, purpose)
            unaffected = other.result()
    finally:
        proxy.set("pass")
    seen = check_answers(results, slug, field, EXPECT[mode])
    assert seen, "the fault never showed"
    assert all(s == 200 and not b.get("errors") for _, s, b in unaffected), "a healthy department was hurt"
    times = [t for t, _, _ in results]
    assert p99(times) <= TIMEOUT_S + 0.1 + p99(base) + NOISE_S, (p99(times), p99(base))
    served, ready = recover(load, query, role, purpose, slug)
    assert served <= INTERVAL_S + NOISE_S, served  # the interval, plus the query that saw it
    assert ready <= INTERVAL_S + TIMEOUT_S, ready
    record(mode, slug, seen, times, base, served, ready)


# --- a frozen process ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_frozen_department_process(demo_dir: Path, demo_env: dict[str, str], api: Api) -> None:
    """A housing service of our own, stopped with SIGSTOP (and always continued)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "demo.services", "housing", "--port", str(port),
                             "--data-dir", str(demo_dir)], stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        role, purpose, query, field = HTTP_CASES["housing"]
        with httpx.Client() as client, gateway({"HOUSING_URL": url}, demo_env, api.gateway.engine, "housing") as gw:
            load = Load(gw, client)
            wait_ready(gw, client)
            base = [t for t, _, _ in load.run(query, role, purpose)]
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                results = load.run(query, role, purpose)
                rz0 = time.perf_counter()
                rz = client.get(gw.base + "/readyz", timeout=5)
                rz_s = time.perf_counter() - rz0
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            assert rz.status_code == 200 and rz_s < 1.0, (rz.status_code, rz_s)
            seen = check_answers(results, "housing", field, EXPECT["frozen"])
            assert seen
            times = [t for t, _, _ in results]
            assert p99(times) <= TIMEOUT_S + 0.1 + p99(base) + NOISE_S, (p99(times), p99(base))
            served, ready = recover(load, query, role, purpose, "housing")
            assert served <= INTERVAL_S + NOISE_S, served
            record("frozen", "housing", seen, times, base, served, ready)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


# --- corrupted ledgers -----------------------------------------------------------------------------------
def corrupt(path: Path, how: str) -> None:
    raw = path.read_bytes()
    xlsx = path.suffix == ".xlsx"
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":  # a copy that stopped in the middle of a row
        cut = int(len(raw) * 0.6)
        path.write_bytes(raw[:cut] if xlsx else raw[: raw.index(b",", cut) + 1])
    elif how == "bad_encoding":  # a mis-saved export: the BOM and the first bytes are not UTF-8
        path.write_bytes(os.urandom(256) if xlsx else b"\xff\xfe" + raw[3:])
    elif how == "bad_header":
        if xlsx:
            _edit_sheet(path, lambda ws: [setattr(c, "value", f"col{i}") for i, c in enumerate(ws[1])])
        else:
            text = raw.decode("utf-8-sig")
            head, _, rest = text.partition("\n")
            path.write_text(",".join(f"col{i}" for i in range(head.count(",") + 1)) + "\n" + rest, encoding="utf-8")
    elif how == "wrong_columns":
        if xlsx:
            _edit_sheet(path, lambda ws: ws.delete_cols(2, 3))
        else:  # every data row lost a column; the header did not
            lines = raw.decode("utf-8-sig").splitlines()
            body = [ln.rsplit(",", 1)[0] for ln in lines[1:]]
            path.write_text("\n".join([lines[0], *body]) + "\n", encoding="utf-8")


def _edit_sheet(path: Path, fn: Callable[[Any], Any]) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0] if path.stem != "fire_checks" else wb["检查台账"]
    fn(ws)
    wb.save(path)


@pytest.fixture(scope="module")
def ledger_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo data: the shared one is never corrupted."""
    root = tmp_path_factory.mktemp("fault-ledgers") / "demo"
    shutil.copytree(demo_dir, root)
    return root


@pytest.mark.parametrize("how", ["bad_header", "bad_encoding", "empty", "truncated", "wrong_columns"])
@pytest.mark.parametrize("slug", sorted(LEDGER_CASES))
def test_corrupted_ledger(slug: str, how: str, ledger_dir: Path, demo_dir: Path, demo_env: dict[str, str],
                          api: Api) -> None:
    rel, query = LEDGER_CASES[slug]
    field = LEDGER_FIELD[slug]
    role, purpose = "subdistrict_officer", LEDGER_PURPOSE.get(slug)
    path = ledger_dir / rel
    good = (demo_dir / rel).read_bytes()
    corrupt(path, how)
    before = fds()
    try:
        with httpx.Client() as client, gateway({"GATEWAY_DEMO_DIR": str(ledger_dir)}, demo_env,
                                               api.gateway.engine, slug) as gw:
            load = Load(gw, client)
            wait_ready(gw, client)
            rows = client.get(gw.base + "/readyz", timeout=5).json()["adapters"]
            row = next(r for r in rows if r["name"] == slug)
            assert row["status"] == "down" and row.get("detail"), row  # said, with the reason
            results = load.run(query, role, purpose)
            seen = check_answers(results, slug, field, EXPECT["ledger"])
            assert seen
            for _, _, body in results:  # every row: the department's field null, with the code
                nodes = [e["node"] for e in next(iter(body["data"].values()))["edges"]]
                assert nodes and all(n[field] is None for n in nodes)
            times = [t for t, _, _ in results]
            path.write_bytes(good)  # the fault ends
            served, ready = recover(load, query, role, purpose, slug)
            assert served <= INTERVAL_S + NOISE_S and ready <= 2 * INTERVAL_S, (served, ready)
            # corrupted again while running: the last good version is served on, /readyz says degraded
            corrupt(path, how)
            deadline = time.monotonic() + 2 * INTERVAL_S + 1
            while True:
                rows = client.get(gw.base + "/readyz", timeout=5).json()["adapters"]
                row = next(r for r in rows if r["name"] == slug)
                if row["status"] == "degraded" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert row["status"] == "degraded", row
            again = load.run(query, role, purpose)
            assert all(s == 200 and not b.get("errors") for _, s, b in again), "the last good version is served"
            record(f"ledger-{how}", slug, seen, times, times, served, ready)
    finally:
        path.write_bytes(good)
    time.sleep(0.2)
    assert fds() <= before + 1, (before, fds())
