"""Discovers department folders, validates every spec, and builds the adapters.

Validation is all-or-nothing: one bad spec stops the start (it never half-loads), and
two departments may not share a name or supply the same schema type.

Once serving, ``start`` runs each department's background work: its health loop (the
cached answers /readyz reports, see ``readiness``) and, for ledgers, the first load.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from adapters.base import Catalogue
from adapters.clashes import clashes, declared_elsewhere
from adapters.guard import Defaults, Guarded
from adapters.loader import LoadedSpec, find_spec, read_spec
from adapters.problems import ordered, spec_error
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
    """Every spec under ``root``, or one SpecError listing every problem of every spec (and clashes)."""
    paths = spec_paths(root)
    if not paths:
        raise SpecError(f"no adapter specs found under {root}", path=str(root))
    elsewhere = declared_elsewhere(paths)
    read = [read_spec(p, catalogue, env, {t: d for t, d in elsewhere.items() if d != p.parent.name})
            for p in paths]
    loaded = [ls for ls, _ in read if ls is not None]
    problems = [p for _, ps in read for p in ps] + clashes(loaded)
    if problems:
        raise spec_error(ordered(problems))
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
    return Guarded(inner, ls.spec.limits)


class Registry:
    """The running adapters, by department name, and which one supplies each schema type."""

    def __init__(self, adapters: list[Any], specs: list[LoadedSpec] | None = None) -> None:
        self.adapters: dict[str, Any] = {a.name: a for a in adapters}
        self.specs: list[LoadedSpec] = specs or []  # what the schema is built from (schema/model.py)
        self.owner: dict[str, Any] = {e: a for a in adapters for e in a.entities}
        self.tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_dir(cls, root: Path, catalogue: Catalogue, env: Mapping[str, str] | None = None) -> Registry:
        loaded = load_specs(root, catalogue, env)
        return cls([build(ls) for ls in loaded], loaded)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.adapters.values())

    def __len__(self) -> int:
        return len(self.adapters)

    def for_entity(self, entity: str) -> Any | None:
        return self.owner.get(entity)

    def start(self, defaults: Defaults | None = None) -> None:
        """Configure every department with the gateway-wide defaults and start its background work."""
        if self.tasks:
            return
        for a in self.adapters.values():
            if defaults is not None and hasattr(a, "configure"):
                a.configure(defaults)
            for job in ("start", "watch", "verify"):  # verify: the spec against the live system
                if hasattr(a, job):
                    self.tasks.append(asyncio.create_task(getattr(a, job)(), name=f"{a.name}-{job}"))

    def readiness(self, required: Collection[str] = ()) -> tuple[bool, dict[str, Any]]:
        """(ready, body) from the cached health checks; never waits on a department.

        ``starting`` until every department has answered its first check and every ledger has
        loaded its first version; then ready unless a ``required`` department is down.
        Per department: up | degraded (serving, with the reason) | loading | down | starting.
        """
        rows = [a.status() if hasattr(a, "status") else
                {"name": a.name, "department": a.department, "kind": a.kind, "status": "up"}
                for a in self.adapters.values()]
        pending = [r["name"] for r in rows if r["status"] in ("starting", "loading")]
        down = [r["name"] for r in rows if r["name"] in required and r["status"] not in ("up", "degraded")]
        if pending:
            status = "starting"
        elif down:
            status = "not_ready"
        else:
            status = "ready" if all(r["status"] == "up" for r in rows) else "degraded"
        body: dict[str, Any] = {"status": status, "adapters": rows}
        if down:
            body["required_down"] = down
        return status in ("ready", "degraded"), body

    async def close(self) -> None:
        tasks, self.tasks = self.tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for a in self.adapters.values():
            await a.close()
