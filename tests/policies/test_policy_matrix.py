from __future__ import annotations

import csv
import io
import re

import pytest

from policies.engine import PolicyEngine
from policies.matrix import matrix, render
from policies.vocabulary import Effect, Label, Word
from resolvers.schema_def import root_coordinates
from schema.build import field_meta as build_field_meta


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    meta = build_field_meta()
    return matrix(PolicyEngine(field_meta=meta), meta, root_coordinates())


def _row(rows: list[dict[str, str]], field: str) -> dict[str, str]:
    return next(r for r in rows if r["field"] == field)


def test_cells(rows: list[dict[str, str]]) -> None:
    assert _row(rows, "Person.idNumber")["committee_worker"] == "masked"
    assert _row(rows, "HealthRecord.diabetes")["family_doctor"] == "allow (health_service)"
    assert _row(rows, "House.address")["committee_worker"] == "allow (resident_service, standing)"
    assert _row(rows, "Person.gender")["district_analyst"] == "aggregate"
    assert _row(rows, "Person.name")["auditor"] == "denied"
    assert _row(rows, "Gateway.audit")["auditor"] == "use"
    assert _row(rows, "Gateway.trace")["auditor"] == "no grant"
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
    cells = re.findall(r'<td class="w-([a-z-]+)"[^>]*>([a-z ]+)', page)
    assert len(cells) == len(rows) * (len(rows[0]) - 3)
    assert all(cls == word.replace(" ", "-") for cls, word in cells)
    with pytest.raises(ValueError):
        render(rows, "pdf")


def test_rows_are_derived_roots_fields_then_capabilities(rows: list[dict[str, str]]) -> None:
    fields = [r["field"] for r in rows]
    roots = root_coordinates()
    assert fields[:len(roots)] == roots
    assert {"Query.auditLog", "Query.accessesOf"} <= set(fields)
    assert _row(rows, "Query.auditLog")["auditor"] == "allow"
    assert _row(rows, "Query.accessesOf")["committee_worker"] == "no grant"
    assert fields[-4:] == ["Gateway.trace", "Gateway.adapters", "Gateway.policies", "Gateway.audit"]
    assert len(fields) == len(set(fields))


def test_cells_use_the_one_vocabulary(rows: list[dict[str, str]]) -> None:
    words = {Label.parse(r[role]).word for r in rows for role in list(r)[3:]}
    assert words == set(Word)
    assert {e.word for e in Effect} == set(Word) - {Word.NO_GRANT, Word.USE}
    assert str(Label.parse("allow (resident_service, standing)")) == "allow (resident_service, standing)"


def test_html_page_groups_departments_and_notes_duties(rows: list[dict[str, str]]) -> None:
    engine = PolicyEngine()
    page = render(rows, "html", engine.duties(), {"population": "Population registry"}, engine.version)
    assert page.startswith("<!doctype html>") and engine.version in page
    assert not re.search(r'(src|href)=|url\(|@import', page)  # nothing fetched: one self-contained file
    assert 'id="legend"' in page and all(f">{w}</span></dt>" in page for w in Word)
    groups = re.findall(r'<tr class="group"><th scope="rowgroup"[^>]*><span class="name">([^<]+)', page)
    assert groups[0] == "Entry points" and groups[-1] == "Gateway features" and "Population registry" in groups
    assert len(groups) == len(set(groups))
    assert 'class="duty">visits and serves the residents of their committee<' in page
    assert '<td class="w-allow" title="allow; a health purpose needed: only when the caller declares ' \
           'health_service">allow<small>needs purpose health_service</small></td>' in page
    assert "allow<small>standing purpose resident_service</small>" in page
    assert '<span class="sens purpose" title="sensitive: health">health</span>' in page
