"""Spec validation: a real spec copied to a temp folder and broken one way at a time.

Errors are asserted on ``.code`` and ``.details`` only, never on message text.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters import registry as registry_mod
from adapters.loader import load_spec
from adapters.registry import load_specs
from common.errors import SpecEnvError, SpecError

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"


def _copy(tmp: Path, dept: str, edit: Callable[[dict[str, Any]], None] | None = None,
          as_name: str | None = None) -> Path:
    """Copy adapters/<dept>/spec.yaml to tmp/<as_name or dept>/spec.yaml, optionally edited."""
    folder = tmp / (as_name or dept)
    folder.mkdir(parents=True)
    path = folder / "spec.yaml"
    src = ADAPTERS_DIR / dept / "spec.yaml"
    if edit is None and as_name is None:
        shutil.copy(src, path)
        return path
    raw = yaml.safe_load(src.read_text(encoding="utf-8"))
    if as_name is not None:
        raw["department"] = as_name
    if edit is not None:
        edit(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _fails(path: Path, catalogue: Any, env: dict[str, str] | None = None) -> SpecError:
    with pytest.raises(SpecError) as ei:
        load_spec(path, catalogue, {} if env is None else env)
    return ei.value


def _where(err: SpecError, path: Path, dept: str) -> None:
    assert err.details["department"] == dept
    assert err.details["path"] == str(path)


def test_real_specs_load_without_env(catalogue: Any) -> None:
    specs = load_specs(ADAPTERS_DIR, catalogue, {})
    assert len(specs) == 16
    owners = [e for ls in specs for e in ls.maps]
    assert len(owners) == len(set(owners))
    assert set(owners) <= set(catalogue)
    for ls in specs:
        assert ls.name == ls.path.parent.name
        assert ls.spec.title and ls.spec.description


def test_every_schema_type_has_an_owner(catalogue: Any) -> None:
    owners = {e for ls in load_specs(ADAPTERS_DIR, catalogue, {}) for e in ls.maps}
    assert owners == set(catalogue)


def test_copied_spec_is_valid(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs")
    assert load_spec(path, catalogue, {}).name == "civil_affairs"


def test_unknown_key(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs", lambda r: r["entities"]["Welfare"].update(bogus_key=1))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "civil_affairs")
    assert err.details["key"] == "entities.Welfare.bogus_key"
    assert isinstance(err.details["line"], int) and err.details["line"] > 1


def test_unknown_top_level_key(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "market", lambda r: r.update(bogus_key="x"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "market")
    assert err.details["key"] == "bogus_key"


def test_unknown_connection_key(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "housing", lambda r: r["connection"].update(bogus_key="x"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "housing")
    assert err.details["key"] == "connection.bogus_key"


def test_field_not_in_schema(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs",
                 lambda r: r["entities"]["Welfare"]["fields"].update(notAField="full_name"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "civil_affairs")
    assert err.details["key"] == "entities.Welfare.fields.notAField"


def test_entity_not_in_schema(tmp_path: Path, catalogue: Any) -> None:
    def edit(r: dict[str, Any]) -> None:
        r["entities"]["NotAType"] = r["entities"].pop("Welfare")
    path = _copy(tmp_path, "civil_affairs", edit)
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    assert err.details["key"] == "entities.NotAType"


def test_type_mismatch_date_without_date_transform(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "market",
                 lambda r: r["entities"]["Shop"]["fields"].update(licenceExpiry={"source": "yxqz", "transform": ["strip"]}))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "market")
    assert err.details["key"] == "entities.Shop.fields.licenceExpiry.transform"


def test_map_outside_enum(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "market", lambda r: r["entities"]["Shop"]["fields"]["category"].update(
        transform=[{"map": {"餐饮": "RESTAURANT"}}]))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    assert err.details["key"] == "entities.Shop.fields.category.transform"


def test_missing_key_mapping(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs", lambda r: r["entities"]["Welfare"]["fields"].pop("idNumber"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "civil_affairs")
    assert err.details["key"] == "entities.Welfare.key"


def test_missing_jurisdiction(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs", lambda r: r["entities"]["Welfare"].pop("jurisdiction"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "civil_affairs")
    assert err.details["key"] == "entities.Welfare.jurisdiction"


def test_unpushable_jurisdiction_transform(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "hr_social", lambda r: r["entities"]["Employment"]["jurisdiction"].update(
        transform=["strip", {"prefix": "310107"}, {"prefix": "005"}]))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    assert err.details["key"] == "entities.Employment.jurisdiction.transform"


def test_filter_on_unmapped_field(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs", lambda r: r["entities"]["Welfare"]["filters"].append("nope"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    assert err.details["key"] == "entities.Welfare.filters.nope"


def test_missing_env_var(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "civil_affairs",
                 lambda r: r["connection"].update(url="sqlite+aiosqlite:///${NOPE_NOT_SET}/civil_affairs.db"))
    with pytest.raises(SpecEnvError) as ei:
        load_spec(path, catalogue, {})
    err = ei.value
    assert err.code == "SPEC_ENV_MISSING"
    _where(err, path, "civil_affairs")
    assert err.details["env"] == "NOPE_NOT_SET"
    assert err.details["key"] == "connection.url"
    # set, it loads; and the real specs' ${VAR:-default} need nothing set
    assert load_spec(path, catalogue, {"NOPE_NOT_SET": str(tmp_path)}).name == "civil_affairs"


def test_department_must_equal_folder(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "veterans", lambda r: r.update(department="veterans_two"))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    _where(err, path, "veterans")
    assert err.details["key"] == "department"


def test_duplicate_department_name(tmp_path: Path, catalogue: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # folder names are unique within one root, so the same department can only be seen
    # twice through the discovery step; simulate that
    path = _copy(tmp_path, "veterans")
    monkeypatch.setattr(registry_mod, "spec_paths", lambda root: [path, path])
    with pytest.raises(SpecError) as ei:
        registry_mod.load_specs(tmp_path, catalogue, {})
    assert ei.value.code == "SPEC_INVALID"
    assert ei.value.details["department"] == "veterans"
    assert ei.value.details["key"] == "department"


def test_duplicate_entity_across_folders(tmp_path: Path, catalogue: Any) -> None:
    _copy(tmp_path, "civil_affairs")
    second = _copy(tmp_path, "civil_affairs", as_name="welfare_copy")
    with pytest.raises(SpecError) as ei:
        load_specs(tmp_path, catalogue, {})
    err = ei.value
    assert err.code == "SPEC_INVALID"
    _where(err, second, "welfare_copy")
    assert err.details["key"] == "entities.Welfare"


def test_no_specs_found(tmp_path: Path, catalogue: Any) -> None:
    with pytest.raises(SpecError) as ei:
        load_specs(tmp_path, catalogue, {})
    assert ei.value.code == "SPEC_INVALID"
    assert ei.value.details["path"] == str(tmp_path)


def test_http_filters_must_be_a_mapping(tmp_path: Path, catalogue: Any) -> None:
    path = _copy(tmp_path, "hotline", lambda r: r["entities"]["Complaint"].update(filters=["status"]))
    err = _fails(path, catalogue)
    assert err.code == "SPEC_INVALID"
    assert err.details["key"] == "entities.Complaint.filters"


def test_a_select_per_dialect_names_known_dialects_only(tmp_path: Path, catalogue: Any) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["entities"]["WaterAccount"]["select"]["oracle"] = "SELECT 1 FROM dual"
    path = _copy(tmp_path, "water", edit)
    _where(_fails(path, catalogue), path, "water")


def test_a_connection_whose_dialect_has_no_select_is_refused(tmp_path: Path, catalogue: Any) -> None:
    from adapters.sql import SqlAdapter

    def edit(raw: dict[str, Any]) -> None:
        del raw["entities"]["WaterAccount"]["select"]["postgresql"]
    path = _copy(tmp_path, "water", edit)
    loaded = load_spec(path, catalogue, {"WATER_DB_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/none"})
    with pytest.raises(SpecError) as ei:
        SqlAdapter(loaded)
    assert ei.value.code == "SPEC_INVALID" and ei.value.details["dialect"] == "postgresql"
