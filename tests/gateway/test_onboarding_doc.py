"""The worked example of docs/adapter-spec.md, run verbatim: a sixteenth department from a spec alone.

The fenced blocks titled ``adapters/...`` and ``policies/...`` are written into a copy of the
project's adapters/ and policies/ folders; the ledger block gives the file's header and
first rows, and rows for real residents of the test demo are added. A real `gateway serve`
runs over the copy; the granted role sees the subsidies, other roles get nulls with
UNAUTHORIZED_FIELD_OR_TYPE, and the department is in the SDL, /readyz and `adapters list`.
The project's own adapters/ keeps its sixteen departments.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import issue
from gateway.embedded import free_port
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adapter-spec.md"
GATEWAY = str(Path(sys.executable).parent / "gateway")
BLOCK = re.compile(r"^```(\w+) title=(\S+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
GRANTED, OTHERS = "civil_affairs_officer", ("committee_worker", "developer", "subdistrict_officer")


def blocks() -> dict[str, str]:
    """title -> text of every titled block of the worked example."""
    text = DOC.read_text(encoding="utf-8")
    example = text[text.index("## Worked example"):]
    return {m.group(2): m.group(3) for m in BLOCK.finditer(example)}


def ledger_rows(demo_dir: Path, header: list[str], examples: list[list[str]], n: int = 60) -> list[list[str]]:
    """The doc's rows, then one per resident among the first ``n`` by ID number (the first page of persons)."""
    with sqlite3.connect(demo_dir / "population.db") as con:
        people = con.execute("SELECT sfzh, jzdm FROM rk_jbxx ORDER BY sfzh LIMIT ?", (n,)).fetchall()
    rows = list(examples)
    for i, (id_number, place) in enumerate(people):
        model = dict(zip(header, examples[i % len(examples)], strict=True))
        model.update(id_number=id_number, committee_code=str(place)[:12])
        rows.append([model[h] for h in header])
    return rows


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("onboarding")
    shutil.copytree(ROOT / "adapters", root / "adapters", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "policies", root / "policies", ignore=shutil.ignore_patterns("__pycache__"))
    found = blocks()
    assert {"adapters/canteen/spec.yaml", "policies/canteen.csv", "var/canteen/meal_subsidies.csv"} <= set(found)
    for title, text in found.items():
        target = root / title
        target.parent.mkdir(parents=True, exist_ok=True)
        if title.startswith("var/"):
            header, *examples = list(csv.reader(io.StringIO(text)))
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows([header, *ledger_rows(demo_dir, header, examples)])
            text = buf.getvalue()
        target.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def env(copy: Path, demo_env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in demo_env.items() if not k.startswith("GATEWAY_")},
            "GATEWAY_DEMO_DIR": demo_env["GATEWAY_DEMO_DIR"], "GATEWAY_ADAPTERS_DIR": str(copy / "adapters"),
            "GATEWAY_POLICY_DIR": str(copy / "policies"), "CANTEEN_DIR": str(copy / "var" / "canteen"),
            "GATEWAY_DEV_MODE": "1", "GATEWAY_AUDIT_URL": f"sqlite+aiosqlite:///{copy / 'audit.db'}",
            "GATEWAY_HEALTH_INTERVAL_S": "0.5"}


def readyz(base: str) -> dict[str, Any]:
    return {a["name"]: a for a in httpx.get(base + "/readyz", timeout=10).json()["adapters"]}


@pytest.fixture(scope="module")
def served(env: dict[str, str], copy: Path) -> Iterator[str]:
    port = free_port()
    log = (copy / "serve.log").open("w+b")
    p = subprocess.Popen([GATEWAY, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log,
                         start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert p.poll() is None, (copy / "serve.log").read_text(encoding="utf-8")[-3000:]
            try:
                if readyz(base)["canteen"]["status"] == "up":
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            assert time.monotonic() < deadline, (copy / "serve.log").read_text(encoding="utf-8")[-3000:]
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(30)
        log.close()


def ask(base: str, role: str) -> dict[str, Any]:
    token = issue(load_settings(env={}), "onboarding", [role], "310107005", None)
    r = httpx.post(base + "/graphql", json={"query": blocks()["query"]}, timeout=60,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_project_keeps_its_sixteen_departments() -> None:
    assert not (ROOT / "adapters" / "canteen").exists()
    assert not (ROOT / "policies" / "canteen.csv").exists()


def test_the_granted_role_sees_the_subsidies(served: str) -> None:
    body = ask(served, GRANTED)
    assert not body.get("errors"), body.get("errors")
    nodes = [e["node"] for e in body["data"]["persons"]["edges"]]
    subsidies = [n["mealSubsidy"] for n in nodes if n["mealSubsidy"]]
    assert len(subsidies) >= 40, len(subsidies)  # the generated rows of the first page's residents
    for s in subsidies:
        assert s["subsidyType"] in {"FREE", "HALF_PRICE", "DELIVERY"}
        assert "*" in s["idNumber"] and len(s["idNumber"]) == 18  # masked, as the policy says
        assert isinstance(s["monthlyAmount"], float) and s["since"][:2] == "20" and s["canteenName"]


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_get_nothing(served: str, role: str) -> None:
    body = ask(served, role)
    nodes = [e["node"] for e in body["data"]["persons"]["edges"]]
    assert nodes and all(n["mealSubsidy"] is None for n in nodes)
    errors = body["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    assert any(e["path"][-1] == "mealSubsidy" for e in errors)


def test_it_is_in_the_sdl_readyz_and_the_list(served: str, env: dict[str, str], copy: Path) -> None:
    row = readyz(served)["canteen"]
    assert (row["kind"], row["department"], row["status"]) == ("ledger", "Community canteen", "up")
    out = copy / "schema.graphql"
    assert run(env, "schema", "export", "-o", str(out)).returncode == 0
    sdl = out.read_text(encoding="utf-8")
    assert "type MealSubsidy {" in sdl and "enum SubsidyType {" in sdl and "  mealSubsidy: MealSubsidy\n" in sdl
    assert "Source: Community canteen (canteen). Sensitive: identity." in sdl
    p = run(env, "adapters", "list", "--json")
    listed = {r["name"]: r for r in json.loads(p.stdout)}
    assert len(listed) == 17 and listed["canteen"]["entities"] == ["MealSubsidy"]
    assert listed["canteen"]["types"] == ["MealSubsidy"] and listed["canteen"]["kind"] == "ledger"
    assert run(env, "adapters", "validate", str(copy / "adapters" / "canteen")).returncode == 0
    checked = run(env, "adapters", "check", "canteen", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], checked.stdout


def test_the_matrix_says_no_grant_until_the_policy_line(env: dict[str, str]) -> None:
    def cell(policy_dir: str) -> str:
        p = run({**env, "GATEWAY_POLICY_DIR": policy_dir}, "policy", "matrix", "--format", "csv")
        assert p.returncode == 0, p.stderr
        rows = {r["field"]: r for r in csv.DictReader(io.StringIO(p.stdout))}
        return rows["Person.mealSubsidy"][GRANTED]
    assert cell(str(ROOT / "policies")) == "no grant"
    assert cell(env["GATEWAY_POLICY_DIR"]) == "allow"


def test_the_mistake_the_doc_shows(tmp_path: Path, env: dict[str, str], copy: Path) -> None:
    """A misspelt column: the file, line, key and the columns that exist, as the doc says."""
    spec = tmp_path / "adapters" / "canteen" / "spec.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(blocks()["adapters/canteen/spec.yaml"].replace("source: monthly_yuan", "source: monthly_yaun"),
                    encoding="utf-8")
    p = run({**env, "GATEWAY_ADAPTERS_DIR": str(tmp_path / "adapters")}, "adapters", "check", "canteen", "--json")
    assert p.returncode == 1, p.stdout + p.stderr
    [problem] = json.loads(p.stdout)["problems"]
    doc = DOC.read_text(encoding="utf-8")
    said = re.search(r"`adapters/canteen/spec\.yaml:(\d+)\s+(\S+):", doc)
    assert said is not None
    assert (problem["department"], problem["path"]) == ("canteen", str(spec))
    assert (problem["line"], problem["key"]) == (int(said.group(1)), said.group(2))
    header = next(csv.reader(io.StringIO(blocks()["var/canteen/meal_subsidies.csv"])))
    assert problem["columns"] == header
