"""Discovers department folders, validates every spec, and builds the adapters.

Validation is all-or-nothing: one bad spec stops the start (it never half-loads), and
two departments may not share a name or supply the same schema type.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from adapters.base import Catalogue
from adapters.guard import Guarded
from adapters.loader import LoadedSpec, find_spec, load_spec
from common.errors import SpecError

DEFAULT_DIR = Path(__file__).resolve().parent


def spec_paths(root: Path) -> list[Path]:
    """Spec files under ``root``: a spec file itself, one department folder, or a folder of them."""
    if not root.exists():
        raise SpecError(f"no such spec file or folder: {root}", path=str(root))
    if root.is_file():
        return [root]
    own = find_spec(root)
    if own is not None:
        return [own]
    return sorted(p for d in sorted(root.iterdir()) if d.is_dir() and (p := find_spec(d)) is not None)


def load_specs(root: Path, catalogue: Catalogue, env: Mapping[str, str] | None = None) -> list[LoadedSpec]:
    paths = spec_paths(root)
    if not paths:
        raise SpecError(f"no adapter specs found under {root}", path=str(root))
    loaded = [load_spec(p, catalogue, env) for p in paths]
    owners: dict[str, LoadedSpec] = {}
    names: dict[str, LoadedSpec] = {}
    for ls in loaded:
        if ls.name in names:
            raise SpecError(f"department {ls.name!r}: {ls.path}: duplicate department name (also {names[ls.name].path})",
                            department=ls.name, path=str(ls.path), key="department")
        names[ls.name] = ls
        for entity in ls.maps:
            if entity in owners:
                raise SpecError(f"department {ls.name!r}: {ls.path}: entities.{entity}: duplicate: "
                                f"{entity} is already supplied by {owners[entity].name!r}",
                                department=ls.name, path=str(ls.path), key=f"entities.{entity}")
            owners[entity] = ls
    return loaded


def build(ls: LoadedSpec) -> Any:
    from adapters.http import HttpAdapter
    from adapters.ledger import LedgerAdapter
    from adapters.sql import SqlAdapter

    if ls.spec.kind == "class":
        assert ls.spec.class_
        mod, _, cls = ls.spec.class_.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), cls)
        except (ImportError, AttributeError) as e:
            raise SpecError(f"department {ls.name!r}: {ls.path}: class: cannot import {ls.spec.class_!r} ({e})",
                            department=ls.name, path=str(ls.path), key="class") from None
        inner = factory(ls)
        if ls.spec.reports_kind:
            inner.reports_kind = ls.spec.reports_kind
    else:
        inner = {"sql": SqlAdapter, "http": HttpAdapter, "ledger": LedgerAdapter}[ls.spec.kind](ls)
    return Guarded(inner, ls.spec.limits.timeout_s, ls.spec.limits.max_concurrency)


class Registry:
    """The running adapters, by department name, and which one supplies each schema type."""

    def __init__(self, adapters: list[Any]) -> None:
        self.adapters: dict[str, Any] = {a.name: a for a in adapters}
        self.owner: dict[str, Any] = {e: a for a in adapters for e in a.entities}

    @classmethod
    def from_dir(cls, root: Path, catalogue: Catalogue, env: Mapping[str, str] | None = None) -> Registry:
        return cls([build(ls) for ls in load_specs(root, catalogue, env)])

    def __iter__(self) -> Iterator[Any]:
        return iter(self.adapters.values())

    def __len__(self) -> int:
        return len(self.adapters)

    def for_entity(self, entity: str) -> Any | None:
        return self.owner.get(entity)

    async def close(self) -> None:
        for a in self.adapters.values():
            await a.close()
