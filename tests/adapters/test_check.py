"""Specs checked against the live systems: `gateway adapters check`, /readyz, and no silent nulls.

A copy of the real adapters folder with one mistake at a time, over the demo systems of the
test session (SQLite, the seven HTTP services, the ledgers). Asserted on exit codes and
problem details (department, path, line, key, columns), never on message text.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli import main
from tests.helpers import ADAPTERS_DIR, Api, codes

# (department, entity, field, the source as the spec has it, the misspelling)
MISSPELT = [
    ("civil_affairs", "Welfare", "elderlyAllowance", "elderly_allowance", "elderly_allowence"),  # sql
    ("hr_social", "Employment", "employer", "工作单位", "工作单"),  # ledger (CSV)
    ("greening", "Appearance", "lastCheck", "lastCheck", "lastChecked"),  # http
]


def copy_adapters(tmp: Path, dept: str, old: str, new: str) -> Path:
    """The real adapters folder with ``old`` replaced by ``new`` once in one department's spec; that spec."""
    root = tmp / "adapters"
    shutil.copytree(ADAPTERS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    # the class adapter of city_management is imported by name: it stays importable from the project
    spec = root / dept / "spec.yaml"
    text = spec.read_text(encoding="utf-8")
    assert f"source: {old}," in text or f"source: {old}}}" in text, (dept, old)
    spec.write_text(text.replace(f"source: {old}", f"source: {new}", 1), encoding="utf-8")
    return spec


def line_of(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in ln)


def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str],
          root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GATEWAY_ADAPTERS_DIR", str(root))
    rc = main(["adapters", "check", *args, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_the_real_specs_check_clean(demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = check(monkeypatch, capsys, demo_env, ADAPTERS_DIR)
    assert (rc, out["ok"], out["problems"]) == (0, True, [])
    assert {d["status"] for d in out["departments"]} == {"ok"} and len(out["departments"]) == 16


@pytest.mark.parametrize(("dept", "entity", "field", "old", "new"), MISSPELT, ids=[m[0] for m in MISSPELT])
def test_a_misspelt_column_is_named_with_the_columns_that_exist(
        tmp_path: Path, demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        dept: str, entity: str, field: str, old: str, new: str) -> None:
    spec = copy_adapters(tmp_path, dept, old, new)
    rc, out = check(monkeypatch, capsys, demo_env, spec.parent.parent, dept)
    assert rc == 1 and not out["ok"]
    [p] = out["problems"]
    assert (p["department"], p["path"], p["key"]) == (dept, str(spec), f"entities.{entity}.fields.{field}.source")
    assert p["line"] == line_of(spec, f"source: {new}")
    assert p["source"] == new and old in p["columns"] and new not in p["columns"]
    assert [d["status"] for d in out["departments"]] == ["problems"]


def test_sample_values_that_do_not_convert_are_reported(tmp_path: Path, demo_env: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "adapters"
    shutil.copytree(ADAPTERS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    spec = root / "hr_social" / "spec.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace('"在职": EMPLOYED, ', ""), encoding="utf-8")  # a code the map no longer knows
    rc, out = check(monkeypatch, capsys, demo_env, root, "hr_social")
    assert rc == 1
    [p] = out["problems"]
    assert (p["key"], p["line"]) == ("entities.Employment.fields.status.transform", line_of(spec, "transform: [{map:"))
    assert 0 < p["bad"] <= p["sampled"]


def test_an_unknown_department_or_an_unreachable_one_exits_non_zero(
        demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for k, v in demo_env.items():
        monkeypatch.setenv(k, v)
    assert main(["adapters", "check", "nope"]) == 2
    monkeypatch.setenv("GREENING_URL", "http://127.0.0.1:9")  # nothing listens there
    rc, out = check(monkeypatch, capsys, {}, ADAPTERS_DIR, "greening")
    assert rc == 1 and out["departments"] == [{"name": "greening", "status": "unreachable",
                                              "reason": "DEPARTMENT_UNAVAILABLE"}]


def wait_for(api: Api, name: str, want: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = {a["name"]: a for a in httpx.get(api.base + "/readyz", timeout=30).json()["adapters"]}
        if rows[name]["status"] == want or time.monotonic() > deadline:
            return rows[name]
        time.sleep(0.1)


def test_readyz_shows_the_department_degraded_and_its_fields_are_never_silently_null(
        tmp_path: Path, make_api: Callable[..., Api]) -> None:
    spec = copy_adapters(tmp_path, "civil_affairs", "elderly_allowance", "elderly_allowence")
    api = make_api(adapters_dir=spec.parent.parent)
    row = wait_for(api, "civil_affairs", "degraded")
    assert row["status"] == "degraded", row
    assert "entities.Welfare.fields.elderlyAllowance.source" in row["detail"]
    assert wait_for(api, "population", "up")["status"] == "up"  # the others serve as before
    body = api.gql("{ persons(first: 5) { edges { node { name welfare { elderlyAllowance livingAlone } } } } }",
                   api.token("civil_affairs_officer"))
    nodes = [e["node"] for e in body["data"]["persons"]["edges"]]
    assert nodes and all(n["name"] for n in nodes) and all(n["welfare"] is None for n in nodes)
    assert set(codes(body)) == {"DEPARTMENT_BAD_DATA"}
    assert {e["extensions"]["department"] for e in body["errors"]} == {"civil_affairs"}


def test_check_without_department_urls_checks_the_embedded_demo(demo_dir: Path) -> None:
    """The specs' defaults are the demo's systems: with no URL set, the check runs the demo's services itself."""
    import os
    import subprocess
    import sys

    from demo.launch import ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS.values() and not k.startswith("GATEWAY_")}
    env["GATEWAY_DEMO_DIR"] = str(demo_dir)
    r = subprocess.run([str(Path(sys.executable).parent / "gateway"), "adapters", "check", "housing"], env=env, check=False,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(line.split()[:2] == ["ok", "housing"] for line in r.stdout.splitlines()), r.stdout
