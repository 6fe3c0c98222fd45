"""What a spec declares (types:, enums:, links): checked against the core and against the other specs.

A department adds its own record types and links them to a core entity; it cannot touch the
core, and two departments cannot claim one name. Problems are asserted on code and details
(department, path, line, key, other_department, ...), never on message text.
"""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from adapters.loader import load_spec
from adapters.registry import load_specs
from common.errors import SpecError
from schema.build import core
from schema.model import model_of

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"

CANTEEN = """\
department: canteen
title: Community canteen
kind: ledger
connection:
  dir: /nonexistent
entities:
  MealSubsidy:
    file: subsidies.csv
    key: idNumber
    jurisdiction: {source: committee, transform: [strip]}
    fields:
      idNumber: {source: id_card, transform: [id_number]}
      amount: {source: amount, transform: [float]}
      kind: {source: kind, transform: [{map: {"全额": FULL, "半额": HALF}}]}
    filters: [kind]
enums:
  SubsidyKind:
    values: [FULL, HALF]
types:
  MealSubsidy:
    description: "Community canteen: a meal subsidy."
    fields:
      idNumber: {type: String, description: "ID number.", sensitive: identity, mask: id_number}
      amount: {type: Float, description: "Monthly amount."}
      kind: {type: SubsidyKind, description: "Kind."}
    links:
      Person.mealSubsidy: {by: idNumber, description: "Meal subsidy."}
"""


def write(root: Path, dept: str, text: str) -> Path:
    folder = root / dept
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in ln)


def problems(err: SpecError) -> list[dict[str, Any]]:
    return list(err.details["problems"])


def fails(path: Path) -> SpecError:
    with pytest.raises(SpecError) as ei:
        load_spec(path, core(), {})
    return ei.value


def test_a_declared_type_loads_and_joins_the_schema(tmp_path: Path) -> None:
    ls = load_spec(write(tmp_path, "canteen", CANTEEN), core(), {})
    assert set(ls.declared["MealSubsidy"]) == {"idNumber", "amount", "kind"}
    model = model_of([ls])
    assert model.meta["MealSubsidy.amount"]["department"] == "canteen"
    assert model.meta["MealSubsidy.amount"]["origin"] == "spec"
    assert model.meta["MealSubsidy.idNumber"]["sensitive"] == "identity"
    assert model.meta["Person.mealSubsidy"]["origin"] == "link"
    assert model.meta["Person.name"]["origin"] == "core"
    rel = model.relations["Person"]["mealSubsidy"]
    assert (rel.target, rel.local, rel.remote, rel.many, rel.unique) == ("MealSubsidy", "idNumber", "idNumber", False,
                                                                         True)
    assert "mealSubsidy" in model.type_fields["Person"] and "MealSubsidy" in model.policed


@pytest.mark.parametrize(("edit", "key"), [
    (lambda t: t.replace("  MealSubsidy:\n    description", "  Person:\n    description"), "types.Person"),
    (lambda t: t.replace("Person.mealSubsidy:", "Person.name:"), "types.MealSubsidy.links.Person.name"),
    (lambda t: t.replace("Person.mealSubsidy:", "Nope.mealSubsidy:"), "types.MealSubsidy.links.Nope.mealSubsidy"),
    (lambda t: t.replace("{type: Float,", "{type: Money,"), "types.MealSubsidy.fields.amount.type"),
    (lambda t: t.replace("      amount: {type:", "      id: {type:"), "types.MealSubsidy.fields.id"),
    (lambda t: t.replace("{type: SubsidyKind, description: \"Kind.\"}",
                         "{type: SubsidyKind, description: \"Kind.\", mask: name}"), "types.MealSubsidy.fields.kind.mask"),
    (lambda t: t.replace("sensitive: identity, mask", "sensitive: secret, mask"),
     "types.MealSubsidy.fields.idNumber.sensitive"),
    (lambda t: t.replace("{by: idNumber, description: \"Meal subsidy.\"}",
                         "{by: idNumber, many: true, description: \"Meal subsidy.\"}"),
     "types.MealSubsidy.links.Person.mealSubsidy.many"),
    (lambda t: t.replace("{by: idNumber, description: \"Meal subsidy.\"}", "{by: amount, description: \"M.\"}"),
     "types.MealSubsidy.links.Person.mealSubsidy.by"),
    (lambda t: t.replace("SubsidyKind:\n", "Gender:\n").replace("type: SubsidyKind", "type: Gender"), "enums.Gender"),
    (lambda t: t.replace("  MealSubsidy:\n    file", "  Subsidy:\n    file"), "types.MealSubsidy"),
], ids=["core-type", "core-field", "not-linkable", "unknown-type", "field-id", "mask-non-string",
        "unknown-sensitivity", "many-by-key", "link-by-non-string", "core-enum", "not-supplied"])
def test_a_spec_cannot_touch_the_core_or_declare_nonsense(tmp_path: Path, edit: Any, key: str) -> None:
    path = write(tmp_path, "canteen", edit(CANTEEN))
    err = fails(path)
    assert err.code == "SPEC_INVALID"
    keys = [p["key"] for p in problems(err)]
    assert key in keys, keys
    p = next(p for p in problems(err) if p["key"] == key)
    assert p["department"] == "canteen" and p["path"] == str(path) and isinstance(p["line"], int)


def test_a_core_enum_may_be_used(tmp_path: Path) -> None:
    text = CANTEEN.replace("type: SubsidyKind", "type: CareLevel").replace(
        '{"全额": FULL, "半额": HALF}', '{"1": MILD, "2": SEVERE}')
    assert load_spec(write(tmp_path, "canteen", text), core(), {}).declared["MealSubsidy"]["kind"].enum


def test_three_mistakes_are_three_problems(tmp_path: Path) -> None:
    text = (CANTEEN.replace("amount: {source: amount", "amuont: {source: amount")   # a field not in the type
            .replace("    filters: [kind]", "    filtres: [kind]")                    # an unknown key
            .replace("{type: Float,", "{type: Money,"))                              # an unknown type
    path = write(tmp_path, "canteen", text)
    err = fails(path)
    got = {(p["key"], p["line"]) for p in problems(err)}
    assert ("entities.MealSubsidy.fields.amuont", line_of(path, "amuont:")) in got
    assert ("entities.MealSubsidy.filtres", line_of(path, "filtres:")) in got
    assert ("types.MealSubsidy.fields.amount.type", line_of(path, "{type: Money")) in got
    assert err.details["key"] == min(problems(err), key=lambda p: p["line"])["key"]  # the first, for one-liners


def test_every_problem_of_every_spec_at_once(tmp_path: Path) -> None:
    write(tmp_path, "canteen", CANTEEN.replace("{type: Float,", "{type: Money,"))
    shutil.copytree(ADAPTERS_DIR / "veterans", tmp_path / "veterans")
    vet = tmp_path / "veterans" / "spec.yaml"
    vet.write_text(vet.read_text(encoding="utf-8").replace("title:", "titel:"), encoding="utf-8")
    with pytest.raises(SpecError) as ei:
        load_specs(tmp_path, core(), {})
    depts = {(p["department"], p["key"]) for p in problems(ei.value)}
    assert ("canteen", "types.MealSubsidy.fields.amount.type") in depts
    assert ("veterans", "titel") in depts and ("veterans", "title") in depts


def test_two_departments_declaring_one_type_are_both_named(tmp_path: Path) -> None:
    first = write(tmp_path, "canteen", CANTEEN)
    second = write(tmp_path, "meals", CANTEEN.replace("department: canteen", "department: meals"))
    with pytest.raises(SpecError) as ei:
        load_specs(tmp_path, core(), {})
    lines = second.read_text(encoding="utf-8").splitlines()  # the same lines as the first's
    entity = lines.index("  MealSubsidy:") + 1
    declared = len(lines) - lines[::-1].index("  MealSubsidy:")
    link = line_of(second, "Person.mealSubsidy:")
    by_key = {p["key"]: p for p in problems(ei.value)}
    for key, line in (("entities.MealSubsidy", entity), ("types.MealSubsidy", declared),
                      ("types.MealSubsidy.links.Person.mealSubsidy", link)):
        p = by_key[key]
        assert (p["department"], p["path"], p["line"]) == ("meals", str(second), line), p
        assert (p["other_department"], p["other_path"], p["other_line"]) == ("canteen", str(first), line), p


def test_supplying_another_departments_type_names_it(tmp_path: Path) -> None:
    """The issue's case: a new spec mapping onto Welfare blamed civil_affairs, with no line."""
    shutil.copytree(ADAPTERS_DIR / "civil_affairs", tmp_path / "civil_affairs")
    text = CANTEEN.replace("  MealSubsidy:\n    file", "  Welfare:\n    file")
    text = text[:text.index("enums:")]
    path = write(tmp_path, "canteen", text.replace("amount: {source", "elderlyAllowance: {source")
                 .replace("transform: [float]", "transform: [bool]").replace("      kind: {source: kind, transform: "
                 "[{map: {\"全额\": FULL, \"半额\": HALF}}]}\n", "").replace("[kind]", "[]"))
    with pytest.raises(SpecError) as ei:
        load_specs(tmp_path, core(), {})
    [p] = problems(ei.value)
    assert (p["department"], p["path"], p["key"], p["other_department"]) == (
        "canteen", str(path), "entities.Welfare", "civil_affairs")
    assert p["line"] == line_of(path, "  Welfare:")


def test_validate_prints_every_problem_and_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    text = (CANTEEN.replace("amount: {source: amount", "amuont: {source: amount")
            .replace("    filters: [kind]", "    filtres: [kind]")
            .replace("{type: Float,", "{type: Money,"))
    path = write(tmp_path, "canteen", text)
    assert main(["adapters", "validate", str(path), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["code"] == "SPEC_INVALID"
    assert {(p["department"], p["path"], p["key"]) for p in out["problems"]} == {
        ("canteen", str(path), "entities.MealSubsidy.fields.amuont"),
        ("canteen", str(path), "entities.MealSubsidy.filtres"),
        ("canteen", str(path), "types.MealSubsidy.fields.amount.type")}
    assert all(isinstance(p["line"], int) and p["message"] for p in out["problems"])
    assert main(["adapters", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count(str(path)) == 3  # one line per problem, each with its file and line
