from __future__ import annotations

import csv
import io

import pytest

from policies.engine import PolicyEngine
from policies.matrix import matrix, render
from schema.build import field_meta as build_field_meta


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    meta = build_field_meta()
    return matrix(PolicyEngine(field_meta=meta), meta)


def _row(rows: list[dict[str, str]], field: str) -> dict[str, str]:
    return next(r for r in rows if r["field"] == field)


def test_cells(rows: list[dict[str, str]]) -> None:
    assert _row(rows, "Person.idNumber")["committee_worker"] == "masked"
    assert _row(rows, "HealthRecord.diabetes")["family_doctor"] == "allow (health_service)"
    assert _row(rows, "House.address")["committee_worker"] == "allow (resident_service, standing)"
    assert _row(rows, "Person.gender")["district_analyst"] == "aggregate"
    assert _row(rows, "Person.name")["auditor"] == "denied"
    assert _row(rows, "Gateway.audit")["auditor"] == "use"
    assert _row(rows, "Person.health")["department"] == "health"
    assert _row(rows, "Person.health")["sensitivity"] == "health"


def test_without_purposes(rows: list[dict[str, str]]) -> None:
    meta = build_field_meta()
    plain = matrix(PolicyEngine(field_meta=meta), meta, roles=["family_doctor"], purpose_per_role=False)
    assert _row(plain, "HealthRecord.diabetes")["family_doctor"] == "denied"
    assert list(plain[0]) == ["field", "department", "sensitivity", "family_doctor"]


def test_render_formats(rows: list[dict[str, str]]) -> None:
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert parsed == rows
    md = render(rows, "md").splitlines()
    assert md[0].startswith("| field | department | sensitivity |") and len(md) == len(rows) + 2
    page = render(rows, "html")
    assert page.count("<tr>") == len(rows) + 1 and '<td class="masked">masked</td>' in page
    with pytest.raises(ValueError):
        render(rows, "pdf")
