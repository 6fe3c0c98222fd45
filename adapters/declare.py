"""Checking what a spec declares (its ``types:`` and ``enums:``) against the core.

A department may add record types of its own and link them to a core entity by that
entity's canonical key (a Person by ID number, a House by address code, ...); the link
adds a field on the core type. It may not touch the core: a core type, enum or field
cannot be declared again, so no spec can loosen a core field's sensitivity or mask.
Every problem is reported (see adapters/problems.py); what checks out becomes the
catalogue the spec's own mappings are checked against.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from adapters.base import FieldType
from adapters.catalogue import Core
from adapters.problems import SpecSource
from adapters.spec import EntitySpec, EnumDecl, TypeDecl

SCALARS: dict[str, str] = {"String": "str", "Int": "int", "Float": "float", "Boolean": "bool", "Date": "date"}
TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
FIELD_NAME = re.compile(r"[a-z][A-Za-z0-9]{0,63}")
ENUM_VALUE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
RESERVED_FIELDS = frozenset({"id"})  # opaque ids are the gateway's own, and always readable


def check_enums(enums: Mapping[str, EnumDecl], core: Core, src: SpecSource) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name, e in enums.items():
        loc = ("enums", name)
        if not TYPE_NAME.fullmatch(name):
            src.add(loc, "an enum name is a capitalised word of letters and digits (e.g. SubsidyType)")
        elif name in core.names():
            src.add(loc, f"{name!r} is already a name of the core schema; choose another")
        bad = [v for v in e.values if not ENUM_VALUE.fullmatch(v)]
        if bad:
            src.add((*loc, "values"), f"enum values are upper-case words (A-Z, 0-9, _): not {bad}")
        if len(set(e.values)) != len(e.values):
            src.add((*loc, "values"), "an enum value is listed twice")
        out[name] = frozenset(e.values)
    return out


def check_types(types: Mapping[str, TypeDecl], enums: Mapping[str, frozenset[str]], entities: Mapping[str, EntitySpec],
                supplied: Collection[str], core: Core, src: SpecSource) -> dict[str, dict[str, FieldType]]:
    """The declared types' scalar and enum fields (what mappings may fill); problems go to ``src``."""
    out: dict[str, dict[str, FieldType]] = {}
    for tname, td in types.items():
        loc = ("types", tname)
        if not TYPE_NAME.fullmatch(tname):
            src.add(loc, "a type name is a capitalised word of letters and digits (e.g. MealSubsidy)")
        elif tname in core:
            src.add(loc, f"{tname} is a core type: a spec cannot declare it again (link a type of your own to it)")
        elif tname in core.names() or tname in enums:
            src.add(loc, f"{tname!r} is already a name of the schema; choose another")
        if tname not in supplied:
            src.add(loc, f"{tname} is declared but no entity supplies it: add entities.{tname}")
        out[tname] = _fields(tname, td, enums, core, src)
        _links(tname, td, out[tname], entities.get(tname), core, src)
    return out


def _fields(tname: str, td: TypeDecl, enums: Mapping[str, frozenset[str]], core: Core,
            src: SpecSource) -> dict[str, FieldType]:
    fields: dict[str, FieldType] = {}
    for fname, fd in td.fields.items():
        loc = ("types", tname, "fields", fname)
        if not FIELD_NAME.fullmatch(fname) or fname in RESERVED_FIELDS:
            src.add(loc, "a field name is a lower-case letter, then letters and digits (camelCase), and not `id`")
        if fd.type in SCALARS:
            fields[fname] = FieldType(SCALARS[fd.type])
        elif fd.type in enums or fd.type in core.enums:
            fields[fname] = FieldType("enum", enums.get(fd.type) or core.enums[fd.type])
        elif fd.type in core.entity_keys:
            if fd.by is None:
                src.add(loc, f"a field of core type {fd.type} needs `by`: the field of {tname} holding "
                        f"its {core.entity_keys[fd.type]}")
        else:
            known = [*SCALARS, *sorted(enums), *sorted(core.enums), *sorted(core.entity_keys)]
            src.add((*loc, "type"), f"unknown type {fd.type!r}; known: {', '.join(known)}")
        if fd.by is not None and fd.type not in core.entity_keys:
            src.add((*loc, "by"), "`by` applies only to a field whose type is a core entity")
        if fd.mask is not None and fd.type != "String":
            src.add((*loc, "mask"), "only a String field can be masked")
    for fname, fd in td.fields.items():
        if fd.by is not None and fd.type in core.entity_keys and fields.get(fd.by) != FieldType("str"):
            src.add(("types", tname, "fields", fname, "by"), f"{fd.by!r} is not a String field of {tname}")
    return fields


def _links(tname: str, td: TypeDecl, fields: Mapping[str, FieldType], entity: EntitySpec | None, core: Core,
           src: SpecSource) -> None:
    for coord, link in td.links.items():
        loc = ("types", tname, "links", coord)
        target, _, fname = coord.partition(".")
        if target not in core.entity_keys:
            src.add(loc, f"a link is Type.field on a core entity with a canonical key: one of "
                    f"{', '.join(f'{t} (by {k})' for t, k in sorted(core.entity_keys.items()))}")
            continue
        if not FIELD_NAME.fullmatch(fname) or fname in RESERVED_FIELDS:
            src.add(loc, "the linked field's name is a lower-case letter, then letters and digits (camelCase)")
        elif fname in core.fields.get(target, ()):
            src.add(loc, f"{coord} is a core field: a spec cannot declare it again")
        if fields.get(link.by) != FieldType("str"):
            src.add((*loc, "by"), f"{link.by!r} is not a String field of {tname} (it holds the "
                    f"{target}'s {core.entity_keys[target]})")
            continue
        if entity is None:
            continue
        lookups = set(entity.filter_params())
        if link.newest_first is not None and (not link.many or fields.get(link.newest_first) != FieldType("date")):
            src.add((*loc, "newest_first"), f"newest_first names a Date field of {tname}, on a many link")
        if link.many and link.by == entity.key:
            src.add((*loc, "many"), f"{link.by} is the unique key of {tname}: a link by it is one, not many")
        elif link.by != entity.key and link.by not in lookups:
            src.add((*loc, "by"), f"{tname} is looked up by {link.by}: add it to entities.{tname}.filters")
