"""The core as data for the layers below, and the catalogues of a set of department specs.

``core()`` reads the curated strawberry types of schema/types.py into a plain ``Core`` the
spec loader checks declarations against. ``catalogue()`` and ``field_meta()`` describe the
whole schema (core plus the types the specs declare) of the default adapters folder;
a gateway over another folder uses its own ``SchemaModel`` (schema/model.py).
"""
from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

from adapters.base import FieldType
from adapters.catalogue import Core, SchemaCatalogue
from schema import audit, connection, inputs, stats
from schema import enums as schema_enums
from schema import types as entity_types
from schema.core import KEYS

CORE_TYPES: tuple[type, ...] = entity_types.ENTITY_TYPES
BUILTIN_NAMES = frozenset({"Query", "Mutation", "Subscription", "String", "Int", "Float", "Boolean", "ID", "Date",
                           "DateTime", "Time", "Decimal", "UUID", "JSON", "Upload", "Node"})


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


def _resolved(f: Any) -> Any:
    t = f.type
    of = getattr(t, "of_type", None)  # StrawberryOptional
    while of is not None and type(t).__name__ == "StrawberryOptional":
        t, of = of, getattr(of, "of_type", None)
    if type(t).__name__ == "EnumDefinition" or hasattr(t, "wrapped_cls"):
        return t.wrapped_cls
    return t


def schema_enums_by_name() -> dict[str, type[enum.Enum]]:
    """The enums of schema/enums.py (what a spec may use besides its own), by GraphQL name."""
    return {v.__strawberry_definition__.name: v for v in vars(schema_enums).values()  # type: ignore[attr-defined]
            if isinstance(v, type) and issubclass(v, enum.Enum) and "__strawberry_definition__" in vars(v)}


def _names(*modules: Any) -> set[str]:
    out: set[str] = set()
    for m in modules:
        for v in vars(m).values():
            d = vars(v).get("__strawberry_definition__") if isinstance(v, type) else None
            if d is not None and isinstance(getattr(d, "name", None), str):
                out.add(d.name)
    return out


@cache
def core() -> Core:
    cat: dict[str, dict[str, FieldType]] = {}
    for cls in CORE_TYPES:
        fields: dict[str, FieldType] = {}
        for f in fields_of(cls):
            ft = _scalar(_resolved(f))
            if ft is not None and f.name != "id":
                fields[f.name] = ft
        cat[cls.__name__] = fields
    enums = {name: frozenset(m.value for m in cls) for name, cls in schema_enums_by_name().items()}
    pages = {f"{t}{suffix}" for t in (*cat, "AuditRecord") for suffix in ("Connection", "Edge")}
    reserved = frozenset(BUILTIN_NAMES | pages | _names(audit, connection, inputs, stats)) - set(cat) - set(enums)
    return Core(types=cat, fields={c.__name__: frozenset(f.name for f in fields_of(c)) for c in CORE_TYPES},
                entity_keys=dict(KEYS), enums=enums, reserved=reserved)


def catalogue(root: Path | None = None) -> SchemaCatalogue:
    """type name -> scalar field -> FieldType (what adapter specs may map): the core plus declared types."""
    from schema.model import default_model

    return default_model(root).catalogue


def field_meta(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """"Type.field" -> {department, sensitive, mask, description, origin} for every field of every type."""
    from schema.model import default_model

    return dict(default_model(root).meta)
