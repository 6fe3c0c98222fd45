"""Tag definitions: the language, and every mistake a tag file can hold refused with SPEC_INVALID."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import SpecError
from schema.tags import And, Linked, Not, Or, Own, TagRef, TagSpec, check, load, parse, read_dir


def spec(name: str, where: str, subject: str = "Person") -> TagSpec:
    return TagSpec(name=name, subject=subject, title="t", description="d", owner="o", where=where)  # type: ignore[arg-type]


def test_the_language() -> None:
    assert parse("age >= 80 and welfare.livingAlone") == And((Own("age", ">=", 80),
                                                              Linked("welfare", "one", "livingAlone", None, None)))
    assert parse("not (tag a or tag b)") == Not(Or((TagRef("a"), TagRef("b"))))
    assert parse("latest statusHistory.status = VACANT") == Linked("statusHistory", "latest", "status", "=", "VACANT")
    assert parse("visits within 90 days") == Linked("visits", "within", None, None, 90)


def test_the_shipped_tags_check() -> None:
    tags = load()
    assert sum(1 for n in tags if not n.startswith("rule:")) >= 30
    assert tags["silent-minority"].reads >= {"Person.visits", "Visit.date", "Welfare.livingAlone"}
    assert "Person.health" not in tags["silent-minority"].reads


@pytest.mark.parametrize("where", [
    "age >=", "age >= 80 and", "(age >= 80", "welfare.noSuchField", "welfare.careLevel = HUGE",
    "welfare.careLevel > SEVERE", "gender", "age = FEMALE", "noSuchRelation.x = 1", "visits.date = 1",
    "any welfare.livingAlone = true", "latest complaints.status = OPEN", "visits within 0 days",
    "tag no-such-tag", "tag house-one", "age >= 80 @", "household.houseCode > 3", "birthDate = 1",
])
def test_mistakes_are_spec_invalid(where: str) -> None:
    with pytest.raises(SpecError) as e:
        check([spec("bad", where), spec("house-one", "floor >= 1", "House")])
    assert e.value.code == "SPEC_INVALID"


def test_cycles_and_duplicates_are_refused() -> None:
    with pytest.raises(SpecError):
        check([spec("a", "tag b"), spec("b", "tag a")])
    with pytest.raises(SpecError):
        check([spec("a", "age > 1"), spec("a", "age > 2")])


@pytest.mark.parametrize("text", [("- name: Bad Name\n  subject: Person\n  title: t\n  description: d\n  owner: o\n"
                                   "  where: age > 1\n"), "not: a list\n", "- [unclosed\n",
                                  "- name: x\n  subject: Shop\n  title: t\n  description: d\n  owner: o\n  where: a\n"])
def test_bad_files_are_spec_invalid(tmp_path: Path, text: str) -> None:
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as e:
        check(read_dir(tmp_path))
    assert e.value.code == "SPEC_INVALID"
