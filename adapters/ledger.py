"""The `ledger` kind: CSV/XLSX files exported by a department, loaded, indexed and reloaded.

A file is read into canonical records with a key index and one index per declared filter.
Loading runs in a worker thread (``asyncio.to_thread``, yielding the GIL every few hundred
rows so the event loop keeps serving), starts in the background when the gateway starts
(``start``), and is redone when the file's size or mtime moves.

Bad data is an error, never an absence:

* A file that cannot be read as a whole (empty, header without the spec's columns, bytes
  not in its encoding in the header, broken XLSX, more bad rows than good, a
  cut-off last row) is *unreadable*:
  with no earlier version the department's fields are null with DEPARTMENT_BAD_DATA and
  it is ``down`` in /readyz; with an earlier good version that version is served on and
  the department is ``degraded`` with the reason. The reason is logged at ERROR.
* A row that fails validation (wrong column count, undecodable bytes, a value that does
  not convert, a key or a jurisdiction code of the wrong shape; a row without a code is
  kept, as unscoped records may have none) is never served; it is
  counted, and above ``bad_rows_ratio`` of the rows the department is ``degraded``.
* Until its first version is ready a department is ``loading``; a call waits for it
  (bounded by the department's timeout, adapters/guard.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import heapq
import logging
import os
import re
import threading
import time
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import Eq, Health, ListQuery, Page, Record, Records
from adapters.kind import BaseAdapter
from adapters.loader import LoadedSpec
from adapters.mapping import JURISDICTION, EntityMap
from adapters.spec import LedgerConnection
from common.errors import AdapterBadDataError, AdapterError, AdapterUnavailableError
from common.jurisdiction import LENGTHS

log = logging.getLogger(__name__)
UNDECODABLE = re.compile("[\udc80-\udcff\ufffd]")  # bytes kept by surrogateescape, or replaced
KEY_SHAPES = {"idNumber": re.compile(r"\d{17}[\dX]")}  # canonical keys with a known shape
ANY_KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}")  # every other key: a plain token
PLACE_LENGTHS = LENGTHS | {22}  # whole-segment codes, and a house's address code (building + 4)
YIELD_EVERY = 256  # rows between GIL releases while parsing
Stamp = tuple[int, int]
Rows = Generator[list[Any], None, None]


class Unreadable(Exception):
    """A ledger version cannot be used as a whole; ``args[0]`` says why (for the log and /readyz)."""


class Moved(Exception):
    """The file changed while it was being read: read it again."""


@dataclass
class Table:
    stamp: Stamp
    records: list[Record]
    by: dict[str, dict[Any, list[Record]]] = field(default_factory=dict)
    rows: int = 0  # data rows in the file
    bad_rows: int = 0


def stamp_of(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _yielding(rows: Iterator[Any]) -> Iterator[Any]:
    for i, r in enumerate(rows):
        if i % YIELD_EVERY == 0:
            time.sleep(0)  # let the event loop's thread have the GIL
        yield r


def read_rows(path: Path, sheet: str | None, encoding: str) -> list[dict[str, Any]]:
    """Every row as a mapping from header to raw value (tools and tests; the adapter streams)."""
    header, rows = read_table(path, sheet, encoding)
    return [dict(zip(header, r, strict=False)) for r in rows]


def read_table(path: Path, sheet: str | None, encoding: str) -> tuple[list[str], Rows]:
    """(header, raw rows as lists); raises Unreadable when the file cannot be read at all."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, InvalidFileException) as e:
            raise Unreadable(f"not a readable workbook ({type(e).__name__})") from None
        try:
            ws = wb[sheet] if sheet else wb.worksheets[0]
        except (KeyError, IndexError):
            wb.close()
            raise Unreadable(f"no sheet {sheet!r}") from None

        def xlsx_rows() -> Rows:
            try:
                for r in _yielding(ws.iter_rows(values_only=True)):
                    if any(c is not None for c in r):
                        yield list(r)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
                raise Unreadable(f"workbook breaks off ({type(e).__name__})") from None
            finally:
                wb.close()

        rows = xlsx_rows()
        first = next(rows, None)
        if first is None:
            raise Unreadable("empty sheet")
        header = [str(h).strip() if h is not None else "" for h in first]
        return header, rows
    try:
        f = path.open(encoding=encoding, errors="surrogateescape", newline="")
    except FileNotFoundError:
        raise Moved() from None
    except (OSError, LookupError) as e:
        raise Unreadable(f"cannot be opened ({type(e).__name__})") from None
    reader = csv.reader(f)

    def csv_rows() -> Rows:
        try:
            for r in _yielding(reader):
                if r:  # a blank line is nothing, not a bad row
                    yield r
        except csv.Error as e:
            raise Unreadable(f"CSV cannot be parsed ({e.__class__.__name__} near line {reader.line_num})") from None
        finally:
            f.close()

    rows = csv_rows()
    try:
        first = next(rows, None)
    except (OSError, UnicodeError) as e:
        f.close()
        raise Unreadable(f"cannot be read ({type(e).__name__})") from None
    if first is None:
        raise Unreadable("empty file")
    header = [h.strip() for h in first]
    if any(UNDECODABLE.search(h) for h in header):
        rows.close()
        raise Unreadable(f"header is not valid {encoding}")
    return header, rows


class LedgerAdapter(BaseAdapter):
    kind = "ledger"

    def __init__(self, loaded: LoadedSpec) -> None:
        super().__init__(loaded)
        conn = loaded.connection
        assert isinstance(conn, LedgerConnection)
        self.dir = Path(conn.dir)
        self.tables: dict[str, Table] = {}
        self.loading: dict[str, asyncio.Task[None]] = {}
        self.failed: dict[str, tuple[Stamp, str]] = {}  # entity -> (version, why it is unreadable)
        self.bad_rows_ratio = 0.01

    def configure(self, defaults: Any) -> None:
        self.bad_rows_ratio = defaults.bad_rows_ratio

    def path(self, entity: str) -> Path:
        f = Path(self.maps[entity].spec.file or "")
        return f if f.is_absolute() else self.dir / f

    # --- versions ---------------------------------------------------------------------------
    def _refresh(self, entity: str) -> tuple[Table | None, asyncio.Task[None] | None]:
        """The version to serve now, and the load in flight (started here when the file moved on)."""
        stamp = stamp_of(self.path(entity))
        if stamp is None:
            raise AdapterUnavailableError(f"department {self.name}: ledger file is missing",
                                          department=self.name, file=self.path(entity).name)
        t = self.tables.get(entity)
        if t is not None and t.stamp == stamp:
            return t, None
        failed = self.failed.get(entity)
        task = self.loading.get(entity)
        if task is None and (failed is None or failed[0] != stamp):  # a version not tried yet
            task = asyncio.create_task(self._reload(entity), name=f"{self.name}-load-{entity}")
            self.loading[entity] = task
        return t, task

    async def table(self, entity: str) -> Table:
        """The version to read now. Use it without awaiting: a replaced version is dismantled."""
        for _ in range(3):  # the file may move on while it is read; the guard's timeout bounds this
            t, task = self._refresh(entity)
            if t is not None:
                return t  # the last good version, while a newer one (if any) loads
            if task is None:
                # the reason was logged once, when this version was read
                raise AdapterBadDataError(f"department {self.name}: ledger cannot be read", department=self.name)
            await asyncio.shield(task)
        raise AdapterUnavailableError(f"department {self.name}: ledger keeps changing while it is read",
                                      department=self.name)

    async def _reload(self, entity: str) -> None:
        m, path = self.maps[entity], self.path(entity)
        try:
            with cyclic_gc_paused():
                t = await asyncio.to_thread(self._parse, m, path)
        except Moved:
            return
        except Unreadable as e:
            stamp = stamp_of(path)
            if stamp is not None:
                self.failed[entity] = (stamp, str(e))
            serving = "serving the previous version" if entity in self.tables else "nothing to serve"
            log.error("department %s: ledger %s is unreadable: %s (%s)", self.name, path.name, e, serving,
                      extra={"department": self.name, "file": path.name, "reason": str(e)})
            return
        except Exception as e:  # a bug of ours must not leave the department loading forever
            log.exception("department %s: ledger %s failed to load", self.name, path.name)
            stamp = stamp_of(path)
            if stamp is not None:
                self.failed[entity] = (stamp, type(e).__name__)
            return
        finally:
            self.loading.pop(entity, None)
        old, self.tables[entity] = self.tables.get(entity), t
        self.failed.pop(entity, None)
        if t.bad_rows > self.bad_rows_ratio * max(t.rows, 1):
            log.warning("department %s: ledger %s: %d of %d rows fail validation and are not served",
                        self.name, path.name, t.bad_rows, t.rows,
                        extra={"department": self.name, "file": path.name, "bad_rows": t.bad_rows})
        else:
            log.info("department %s: ledger %s loaded: %d records (%d rows skipped)", self.name, path.name,
                     len(t.records), t.bad_rows)
        if old is not None:
            await asyncio.to_thread(dismantle, old)

    def _parse(self, m: EntityMap, path: Path) -> Table:
        """Read and validate one version (in a worker thread)."""
        before = stamp_of(path)
        if before is None:
            raise Moved()
        header, rows = read_table(path, m.spec.sheet, m.spec.encoding)
        missing = sorted(set(m.sources) - set(header))
        if missing:
            rows.close()
            raise Unreadable(f"header lacks column(s) {', '.join(missing)}")
        width = len(header)
        xlsx = path.suffix.lower() in (".xlsx", ".xlsm")
        key_shape = KEY_SHAPES.get(m.key, ANY_KEY)
        records: list[Record] = []
        n = bad = 0
        last_bad = False
        for raw in rows:
            n += 1
            last_bad = True
            if not xlsx:
                if len(raw) != width:
                    bad += 1  # a CSV row with another column count is cut off or shifted
                    continue
            elif len(raw) > width:  # a sheet row may run on with empty cells, never with values
                if any(c is not None for c in raw[width:]):
                    bad += 1
                    continue
                raw = raw[:width]
            if any(isinstance(v, str) and UNDECODABLE.search(v) for v in raw):
                bad += 1
                continue
            try:
                rec = m.convert(dict(zip(header, raw, strict=False)))
            except (TypeError, ValueError, AttributeError):
                bad += 1
                continue
            key, place = rec.get(m.key), rec.get(JURISDICTION)
            if not (isinstance(key, str) and key_shape.fullmatch(key)) or not (place is None or _place_code(place)):
                bad += 1
                continue
            records.append(rec)
            last_bad = False
        if last_bad and not xlsx and not _ends_with_newline(path):
            raise Unreadable("truncated: the last row is cut off")
        if bad > len(records):
            raise Unreadable(f"{bad} of {n} rows fail validation")
        if stamp_of(path) != before:
            raise Moved()
        records = sorted_yielding(records, lambda r: str(r[m.key]))
        t = Table(before, records, rows=n, bad_rows=bad)
        for f in {m.key, *m.filter_params}:
            idx: dict[Any, list[Record]] = {}
            for rec in records:
                idx.setdefault(rec.get(f), []).append(rec)
            t.by[f] = idx
        return t

    def version(self, entity: str) -> Any:
        """The version served now: the stamp of the file it was read from (a newer file starts loading)."""
        try:
            t, _ = self._refresh(entity)
        except AdapterError:
            return None
        return t.stamp if t is not None else None

    async def start(self) -> None:
        """Load every ledger in the background as the gateway starts."""
        for e in self.maps:
            with contextlib.suppress(AdapterError):
                await self.table(e)

    # --- the protocol -------------------------------------------------------------------------
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
        """From what is loaded (never waits for a load): up | degraded | loading | down, with the reason."""
        down: list[str] = []
        degraded: list[str] = []
        loading = False
        for e in self.maps:
            name = self.path(e).name
            try:
                t, task = self._refresh(e)
            except AdapterUnavailableError:
                down.append(f"{name}: missing")
                continue
            failed = self.failed.get(e)
            if t is None:
                if task is not None:
                    loading = True
                else:
                    down.append(f"{name}: {failed[1] if failed else 'unreadable'}")
                continue
            if failed is not None:
                degraded.append(f"{name}: newest version unreadable ({failed[1]}); serving the previous one")
            if t.bad_rows > self.bad_rows_ratio * max(t.rows, 1):
                degraded.append(f"{name}: {t.bad_rows} of {t.rows} rows fail validation")
        if down:
            return Health("down", "; ".join(down))
        if loading:
            return Health("loading")
        if degraded:
            return Health("degraded", "; ".join(degraded))
        return Health("up")

    async def close(self) -> None:
        for task in list(self.loading.values()):
            task.cancel()


_paused = 0
_paused_lock = threading.Lock()


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a version loads, and what it made frozen once loaded.

    A district's ledger is millions of objects made in seconds: each full collection meanwhile would
    walk all of them (and every table already loaded) holding the GIL, a pause of the event loop
    that grows with the data. When the last overlapping load ends, everything alive is frozen (never
    walked again) and collection resumes. Records hold no cycles: reference counting frees a
    replaced version, frozen or not."""
    global _paused
    with _paused_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if not _paused:
                gc.freeze()
                gc.enable()


def dismantle(t: Table) -> None:
    """Free a replaced version a piece at a time (in a worker thread): dropped at once, a district's table
    is one C-level free of a million objects, half a second holding the GIL. No reader holds it: every
    reader uses a table without awaiting between getting it and copying out of it."""
    for idx in t.by.values():
        while idx:
            idx.popitem()
    while t.records:
        del t.records[-2000:]


def sorted_yielding(records: list[Record], key: Callable[[Record], str], chunk: int = 20_000) -> list[Record]:
    """``sorted(records, key=key)`` in chunks merged by a Python-level merge: one C-level sort of a
    district's records holds the GIL (and so the event loop) for the whole sort."""
    runs = [sorted(records[i:i + chunk], key=key) for i in range(0, len(records), chunk)]
    return list(heapq.merge(*runs, key=key)) if len(runs) > 1 else (runs[0] if runs else [])


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _place_code(v: Any) -> bool:
    return isinstance(v, str) and v.isascii() and v.isdigit() and len(v) in PLACE_LENGTHS
