"""Looking at a department's live system the way its spec says to: per kind, what exists and a sample.

``probe`` answers, for one entity, the source names the system offers (table columns, the
keys of the JSON items, the ledger's header) and a sample of raw rows, or problems when
the table, endpoint, file or sheet the spec names is not there. A department that does
not answer at all raises ``Unreachable``: nothing can be checked then.

A problem is ``refused`` (the entity is not served) only where the system answered and the
spec is plainly wrong about it: a table, column or JSON key that is not there, a lookup that
finds nothing for a key the listing returned. An answer of the wrong shape may be the
department's fault as well as the spec's; it is reported (and degrades the department),
and the calls fail with their own codes as they would anyway.
"""
from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import inspect, literal_column, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import Rows
from adapters.http import HttpAdapter, dig
from adapters.ledger import LedgerAdapter, Moved, Unreadable, read_table
from adapters.mapping import EntityMap
from adapters.problems import Loc, Problem
from adapters.sql import SqlAdapter
from common.errors import AdapterBadDataError, AdapterError, AdapterRejectedError

SAMPLE = 200  # rows looked at per entity
Report = Callable[..., Problem]  # (loc, message, **extra) -> Problem: LoadedSpec.problem


class Unreachable(Exception):
    """The department did not answer; ``args[0]`` says how (an error code or exception name)."""


@dataclass
class Seen:
    """What one entity's system showed: its source names (None: not known), sample rows, problems."""

    columns: list[str] | None = None
    rows: Rows = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _short(e: BaseException) -> str:
    detail = str(getattr(e, "orig", None) or e).strip().splitlines()
    return f"{type(e).__name__}: {detail[0][:200]}" if detail else type(e).__name__


async def probe(adapter: Any, entity: str, m: EntityMap, report: Report) -> Seen:
    if isinstance(adapter, SqlAdapter):
        return await _sql(adapter, entity, m, report)
    if isinstance(adapter, HttpAdapter):
        return await _http(adapter, entity, m, report)
    if isinstance(adapter, LedgerAdapter):
        return await asyncio.to_thread(_ledger, adapter, entity, m, report)
    return Seen()  # a custom adapter over something else: nothing generic to look at


async def _sql(a: SqlAdapter, entity: str, m: EntityMap, report: Report) -> Seen:
    es, seen = m.spec, Seen()
    try:
        async with a.engine.connect() as conn:
            await conn.execute(select(literal_column("1")))
            if es.table:
                schema, _, name = es.table.rpartition(".")
                names = await conn.run_sync(lambda c: [*inspect(c).get_table_names(schema or None),
                                                       *inspect(c).get_view_names(schema or None)])
                if name not in names:
                    seen.problems.append(report(("entities", entity, "table"), f"table {es.table!r} does not "
                                                f"exist; the tables: {', '.join(sorted(names))}", entity=entity,
                                                refused=True, tables=sorted(names)))
                    return seen
                src: Any = table(name, schema=schema or None)
            else:
                src = text(es.select_for(conn.dialect.name) or "").columns().subquery("src")
            try:
                res: Any = await conn.execute(select(literal_column("*")).select_from(src).limit(SAMPLE))
            except SQLAlchemyError as e:
                seen.problems.append(report(("entities", entity, "select" if es.select else "table"),
                                            f"cannot be read ({_short(e)})", entity=entity, refused=True))
                return seen
            seen.columns = list(res.keys())
            seen.rows = [dict(r) for r in res.mappings().all()]
    except (SQLAlchemyError, OSError) as e:
        raise Unreachable(type(e).__name__) from None
    return seen


async def _http(a: HttpAdapter, entity: str, m: EntityMap, report: Report) -> Seen:
    es, seen = m.spec, Seen()
    lst = es.list_
    if lst is None:
        return seen
    p = lst.paging
    params: dict[str, Any] = {p.size_param: min(SAMPLE, p.max_size)}
    if p.style == "page":
        params[p.page_param] = p.first_page
    elif p.style == "offset":
        params[p.offset_param] = 0
    body = await _answer(a, lst.path, params, ("entities", entity, "list", "path"), entity, seen, report,
                         refuse=False)
    if seen.problems:
        return seen
    items = dig(body, lst.items)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        keys = sorted(body) if isinstance(body, dict) else []
        seen.problems.append(report(("entities", entity, "list", "items"), f"the answer of GET {lst.path} has no "
                                    f"list of objects at {lst.items!r}; its keys: {', '.join(keys)}", entity=entity))
        return seen
    seen.rows = items
    seen.columns = sorted({k for i in items for k in i}) if items else None
    raw_key = next((i.get(m.rules[m.key].source) for i in items if m.key in m.rules), None)
    if raw_key is not None and es.get is not None:
        path = es.get.path.replace("{key}", str(raw_key))
        got = await _answer(a, path, None, ("entities", entity, "get", "path"), entity, seen, report)
        if not seen.problems and not isinstance(dig(got, es.get.item), dict):
            seen.problems.append(report(("entities", entity, "get", "item"), f"GET {es.get.path} has no object at "
                                        f"{es.get.item!r} for a key the list returned", entity=entity, refused=True))
    if raw_key is not None and es.batch is not None:
        b = es.batch
        if b.method == "GET":
            got = await _answer(a, b.path, {b.param: str(raw_key)}, ("entities", entity, "batch", "path"), entity,
                                seen, report)
        else:
            got = await _answer(a, b.path, None, ("entities", entity, "batch", "path"), entity, seen, report,
                                body={b.param: [raw_key]})
        found = dig(got, b.items)
        if not seen.problems and not (isinstance(found, list) and found and isinstance(found[0], dict)):
            seen.problems.append(report(("entities", entity, "batch", "items"), f"{b.method} {b.path} has no list of "
                                        f"objects at {b.items!r} for a key the list returned", entity=entity,
                                        refused=True))
    return seen


async def _answer(a: HttpAdapter, path: str, params: dict[str, Any] | None, loc: Loc, entity: str, seen: Seen,
                  report: Report, body: Any = None, refuse: bool = True) -> Any:
    """The JSON answer, or None and a problem. ``refuse``: a failure is the spec's (a key the list returned),
    not possibly the department's (whose calls then fail with their own codes anyway)."""
    try:
        return await a._get_json("POST" if body is not None else "GET", path, params=params, body=body, quiet=True)
    except AdapterRejectedError as e:
        seen.problems.append(report(loc, f"{path} answers HTTP {e.details.get('status')}", entity=entity,
                                    refused=refuse))
    except AdapterBadDataError:
        seen.problems.append(report(loc, f"{path} does not answer JSON", entity=entity, refused=refuse))
    except AdapterError as e:
        raise Unreachable(e.code) from None
    return None


def _ledger(a: LedgerAdapter, entity: str, m: EntityMap, report: Report) -> Seen:
    es, seen, path = m.spec, Seen(), a.path(entity)
    if not path.is_file():
        there = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        seen.problems.append(report(("entities", entity, "file"), f"{path.name} does not exist in {path.parent}; "
                                    f"the files there: {', '.join(there) or 'none'}", entity=entity, refused=True,
                                    files=there))
        return seen
    try:
        header, rows = read_table(path, es.sheet, es.encoding)
    except Moved:
        raise Unreachable("file moved") from None
    except Unreadable as e:
        sheets = _sheets(path) if es.sheet and "sheet" in str(e) else None
        where = ("entities", entity, "sheet") if sheets is not None else ("entities", entity, "file")
        more = f"; the sheets: {', '.join(sheets)}" if sheets else ""
        seen.problems.append(report(where, f"{path.name} cannot be read: {e}{more}", entity=entity, refused=True))
        return seen
    try:
        seen.rows = [dict(zip(header, r, strict=False)) for r in islice(rows, SAMPLE)]
    except Unreadable as e:
        seen.problems.append(report(("entities", entity, "file"), f"{path.name} cannot be read: {e}",
                                    entity=entity, refused=True))
    finally:
        rows.close()
    seen.columns = header
    return seen


def _sheets(path: Any) -> list[str] | None:
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        try:
            return list(wb.sheetnames)
        finally:
            wb.close()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
