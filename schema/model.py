"""The schema of a set of departments: the curated core plus what their specs declare.

Built once per gateway from the loaded specs (``model_of(registry.specs)``): the
departments and their titles, which department supplies each type, every field's
metadata (``meta``: department, sensitivity, mask, description, origin), the fields of
each type, the relations the planner walks, and the catalogue mappings are checked
against. ``origin`` is ``core`` for the curated core, ``spec`` for a field of a type a
department declares and ``link`` for a field a department adds to a core type; the policy
engine grants the last two only on rules that name them (policies/engine.py).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from adapters.catalogue import SchemaCatalogue
from adapters.loader import LoadedSpec
from adapters.spec import LinkDecl, TypeDecl
from schema.build import CORE_TYPES, core, fields_of
from schema.core import CORE_RELATIONS, KEYS, Relation
from schema.meta import GATEWAY, departments, describe


@dataclass(frozen=True)
class Link:
    """A field a department's type adds to a core type (``Person.welfare``)."""

    core: str
    field: str
    type: str  # the declared type it leads to
    department: str
    decl: LinkDecl


@dataclass(frozen=True)
class Declared:
    name: str
    department: str
    decl: TypeDecl


@dataclass(eq=False)
class SchemaModel:
    key: tuple[Any, ...]  # equal keys, equal schemas (a schema is built once per key)
    titles: dict[str, str]
    owners: dict[str, str]  # type -> the department supplying it
    types: dict[str, Declared]  # the declared types, by name
    enums: dict[str, Any]  # declared enum name -> EnumDecl
    links: dict[str, list[Link]]  # core type -> the fields departments add, in schema order
    relations: dict[str, dict[str, Relation]]
    meta: dict[str, dict[str, Any]]
    type_fields: dict[str, list[str]]
    catalogue: SchemaCatalogue

    @property
    def policed(self) -> frozenset[str]:
        """The types whose every field is decided by the policy."""
        return frozenset({"Query", "Mutation", *self.type_fields})


def _key(specs: Sequence[LoadedSpec]) -> tuple[Any, ...]:
    return tuple((ls.name, ls.spec.title, tuple(ls.maps), ls.spec.model_dump_json(include={"types", "enums"}))
                 for ls in specs)


_MODELS: dict[tuple[Any, ...], SchemaModel] = {}


def model_of(specs: Sequence[LoadedSpec]) -> SchemaModel:
    """The model of these specs; specs that declare the same get the same model (and schema)."""
    key = _key(specs)
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = _model(key, specs)
    return model


def _model(key: tuple[Any, ...], specs: Sequence[LoadedSpec]) -> SchemaModel:
    titles = departments(specs)
    owners = {e: ls.name for ls in specs for e in ls.maps}
    types = {t: Declared(t, ls.name, td) for ls in specs for t, td in ls.spec.types.items()}
    enums = {e: ed for ls in specs for e, ed in ls.spec.enums.items()}
    found = [(link.order, d.department, i, Link(coord.partition(".")[0], coord.partition(".")[2], d.name,
                                                 d.department, link))
             for d in types.values() for i, (coord, link) in enumerate(d.decl.links.items())]
    links: dict[str, list[Link]] = {}
    for *_, link in sorted(found, key=lambda x: x[:3]):
        links.setdefault(link.core, []).append(link)
    meta: dict[str, dict[str, Any]] = {}
    type_fields: dict[str, list[str]] = {}
    relations = {t: dict(r) for t, r in CORE_RELATIONS.items()}
    for cls in CORE_TYPES:
        t = cls.__name__
        for f in fields_of(cls):
            md = f.metadata or {}
            dept = md.get("department", GATEWAY)
            text = describe(md["text"], dept, titles, md.get("sensitive"), md.get("mask")) if "text" in md else \
                f.description or ""
            meta[f"{t}.{f.name}"] = _meta(dept, md.get("sensitive"), md.get("mask"), text, "core")
        for link in links.get(t, ()):
            ld = link.decl
            meta[f"{t}.{link.field}"] = _meta(link.department, ld.sensitive, None,
                                             describe(ld.description, link.department, titles, ld.sensitive), "link")
            relations.setdefault(t, {})[link.field] = _link_relation(link, specs)
        type_fields[t] = [f.name for f in fields_of(cls)] + [link.field for link in links.get(t, ())]
    for d in types.values():
        for fname, fd in d.decl.fields.items():
            dept = owners.get(fd.type, GATEWAY) if fd.type in KEYS else d.department
            meta[f"{d.name}.{fname}"] = _meta(dept, fd.sensitive, fd.mask,
                                              describe(fd.description, dept, titles, fd.sensitive, fd.mask), "spec")
            if fd.type in KEYS and fd.by is not None:
                relations.setdefault(d.name, {})[fname] = Relation(fd.type, fd.by, KEYS[fd.type])
        type_fields[d.name] = list(d.decl.fields)
    declared = {t: f for ls in specs for t, f in ls.declared.items()}
    return SchemaModel(key, titles, owners, types, enums, links, relations, meta, type_fields,
                       SchemaCatalogue(core(), declared))


def _meta(department: str, sensitive: str | None, mask: str | None, description: str, origin: str) -> dict[str, Any]:
    return {"department": department, "sensitive": sensitive, "mask": mask, "description": description,
            "origin": origin}


def _link_relation(link: Link, specs: Sequence[LoadedSpec]) -> Relation:
    entity_key = next((ls.maps[link.type].key for ls in specs if link.type in ls.maps), None)
    unique = not link.decl.many and link.decl.by == entity_key
    return Relation(link.type, KEYS[link.core], link.decl.by, link.decl.many, unique, link.decl.newest_first)


@cache
def default_model(root: Path | None = None) -> SchemaModel:
    """The model of the specs in ``root`` (default: the project's adapters/), read with this environment."""
    from adapters.registry import DEFAULT_DIR, load_specs

    return model_of(load_specs(root or DEFAULT_DIR, core(), dict(os.environ)))
