"""The one seam through which every query runs: fetch roots, expand relations in batches, shape.

1. The root fetch goes to the owner adapter with the caller's jurisdiction pushed down.
2. ``expand`` walks the merged selection level by level: for each relation the policy lets
   through, the keys of all parent records go to one per-request DataLoader, so each
   adapter gets one batched call per level; sibling relations run concurrently.
3. ``shape`` runs once per record after the tree is complete: out-of-scope entities are
   dropped, ids and ages computed, denied fields nulled, masked fields masked. graphql-core
   then only reads dict keys.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiodataloader import DataLoader

from adapters.base import Eq, ListQuery, Record
from adapters.mapping import JURISDICTION
from common.dates import age_on
from common.errors import GatewayError, NotFoundError, OperationNotSupportedError
from resolvers.audit_fields import subject_field
from resolvers.context import RequestContext
from resolvers.defer import spread
from resolvers.relations import KEYS, SCOPED, Relation, relations_of
from resolvers.selection import Sel
from resolvers.shop_grade import grades
from resolvers.tags import fill as fill_tags

Path = tuple[str, ...]
YIELD_EVERY = 200  # records shaped between two passes of the event loop


class Executor:
    """One root field's fetch: its own loaders, so shaping never races another root field."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx
        self.scope = ctx.principal.jurisdiction
        self.loaders: dict[tuple[str, str, str | None], DataLoader] = {}
        self.collected: list[tuple[str, list[Record]]] = []
        self.selected: dict[str, set[str]] = {}  # type -> fields selected on any path (for computed ones)
        self.today = dt.date.today()
        self.row_keys: dict[str, frozenset[str]] = {}
        self.relations = relations_of(ctx.registry)

    async def prepare(self) -> None:
        """Load relationship row scopes (e.g. a family doctor's contracted residents) once per request.

        Person records of departments carry at most a committee code, hence the committee
        prefix; the keys only restrict rows that are themselves scoped.
        """
        ctx = self.ctx
        if ctx.row_keys is None:
            keys: dict[str, frozenset[str]] = {}
            for entity, coord in ctx.access.row_rules:
                rtype, rfield = coord.split(".", 1)
                recs, _ = await self.list_root(rtype, ListQuery(scope=self.scope[:12], limit=None,
                                                                filters={rfield: Eq((ctx.principal.user,))}))
                found = frozenset(str(r[KEYS[entity]]) for r in recs if r.get(KEYS[entity]) is not None)
                keys[entity] = keys[entity] & found if entity in keys else found
            ctx.row_keys = keys
        self.row_keys = ctx.row_keys

    def owner(self, entity: str) -> Any:
        a = self.ctx.registry.for_entity(entity)
        if a is None:
            raise OperationNotSupportedError(f"no department supplies {entity}", entity=entity)
        return a

    def in_scope(self, type_name: str, rec: Record | None) -> bool:
        if rec is None:
            return False
        if type_name not in SCOPED:
            return True
        j = rec.get(JURISDICTION)
        if not (isinstance(j, str) and j.startswith(self.scope)):
            return False
        allowed = self.row_keys.get(type_name)
        return allowed is None or rec.get(KEYS[type_name]) in allowed

    # --- fetching -------------------------------------------------------------
    async def list_root(self, entity: str, query: ListQuery) -> tuple[list[Record], int | None]:
        adapter = self.owner(entity)
        t0 = time.perf_counter()
        page = await adapter.list(entity, query)
        self.ctx.trace.record(adapter.name, 0, len(page.records), t0)
        return [r for r in page.records if self.in_scope(entity, r)], page.total

    async def aggregate(self, entity: str, query: ListQuery, group_by: Sequence[Any]) -> list[tuple[tuple[Any, ...], int]]:
        adapter = self.owner(entity)
        t0 = time.perf_counter()
        cells = await adapter.aggregate(entity, query, group_by)
        self.ctx.trace.record(adapter.name, 0, len(cells), t0)
        return list(cells)

    def loader(self, entity: str, by: str | None) -> DataLoader:
        adapter = self.owner(entity)
        k = (adapter.name, entity, by)
        ld = self.loaders.get(k)
        if ld is None:
            trace = self.ctx.trace

            async def batch(keys: list[str]) -> list[Any]:
                t0 = time.perf_counter()
                try:
                    res = await adapter.load_many(entity, keys, by)
                except GatewayError as e:
                    trace.record(adapter.name, len(keys), 0, t0)
                    return [e] * len(keys)
                rows = sum(len(r) if isinstance(r, list) else int(r is not None) for r in res)
                trace.record(adapter.name, len(keys), rows, t0)
                return res

            ld = DataLoader(batch, max_batch_size=5000)
            self.loaders[k] = ld
        return ld

    async def get_many(self, entity: str, keys: Sequence[str]) -> list[Record]:
        """The records of ``keys`` in their order; absent and out-of-scope ones left out."""
        t0 = time.perf_counter()
        recs = await self.owner(entity).load_many(entity, keys)
        self.ctx.trace.record(self.owner(entity).name, len(keys), sum(r is not None for r in recs), t0)
        return [r for r in recs if self.in_scope(entity, r)]

    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record:
        """One record written by the entity's owner (once per ``request_key``), and noted for the audit."""
        adapter = self.owner(entity)
        t0 = time.perf_counter()
        rec = await adapter.write(entity, values, request_key)
        self.ctx.trace.record(adapter.name, 0, 1, t0)
        self.ctx.writes.append({"department": adapter.name, "type": entity, "key": rec.get(adapter.entities[entity].key)})
        return rec

    async def get_root(self, entity: str, key: str) -> Record | None:
        [rec] = await self.loader(entity, None).load_many([key])
        if not self.in_scope(entity, rec):
            raise NotFoundError("no such object")  # out of scope looks exactly like absent
        return rec

    # --- relations --------------------------------------------------------------
    async def expand(self, type_name: str, records: list[Record], sel: Sel, path: Path) -> None:
        self.collected.append((type_name, records))
        self.selected.setdefault(type_name, set()).update(sel)
        rels = self.relations.get(type_name, {})
        jobs = []
        for fname, sub in sel.items():
            rel = rels.get(fname)
            if rel is None or not records:
                continue
            if not self.ctx.access.readable(f"{type_name}.{fname}"):
                continue  # denied: its department is never asked
            jobs.append(self._relation(type_name, fname, rel, records, sub, (*path, fname)))
        if type_name == "Shop" and "grade" in sel and records and self.ctx.access.readable("Shop.grade"):
            jobs.append(self._grades(records, (*path, "grade")))
        if type_name in ("Person", "House") and "tags" in sel and records and self.ctx.access.readable(f"{type_name}.tags"):
            jobs.append(fill_tags(self, type_name, records, (*path, "tags")))
        if jobs:
            await asyncio.gather(*jobs)

    async def _grades(self, shops: list[Record], path: Path) -> None:
        found = await grades(self, shops, path)
        for s in shops:
            s["grade"] = found.get(s.get("creditCode") or "")

    async def _relation(self, type_name: str, fname: str, rel: Relation, records: list[Record], sub: Sel,
                        path: Path) -> None:
        keys = list(dict.fromkeys(k for r in records if (k := r.get(rel.local)) is not None))
        try:
            results = await self.loader(rel.target, None if rel.unique else rel.remote).load_many(keys)
        except GatewayError as e:
            self.ctx.error(path, e)
            for r in records:
                r[fname] = None
            return
        found = dict(zip(keys, results, strict=True))
        children: list[Record] = []
        seen: set[int] = set()
        target = rel.target
        for r in records:
            v = found.get(r.get(rel.local))
            if rel.many:
                v = [x for x in (v or ()) if self.in_scope(target, x)]
                if rel.newest_first:
                    v.sort(key=_day(rel.newest_first), reverse=True)
                for x in v:
                    if id(x) not in seen:
                        seen.add(id(x))
                        children.append(x)
            else:
                if not rel.unique:
                    v = v[0] if v else None
                if v is not None and not self.in_scope(target, v):
                    v = None
                if v is not None and id(v) not in seen:
                    seen.add(id(v))
                    children.append(v)
            r[fname] = v
        await self.expand(target, children, sub, (*path, "@") if rel.many else path)

    # --- shaping ----------------------------------------------------------------
    async def shape(self) -> None:
        """Computed fields, then deny and mask, once per record object.

        Every ``YIELD_EVERY`` records the loop serves other requests: a large answer is
        shaped in slices, never in one block.
        """
        access = self.ctx.access
        encode = self.ctx.ids.encode
        done: set[int] = set()
        subjects, rows_by_type = self.ctx.subjects, self.ctx.rows_by_type
        for type_name, records in self.collected:
            rules = access.rules(type_name)
            selected = self.selected.get(type_name, ())
            key = KEYS.get(type_name) if "id" in selected else None  # an id costs three HMACs: only if asked
            with_age = type_name == "Person" and "age" in selected
            lists = [f for f, rel in self.relations.get(type_name, {}).items() if rel.many and f in selected]
            subject = subject_field(access, type_name, selected)  # audit: read before masking
            rows_by_type[type_name] = rows_by_type.get(type_name, 0) + len(records)
            for rec in records:
                if id(rec) in done:
                    continue
                done.add(id(rec))
                if len(done) % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if subject is not None and (s := rec.get(subject)) is not None:
                    subjects.add(str(s))
                if type_name in KEYS:
                    rec["__typename"] = type_name  # is_type_of of the entity types reads it
                if key is not None:
                    k = rec.get(key)
                    rec["id"] = encode(type_name, str(k)) if k is not None else None
                if with_age:
                    rec["age"] = age_on(rec.get("birthDate"), self.today)
                for f in rules.denied:
                    if f in rec:
                        rec[f] = None
                for f, fn in rules.masked:
                    v = rec.get(f)
                    if v is not None:
                        rec[f] = fn(v)
                for f in lists:  # long lists complete item by item, between other requests' work
                    v = rec.get(f)
                    if isinstance(v, list):
                        rec[f] = spread(v)
        self.ctx.rows_returned += sum(len(r) for _, r in self.collected)


def _day(field: str) -> Callable[[Record], dt.date]:
    """A record's date in ``field`` (the earliest day when it has none): the key of a newest-first order."""
    def day(rec: Record) -> dt.date:
        v = rec.get(field)
        return v if isinstance(v, dt.date) else dt.date.min
    return day
