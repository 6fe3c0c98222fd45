"""Ledgers (台账): declarative report files filled for the caller, exported as CSV or XLSX.

A ledger is a YAML file in ``ledgers/`` (setting ``ledgers_dir``): a saved GraphQL query over one
connection (``rows``: its root field; the query takes ``$after`` and selects ``pageInfo { hasNextPage
endCursor }``), its columns (Chinese titles, a dotted path into each row, an optional value map or
``month`` format), an optional ``explode`` (one row per item of a list field) and ``where`` (rows whose
path equals a value), ``group`` (rows counted per distinct value of the grouping columns) and ``sort``.

Filling runs the query page by page through the same path as a POST to /graphql
(``GraphQLView.run``): the caller's token, purpose, jurisdiction and field policy apply, and every
page is an audited request. So a masked field stays masked, and a column the caller may not read
comes back null with UNAUTHORIZED_FIELD_OR_TYPE: that column is left out of the file and named in
its header line (``未授权列: ...``). Any other error (a department down, a budget exceeded) fails
the export with its code before any byte is sent. At most ``ledger_max_rows`` rows are read.
"""
from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import yaml
from openpyxl import Workbook
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from common.errors import BadRequestError, GatewayError, NotFoundError, SpecError
from gateway.auth import authenticate
from gateway.errors import error_body

NAME = re.compile(r"[a-z0-9][a-z0-9\-]{0,63}")
UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"
DENIED_HEADER = "未授权列"
COUNT = "__count"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Strict):
    title: str
    path: str  # dotted, into the row; a list index is a number (visits.0.date); "count" in a grouped ledger
    map: dict[str, str] = Field(default_factory=dict)  # canonical value -> what the ledger prints
    format: Literal["month", "count"] | None = None  # month: YYYY-MM of a date; count: items of a list


class Sort(Strict):
    path: str
    descending: bool = False


class Where(Strict):
    path: str
    equals: Any


class Ledger(Strict):
    title: str
    description: str
    query: str
    rows: str  # the root field of the connection
    explode: str | None = None  # a list field of each node: one row per item
    where: list[Where] = Field(default_factory=list)
    columns: list[Column] = Field(min_length=1)
    group: list[str] = Field(default_factory=list)  # column titles to count rows by
    sort: list[Sort] = Field(default_factory=list)
    purpose: str | None = None  # the purpose a sensitive ledger needs (the caller's X-Purpose wins)


def load(folder: Path) -> dict[str, Ledger]:
    """Every ledger of the folder by name (file stem); a file that is not a valid ledger is SPEC_INVALID."""
    out: dict[str, Ledger] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            out[path.stem] = Ledger.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValidationError, yaml.YAMLError) as e:
            raise SpecError(f"ledger {path.name} is not valid: {e}", path=str(path)) from None
    return out


def get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def cell(col: Column, row: Any) -> Any:
    v = get(row, col.path)
    if col.format == "count":
        return len(v) if isinstance(v, list) else 0
    if col.format == "month" and isinstance(v, str):
        return v[:7]
    if isinstance(v, (dict, list)):
        return None
    return col.map.get(str(v), v) if v is not None and col.map else v


@dataclass
class Filled:
    ledger: Ledger
    columns: list[Column]  # those the caller may read
    denied: list[str]  # titles left out
    rows: list[list[Any]]


Page = Any  # an async callable: variables -> (status, body) of one audited operation


async def fill(ledger: Ledger, page: Page, max_rows: int) -> Filled:
    """Every row of the ledger for the caller whose operations ``page`` runs."""
    nodes: list[Any] = []
    denied_paths: set[str] = set()
    after: str | None = None
    while True:
        status, body = await page({"after": after})
        errors = body.get("errors") or []
        for e in errors:
            code = (e.get("extensions") or {}).get("code")
            parts = [str(p) for p in e.get("path") or () if p != "@" and not isinstance(p, int)]
            if code != UNAUTHORIZED or status != 200 or "node" not in parts:  # the rows themselves: no ledger
                raise LedgerFillError(e.get("message", "the ledger cannot be filled"), code or "INTERNAL",
                                      status if status != 200 else (403 if code == UNAUTHORIZED else 502),
                                      e.get("extensions") or {})
            rest = parts[parts.index("node") + 1:]
            if ledger.explode and rest[:1] == [ledger.explode]:
                rest = rest[1:]
            denied_paths.add(".".join(rest))
        conn = (body.get("data") or {}).get(ledger.rows)
        if conn is None:
            break
        nodes += [edge["node"] for edge in conn.get("edges") or ()]
        if len(nodes) >= max_rows or not (conn.get("pageInfo") or {}).get("hasNextPage"):
            break
        after = conn["pageInfo"]["endCursor"]
    rows: list[Any] = []
    for node in nodes[:max_rows]:
        items = (get(node, ledger.explode) or []) if ledger.explode else [node]
        rows += [item for item in items if all(get(item, w.path) == w.equals for w in ledger.where)]

    def readable(col: Column) -> bool:
        full = ".".join(p for p in col.path.split(".") if not p.isdigit())
        return not any(full == d or full.startswith(d + ".") for d in denied_paths)

    columns = [c for c in ledger.columns if readable(c)]
    denied = [c.title for c in ledger.columns if not readable(c)]
    table = [[cell(c, r) for c in columns] for r in rows]
    if ledger.group:
        keys = [i for i, c in enumerate(columns) if c.title in ledger.group]
        counts: dict[tuple[Any, ...], int] = {}
        for r in table:
            k = tuple(r[i] for i in keys)
            counts[k] = counts.get(k, 0) + 1
        columns = [columns[i] for i in keys] + [Column(title="数量", path=COUNT)]
        table = [[*k, n] for k, n in counts.items()]
    for s in reversed(ledger.sort):
        i = next((j for j, c in enumerate(columns) if c.path == s.path or c.title == s.path), None)
        if i is not None:  # stable: the later sort keys order the rows this one ties; empty cells last
            table = sorted((r for r in table if r[i] is not None), key=itemgetter(i), reverse=s.descending) + [
                r for r in table if r[i] is None]
    return Filled(ledger, columns, denied, table)


class LedgerFillError(GatewayError):
    """The ledger's query failed (a department down, a budget exceeded, ...): nothing is exported."""

    def __init__(self, message: str, code: str, status: int, extensions: dict[str, Any]) -> None:
        super().__init__(message, **{k: v for k, v in extensions.items() if k != "code"})
        self.code = code
        self.status = status


def header_lines(f: Filled) -> list[list[str]]:
    lines = [[f.ledger.title], [f.ledger.description]]
    if f.denied:
        lines.append([f"{DENIED_HEADER}: {'、'.join(f.denied)}"])
    return lines


def csv_chunks(f: Filled, rows_per_chunk: int = 2000) -> Iterator[bytes]:
    """UTF-8 with a BOM (spreadsheet programs then read the Chinese right), in chunks of rows."""
    buf = io.StringIO()
    w = csv.writer(buf)
    buf.write("\ufeff")
    for line in header_lines(f):
        w.writerow(line)
    w.writerow([c.title for c in f.columns])
    for i, row in enumerate(f.rows, 1):
        w.writerow(["" if v is None else v for v in row])
        if i % rows_per_chunk == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def xlsx_file(f: Filled) -> Path:
    """A write-only workbook (rows streamed to disk, not held as cells) in a temporary file."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=f.ledger.title[:31])
    for line in header_lines(f):
        ws.append(line)
    ws.append([c.title for c in f.columns])
    for row in f.rows:
        ws.append(row)
    with tempfile.NamedTemporaryFile(prefix="ledger-", suffix=".xlsx", delete=False) as fd:
        path = Path(fd.name)
    wb.save(path)
    return path


async def file_chunks(path: Path, size: int = 1 << 16) -> AsyncIterator[bytes]:
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(size):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


def named(ledgers: dict[str, Ledger], name: str) -> Ledger:
    if not NAME.fullmatch(name) or name not in ledgers:
        raise NotFoundError("no such ledger", ledger=name if NAME.fullmatch(name) else None)
    return ledgers[name]


def format_of(value: str | None) -> str:
    fmt = value or "csv"
    if fmt not in ("csv", "xlsx"):
        raise BadRequestError("format is csv or xlsx", argument="format")
    return fmt


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class LedgerExport:
    """GET /ledgers/NAME?format=csv|xlsx: the ledger filled for the bearer of the token (and X-Purpose,
    else the ledger's own purpose), streamed as a download; an error is the JSON error body of /graphql."""

    def __init__(self, view: Any, ledgers: dict[str, Ledger], max_rows: int) -> None:
        self.view = view
        self.ledgers = ledgers
        self.max_rows = max_rows

    async def get(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            ledger = named(self.ledgers, name)
            fmt = format_of(request.query_params.get("format"))
            settings = self.view.gw.settings
            client = request.client.host if request.client else None

            counted: list[bool] = []

            async def page(variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                async def asked() -> tuple[Any, str, dict[str, Any], str | None]:
                    principal = await authenticate(settings, request.headers.get("authorization"),
                                                   request.headers.get("x-purpose") or ledger.purpose)
                    if not counted:  # an export is one request of the caller's rate limit, whatever its pages
                        counted.append(True)
                        await self.view.gw.limiter.hit(principal.user, principal.roles)
                    return principal, ledger.query, variables, None
                return await self.view.run(asked, client)  # type: ignore[no-any-return]

            filled = await fill(ledger, page, self.max_rows)
        except GatewayError as e:
            retry = e.details.get("retry_after_s")
            return JSONResponse(error_body(e), e.status, headers={"Retry-After": str(retry)} if retry else None)
        disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
        if fmt == "csv":
            return StreamingResponse(iterate_in_threadpool(csv_chunks(filled)), media_type="text/csv; charset=utf-8",
                                     headers=disposition)
        path = await asyncio.to_thread(xlsx_file, filled)
        return StreamingResponse(file_chunks(path), media_type=XLSX, headers=disposition)
