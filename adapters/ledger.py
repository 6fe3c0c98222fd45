"""The `ledger` kind: CSV/XLSX files exported by a department, loaded, indexed and reloaded.

A file is read once into canonical records with a key index and one index per declared
filter; each call re-stats the file (cheap) and reloads it when its size or mtime moved.
A row that cannot be read is skipped and counted, never fatal: the rest of the ledger stays.
"""
from __future__ import annotations

import asyncio
import csv
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import Eq, Health, ListQuery, Page, Record, Records
from adapters.kind import BaseAdapter
from adapters.loader import LoadedSpec
from adapters.mapping import EntityMap
from adapters.spec import LedgerConnection
from common.errors import AdapterResponseError, AdapterUnavailableError

log = logging.getLogger(__name__)
UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes kept by surrogateescape


@dataclass
class Table:
    stamp: tuple[int, int]
    records: list[Record]
    by: dict[str, dict[Any, list[Record]]] = field(default_factory=dict)
    bad_rows: int = 0


def read_rows(path: Path, sheet: str | None, encoding: str) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb[sheet] if sheet else wb.worksheets[0]
            rows = ws.iter_rows(values_only=True)
            header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
            return [dict(zip(header, r, strict=False)) for r in rows if any(c is not None for c in r)]
        finally:
            wb.close()
    # surrogateescape: a row with bytes that are not in the file's encoding is skipped as
    # unreadable (see _load), instead of failing the whole ledger
    with path.open(encoding=encoding, errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames:
            reader.fieldnames = [h.strip() for h in reader.fieldnames]
        return list(reader)


class LedgerAdapter(BaseAdapter):
    kind = "ledger"

    def __init__(self, loaded: LoadedSpec) -> None:
        super().__init__(loaded)
        conn = loaded.connection
        assert isinstance(conn, LedgerConnection)
        self.dir = Path(conn.dir)
        self.tables: dict[str, Table] = {}
        self.locks = {e: asyncio.Lock() for e in self.maps}

    def path(self, entity: str) -> Path:
        f = Path(self.maps[entity].spec.file or "")
        return f if f.is_absolute() else self.dir / f

    async def table(self, entity: str) -> Table:
        m = self._map(entity)
        path = self.path(entity)
        try:
            st = os.stat(path)
        except OSError:
            raise AdapterUnavailableError(f"department {self.name}: ledger file is missing",
                                          department=self.name, file=path.name) from None
        stamp = (st.st_mtime_ns, st.st_size)
        t = self.tables.get(entity)
        if t is not None and t.stamp == stamp:
            return t
        async with self.locks[entity]:
            t = self.tables.get(entity)
            if t is not None and t.stamp == stamp:
                return t
            t = await asyncio.to_thread(self._load, m, path, stamp)
            self.tables[entity] = t
            return t

    def _load(self, m: EntityMap, path: Path, stamp: tuple[int, int]) -> Table:
        try:
            rows = read_rows(path, m.spec.sheet, m.spec.encoding)
        except (OSError, ValueError, KeyError, csv.Error) as e:
            raise AdapterResponseError(f"department {self.name}: ledger {path.name} cannot be read",
                                       department=self.name, cause=type(e).__name__) from None
        records: list[Record] = []
        bad = 0
        for r in rows:
            if any(isinstance(v, str) and UNDECODABLE.search(v) for v in r.values()):
                bad += 1
                continue
            try:
                rec = m.convert(r)
            except (TypeError, ValueError, AttributeError):
                bad += 1
                continue
            if rec.get(m.key) is None:
                bad += 1
                continue
            records.append(rec)
        if bad:
            log.warning("ledger %s/%s: skipped %d unreadable rows", self.name, path.name, bad)
        records.sort(key=lambda r: str(r[m.key]))
        t = Table(stamp, records, bad_rows=bad)
        for f in {m.key, *m.filter_params}:
            idx: dict[Any, list[Record]] = {}
            for rec in records:
                idx.setdefault(rec.get(f), []).append(rec)
            t.by[f] = idx
        return t

    async def fetch_by(self, entity: str, field: str, values: Sequence[Any]) -> Records:
        t = await self.table(entity)
        idx = t.by[field]
        # copies: the caller owns what it gets (it attaches relations, masks); the index stays pristine
        return [dict(r) for v in values for r in idx.get(v, ())]

    async def list(self, entity: str, query: ListQuery) -> Page:
        m = self._map(entity)
        m.check_filters(query)
        self._check_ranges(m, query)
        t = await self.table(entity)
        keyset = frozenset(query.keys_in) if query.keys_in is not None else None
        candidates = t.records
        for f, cond in query.filters.items():  # narrow with an index when one applies
            if isinstance(cond, Eq):
                candidates = sorted((r for v in cond.values for r in t.by[f].get(v, ())), key=lambda r: str(r[m.key]))
                break
        hits = [r for r in candidates if m.matches(r, query, keyset)]
        end = None if query.limit is None else query.offset + query.limit
        return Page([dict(r) for r in hits[query.offset:end]], len(hits) if query.count else None)

    async def health(self) -> Health:
        """Up when every ledger file reads (the first check also warms the indexes)."""
        try:
            for e in self.maps:
                await self.table(e)
        except (AdapterUnavailableError, AdapterResponseError) as err:
            return Health("down", err.code)
        return Health("up")
