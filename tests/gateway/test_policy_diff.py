"""`gateway policy diff A B` as an auditor runs it: two folders, two git revisions, the working tree."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import PROJECT

GATEWAY = str(Path(sys.executable).parent / "gateway")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
POLICIES = PROJECT / "policies"
PHONE_READ = "p, committee_worker, Person.phone, read, allow"
PHONE_MASKED = "p, committee_worker, Person.phone, read_masked, allow"
INHERIT = "g, committee_secretary, committee_worker"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], check=False, capture_output=True, text=True, cwd=PROJECT,
                          env=env or CLEAN_ENV, timeout=180)


def copy_policies(to: Path) -> Path:
    shutil.copytree(POLICIES, to, ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    return to


def edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(folder: Path, file: str, text: str) -> int:
    return (folder / file).read_text(encoding="utf-8").splitlines().index(text) + 1


def diff_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    p = run("policy", "diff", *args, "--json", env=env)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout)


def cells(result: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...], str, str]]:
    return {(c["role"], c["field"], tuple(c["asked"]), c["before"], c["after"]) for c in result["changes"]}


def cited(result: dict[str, Any], role: str, field: str) -> set[tuple[str, str, int, str]]:
    change = next(c for c in result["changes"] if (c["role"], c["field"]) == (role, field))
    return {(r["mark"], r["file"], r["line"], r["text"]) for r in change["rules"]}


PHONE_CELLS = {("committee_worker", "Person.phone", (), "allow", "masked"),
               ("committee_secretary", "Person.phone", (), "allow", "masked")}  # the secretary inherits it


def assert_phone_change(result: dict[str, Any], folder: Path) -> None:
    assert cells(result) == PHONE_CELLS
    n = line_of(folder, "persons.csv", PHONE_MASKED)
    own = {("+", "persons.csv", n, PHONE_MASKED), ("-", "persons.csv", n, PHONE_READ)}
    assert cited(result, "committee_worker", "Person.phone") == own
    assert cited(result, "committee_secretary", "Person.phone") == \
        own | {(" ", "roles.csv", line_of(folder, "roles.csv", INHERIT), INHERIT)}
    assert result["others"] == []


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pdiff")
    a, b = copy_policies(root / "a"), copy_policies(root / "b")
    edit(b, "persons.csv", PHONE_READ, PHONE_MASKED)
    return a, b


def test_one_line_change_between_folders_is_exactly_its_cells(two_folders: tuple[Path, Path]) -> None:
    a, b = two_folders
    code, result = diff_json(str(a), str(b))
    assert code == 1
    assert_phone_change(result, b)
    p = run("policy", "diff", str(a), str(b))
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert "committee_worker Person.phone: allow → masked" in lines
    assert "committee_secretary Person.phone: allow → masked" in lines
    n = line_of(b, "persons.csv", PHONE_MASKED)
    assert f"  + persons.csv:{n}  {PHONE_MASKED}" in lines and f"  - persons.csv:{n}  {PHONE_READ}" in lines


def test_same_policy_is_no_change(two_folders: tuple[Path, Path]) -> None:
    a, _ = two_folders
    p = run("policy", "diff", str(a), "WORKTREE")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("no change")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_two_git_revisions_and_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    policies = copy_policies(repo / "policies")
    git(repo, "add", "policies")
    git(repo, "commit", "-q", "-m", "policy as it is")
    edit(policies, "persons.csv", PHONE_READ, PHONE_MASKED)
    git(repo, "commit", "-q", "-am", "committee workers see phones masked")
    env = {**CLEAN_ENV, "GATEWAY_POLICY_DIR": str(policies)}
    t0 = time.perf_counter()
    code, result = diff_json("HEAD~1", "HEAD", env=env)
    elapsed = time.perf_counter() - t0
    assert code == 1
    assert_phone_change(result, policies)
    assert result["a"].startswith("HEAD~1 (") and result["b"].startswith("HEAD (")
    print(f"policy diff of two revisions: {elapsed:.1f} s")
    assert elapsed < 60, elapsed

    # an uncommitted grant of a capability the committed policy never names: `no grant` before
    with (policies / "capabilities.csv").open("a", encoding="utf-8") as fh:
        fh.write("p, inspector, Gateway.export, use, allow\n")
    code, result = diff_json("HEAD", ".", env=env)
    assert code == 1
    assert cells(result) == {("inspector", "Gateway.export", (), "no grant", "use")}
    code, result = diff_json("HEAD~1", "WORKTREE", env=env)
    assert cells(result) == PHONE_CELLS | {("inspector", "Gateway.export", (), "no grant", "use")}


def test_a_purpose_grant_shows_in_the_cells_it_opens(tmp_path: Path) -> None:
    a, b = copy_policies(tmp_path / "a"), copy_policies(tmp_path / "b")
    new = "p2, family_doctor, health, elderly_care_visit"
    with (b / "health.csv").open("a", encoding="utf-8") as fh:
        fh.write(new + "\n# a comment changes no cell\nbudget, inspector, 7\n")
    code, result = diff_json(str(a), str(b))
    assert code == 1
    changes = cells(result)
    assert ("family_doctor", "HealthRecord.diabetes", (), "allow (health_service)",
            "allow (elderly_care_visit, health_service)") in changes
    assert {(role, before, after) for role, _, _, before, after in changes} == \
        {("family_doctor", "allow (health_service)", "allow (elderly_care_visit, health_service)")}
    n = line_of(b, "health.csv", new)
    assert all(("+", "health.csv", n, new) in cited(result, "family_doctor", field) for _, field, *_ in changes)
    assert [(r["mark"], r["text"]) for r in result["others"]] == [("+", "budget, inspector, 7")]


def test_a_change_under_the_best_purpose_shows_per_purpose(tmp_path: Path) -> None:
    """The cell shows the best purpose only; what the role gets without it is compared too."""
    a, b = copy_policies(tmp_path / "a"), copy_policies(tmp_path / "b")
    new = "p, civil_affairs_officer, Disability.grade, aggregate, allow"
    with (b / "welfare.csv").open("a", encoding="utf-8") as fh:
        fh.write(new + "\n")
    code, result = diff_json(str(a), str(b))
    assert code == 1
    (change,) = result["changes"]
    assert (change["role"], change["field"], change["before"], change["after"]) == \
        ("civil_affairs_officer", "Disability.grade", "denied", "aggregate")
    assert "no purpose" in change["asked"] and "subsidy_review" not in change["asked"]
    assert cited(result, "civil_affairs_officer", "Disability.grade") >= \
        {("+", "welfare.csv", line_of(b, "welfare.csv", new), new)}


@pytest.mark.parametrize("side", ["no-such-revision", "HEAD~100000", "folder-without-model"])
def test_a_side_that_cannot_be_read_is_an_error(side: str, tmp_path: Path) -> None:
    if side == "folder-without-model":
        (tmp_path / "empty").mkdir()
        side = str(tmp_path / "empty")
    p = run("policy", "diff", side, "WORKTREE")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "[POLICY_SOURCE_NOT_FOUND]" in p.stderr and "Traceback" not in p.stderr


def test_a_malformed_side_names_its_error(tmp_path: Path) -> None:
    b = copy_policies(tmp_path / "b")
    edit(b, "persons.csv", PHONE_READ, "p, committee_worker, Person.phone, peek, allow")
    p = run("policy", "diff", "WORKTREE", str(b))
    assert p.returncode == 2
    assert "[POLICY_INVALID]" in p.stderr and "Traceback" not in p.stderr
