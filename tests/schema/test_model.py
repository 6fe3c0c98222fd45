"""The schema is the curated core plus what the departments' specs declare; schema/ holds no department's types."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from adapters.registry import load_specs
from resolvers.schema_def import build_schema, sdl
from schema.build import core
from schema.model import default_model, model_of
from tests.adapters.test_declarations import CANTEEN, write

ROOT = Path(__file__).resolve().parents[2]


def test_schema_holds_no_department_record_types() -> None:
    assert not (ROOT / "schema" / "records.py").exists()
    declared = set(default_model().types)
    assert len(declared) == 17 and {"Welfare", "EventRegistration", "WaterAccount", "Visit", "HouseStatusRecord",
                                    "ServiceFacility"} <= declared
    for py in (ROOT / "schema").glob("*.py"):
        text = py.read_text(encoding="utf-8")
        assert not [t for t in declared if re.search(rf'class {t}\b[(:]|"{t}"', text)], py.name


def test_types_departments_and_titles_come_from_the_specs() -> None:
    specs = load_specs(ROOT / "adapters", core(), {})
    model = model_of(specs)
    assert {ls.name: ls.spec.title for ls in specs}.items() <= model.titles.items()
    for name, declared in model.types.items():
        owner = next(ls.name for ls in specs if name in ls.spec.types)
        assert declared.department == owner == model.owners[name]
    assert model.meta["Person.welfare"]["department"] == "civil_affairs"
    assert model.meta["EventRegistration.person"]["department"] == "population"  # a relation: its target's owner
    assert model.meta["HealthRecord.diabetes"]["sensitive"] == "health"
    assert "Source: Civil affairs bureau (civil_affairs)." in model.meta["Welfare.livingAlone"]["description"]


def test_a_sixteenth_department_extends_the_schema_and_leaves_the_project_schema_alone(tmp_path: Path) -> None:
    before = sdl()
    for d in (ROOT / "adapters").iterdir():
        if (d / "spec.yaml").is_file():
            shutil.copytree(d, tmp_path / d.name, ignore=shutil.ignore_patterns("__pycache__"))
    write(tmp_path, "canteen", CANTEEN)
    model = model_of(load_specs(tmp_path, core(), {}))
    text = sdl(model)
    assert "type MealSubsidy {" in text and "enum SubsidyKind {" in text
    assert "mealSubsidy: MealSubsidy\n" in text and "Source: Community canteen (canteen)." in text
    assert text != before and sdl() == before  # both schemas live side by side
    assert build_schema() is build_schema(default_model())
    person = build_schema(model)._schema.type_map["Person"]
    assert "mealSubsidy" in person.fields  # type: ignore[attr-defined]
    assert "mealSubsidy" not in build_schema()._schema.type_map["Person"].fields  # type: ignore[attr-defined]
