"""Runs decision_table.csv, the auditor-readable truth table, against the real policy files."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from policies.engine import PolicyEngine
from policies.loader import PURPOSE_CATEGORIES
from policies.vocabulary import Effect
from resolvers.schema_def import root_coordinates
from schema.build import field_meta as build_field_meta

TABLE = Path(__file__).with_name("decision_table.csv")


def _rows() -> list[dict[str, str]]:
    lines = [ln for ln in TABLE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines))


ROWS = _rows()


@pytest.fixture(scope="module")
def field_meta() -> dict[str, dict[str, Any]]:
    return build_field_meta()


@pytest.fixture(scope="module")
def engine(field_meta: dict[str, dict[str, Any]]) -> PolicyEngine:
    return PolicyEngine(field_meta=field_meta)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['role']}|{r['purpose']}|{r['field']}" for r in ROWS])
def test_decision(engine: PolicyEngine, row: dict[str, str]) -> None:
    purpose = row["purpose"] or None
    if row["field"].startswith("Gateway."):
        got = "allow" if engine.can_use([row["role"]], row["field"]) else "deny"
    elif row["field"].startswith("Mutation."):  # the write action: allow or deny
        got = engine.decide_write([row["role"]], row["field"]).effect
    else:
        got = engine.decide([row["role"]], purpose, row["field"]).effect
    assert got == row["expected"], engine.explain(row["role"], purpose, row["field"])


def test_table_uses_only_known_values(engine: PolicyEngine, field_meta: dict[str, Any]) -> None:
    for row in ROWS:
        assert row["role"] in engine.roles()
        assert row["expected"] in set(Effect)
        assert not row["purpose"] or row["purpose"] in engine.purposes()


def test_table_covers_every_sensitive_field_for_every_role(engine: PolicyEngine,
                                                           field_meta: dict[str, Any]) -> None:
    seen = {(r["role"], r["field"]) for r in ROWS if not r["purpose"]}
    with_purpose = {(r["role"], r["field"]) for r in ROWS if r["purpose"]}
    for coordinate, meta in field_meta.items():
        if not meta["sensitive"]:
            continue
        for role in engine.roles():
            assert (role, coordinate) in seen, f"missing row: {role}, {coordinate}"
            if meta["sensitive"] in PURPOSE_CATEGORIES:
                assert (role, coordinate) in with_purpose, f"missing purpose row: {role}, {coordinate}"


def test_table_covers_root_fields_and_capabilities(engine: PolicyEngine) -> None:
    """Every entry point of the schema (Query.*, Mutation.*, Node.id) and every capability the policy names."""
    roots = root_coordinates()
    assert {"Query.persons", "Query.auditLog", "Query.accessesOf", "Node.id"} <= set(roots)
    seen = {(r["role"], r["field"]) for r in ROWS}
    for role in engine.roles():
        for coordinate in (*roots, *engine.capabilities()):
            assert (role, coordinate) in seen, f"missing row: {role}, {coordinate}"
