"""Strawberry types of a schema model: the departments' own types and enums, and their links.

Each declared type becomes a strawberry type made at start from its spec (a class built
with ``type(name, (), namespace)`` and decorated with ``strawberry.type``); each link
becomes a field of the core type it names. The core classes of schema/types.py keep
their curated fields; ``object_types`` gives each of them a definition carrying those
fields (with descriptions naming the departments by their spec titles) followed by the
links of this model, in the order the model sets. Call it under ``BUILD_LOCK``, right
before the strawberry Schema is made from its result: strawberry reads the definitions
then, and a schema once made keeps what it read.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
from enum import Enum
from typing import Any

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.types.field import StrawberryField

from schema.build import CORE_TYPES, schema_enums_by_name
from schema.model import Link, SchemaModel

SCALAR_TYPES: dict[str, type] = {"String": str, "Int": int, "Float": float, "Boolean": bool, "Date": dt.date}
BUILD_LOCK = threading.Lock()
_CORE_DEFINITIONS: dict[type, Any] = {cls: cls.__strawberry_definition__ for cls in CORE_TYPES}  # type: ignore[attr-defined]


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in ("department", "sensitive", "mask")}


def _enums(model: SchemaModel) -> dict[str, Any]:
    out: dict[str, Any] = dict(schema_enums_by_name())
    for name, decl in model.enums.items():
        cls = Enum(name, {v: v for v in decl.values})  # type: ignore[misc]
        out[name] = strawberry.enum(cls, name=name, description=decl.description or None)
    return out


def _records(model: SchemaModel, enums: dict[str, Any]) -> dict[str, type]:
    core = {cls.__name__: cls for cls in CORE_TYPES}
    out: dict[str, type] = {}
    for name, declared in model.types.items():
        ns: dict[str, Any] = {"__annotations__": {}, "__module__": __name__, "__qualname__": name}
        for fname, fd in declared.decl.fields.items():
            tp = SCALAR_TYPES.get(fd.type) or enums.get(fd.type) or core[fd.type]
            ns["__annotations__"][fname] = tp | None
            meta = model.meta[f"{name}.{fname}"]
            ns[fname] = strawberry.field(default=None, description=meta["description"], metadata=_metadata(meta))
        out[name] = strawberry.type(type(name, (), ns), name=name, description=declared.decl.description)
    return out


def _link_field(link: Link, target: type, model: SchemaModel) -> StrawberryField:
    meta = model.meta[f"{link.core}.{link.field}"]
    annotation = list[target] | None if link.decl.many else target | None  # type: ignore[valid-type]
    return StrawberryField(python_name=link.field, graphql_name=None,
                           type_annotation=StrawberryAnnotation(annotation), description=meta["description"],
                           default=None, metadata=_metadata(meta))


def _described(field: StrawberryField, type_name: str, model: SchemaModel) -> StrawberryField:
    meta = model.meta.get(f"{type_name}.{field.name}")
    if meta is None or meta["description"] == field.description:
        return field
    out = copy.copy(field)
    out.description = meta["description"]
    return out


def object_types(model: SchemaModel) -> list[type]:
    """The core types (set up for this model) and the declared record types, for strawberry.Schema(types=...)."""
    records = _records(model, _enums(model))
    for cls in CORE_TYPES:
        base = _CORE_DEFINITIONS[cls]
        fields = [_described(f, cls.__name__, model) for f in base.fields]
        fields += [_link_field(link, records[link.type], model) for link in model.links.get(cls.__name__, ())]
        cls.__strawberry_definition__ = dataclasses.replace(base, fields=fields)  # type: ignore[attr-defined]
    return [*CORE_TYPES, *records.values()]
