"""Reads the strawberry types into plain catalogues for the layers below (adapters, policies)."""
from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from typing import Any

from adapters.base import FieldType
from schema import records
from schema import types as entity_types

RECORD_TYPES: tuple[type, ...] = (
    records.Welfare, records.HealthRecord, records.Employment, records.Disability, records.VeteranStatus,
    records.Education, records.Inspection, records.Violation, records.ConstructionCase, records.FireCheck, records.Appearance,
    records.WaterAccount, records.Complaint, records.EventRegistration,
)
ALL_TYPES: tuple[type, ...] = entity_types.ENTITY_TYPES + RECORD_TYPES


def _scalar(tp: Any) -> FieldType | None:
    """FieldType for a scalar annotation, None for object/list fields (relations)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else tp
    enum_cls = getattr(tp, "_enum_definition", None)
    if enum_cls is not None or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        cls: Any = tp if isinstance(tp, type) and issubclass(tp, enum.Enum) else typing.cast(Any, enum_cls).wrapped_cls
        return FieldType("enum", frozenset(m.value for m in cls))
    names = {str: "str", int: "int", float: "float", bool: "bool", dt.date: "date"}
    if tp in names:
        return FieldType(names[tp])
    if getattr(tp, "__name__", "") == "ID" or str(tp).endswith("ID"):
        return FieldType("str")
    return None


def fields_of(cls: type) -> list[Any]:
    return list(cls.__strawberry_definition__.fields)  # type: ignore[attr-defined]


def catalogue() -> dict[str, dict[str, FieldType]]:
    """type name -> scalar field -> FieldType (what adapter specs may map)."""
    out: dict[str, dict[str, FieldType]] = {}
    for cls in ALL_TYPES:
        fields: dict[str, FieldType] = {}
        for f in fields_of(cls):
            ft = _scalar(_resolved(f))
            if ft is not None and f.name != "id":
                fields[f.name] = ft
        out[cls.__name__] = fields
    return out


def _resolved(f: Any) -> Any:
    t = f.type
    of = getattr(t, "of_type", None)  # StrawberryOptional
    while of is not None and type(t).__name__ == "StrawberryOptional":
        t, of = of, getattr(of, "of_type", None)
    if type(t).__name__ == "EnumDefinition" or hasattr(t, "wrapped_cls"):
        return t.wrapped_cls
    return t


def field_meta() -> dict[str, dict[str, Any]]:
    """"Type.field" -> {department, sensitive, description} for every field of every type."""
    out: dict[str, dict[str, Any]] = {}
    for cls in ALL_TYPES:
        for f in fields_of(cls):
            md = f.metadata or {}
            out[f"{cls.__name__}.{f.name}"] = {
                "department": md.get("department", "gateway"),
                "sensitive": md.get("sensitive"),
                "mask": md.get("mask"),
                "description": f.description or "",
            }
    return out
