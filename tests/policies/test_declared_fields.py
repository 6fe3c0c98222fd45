"""Secure by construction: what a department's spec adds is denied until a rule names it.

A field of a declared type is granted only by a rule naming its type (``MealSubsidy.*`` or
the field); a field added to a core type only by a rule naming that field: grants written
before it existed (``Person.*``, ``*.amount``) never reach it. Deny rules still do.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from policies.engine import DEFAULT_DIR, PolicyEngine
from policies.matrix import matrix
from schema.build import field_meta

ADDED = {
    "MealSubsidy.amount": {"department": "canteen", "sensitive": None, "mask": None, "origin": "spec"},
    "MealSubsidy.idNumber": {"department": "canteen", "sensitive": "identity", "mask": "id_number", "origin": "spec"},
    "Person.mealSubsidy": {"department": "canteen", "sensitive": None, "mask": None, "origin": "link"},
}


@pytest.fixture(scope="module")
def meta() -> dict[str, Any]:
    return {**field_meta(), **ADDED}


def engine_with(tmp_path: Path, meta: dict[str, Any], *lines: str) -> PolicyEngine:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.md"))
    (folder / "canteen.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return PolicyEngine(folder, meta)


def test_nothing_added_is_granted_by_older_wildcards(meta: dict[str, Any]) -> None:
    engine = PolicyEngine(field_meta=meta)  # developer holds Person.* read; nobody names the new fields
    for role in engine.roles():
        for coordinate in ADDED:
            d = engine.decide([role], None, coordinate)
            assert d.effect == "deny", (role, coordinate, d)
    assert engine.decide(["developer"], None, "Person.mealSubsidy").reason == "no_grant"
    assert engine.decide(["developer"], None, "Person.name").effect != "deny"  # Person.* still reaches the core
    assert engine.decide(["auditor"], None, "Person.mealSubsidy").reason == "denied_by_rule"  # Person.* deny does


def test_the_matrix_lists_them_as_no_grant(meta: dict[str, Any]) -> None:
    rows = {r["field"]: r for r in matrix(PolicyEngine(field_meta=meta), meta)}
    for coordinate in ADDED:
        row = rows[coordinate]
        assert row["department"] == "canteen"
        cells = {row[r] for r in row if r not in ("field", "department", "sensitivity")}
        assert cells <= {"no grant", "denied"}, row  # denied: a deny rule (e.g. *.idNumber) reaches it too
    row = rows["Person.mealSubsidy"]
    guarded = ("auditor", "district_analyst", "inspector")  # guardrails.csv: Person.* deny
    assert {row[r] for r in row if r not in ("field", "department", "sensitivity", *guarded)} == {"no grant"}
    assert {row[r] for r in guarded} == {"denied"}


def test_rules_that_name_them_grant_them(tmp_path: Path, meta: dict[str, Any]) -> None:
    engine = engine_with(tmp_path, meta, "p, civil_affairs_officer, MealSubsidy.*, read, allow",
                         "p, civil_affairs_officer, Person.mealSubsidy, read, allow",
                         "p, developer, *.amount, read, allow", "p, developer, *.mealSubsidy, read, allow")
    for coordinate in ("MealSubsidy.amount", "Person.mealSubsidy"):
        assert engine.decide(["civil_affairs_officer"], None, coordinate).effect == "allow"
        assert engine.decide(["developer"], None, coordinate).effect == "deny"  # a cross-type wildcard: no
    # civil_affairs_officer's *.idNumber read deny (guardrails.csv) still applies
    assert engine.decide(["civil_affairs_officer"], None, "MealSubsidy.idNumber").effect == "deny"
    assert engine.explain("civil_affairs_officer", None, "Person.mealSubsidy").rule == \
        "p, civil_affairs_officer, Person.mealSubsidy, read, allow"
