"""Generic JSON service over a department's private SQLite store.

Each department module only declares a `Service` (paths, parameter names, response
paths, pagination style); this module turns it into a starlette app. Reads only, but for
the resources that declare a `Write`: POST {path} adds one row per `Idempotency-Key`.
"""
from __future__ import annotations

import base64
import sqlite3
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MAX_PAGE = 500
MAX_BATCH = 500


@dataclass(frozen=True)
class Write:
    """POST {path}: a JSON object of the table's columns becomes one new row, once per Idempotency-Key
    (kept in the table's ``request_key`` column): the same key again answers that row (200), a new
    row is 201. ``required`` columns must be given (else 422); ``check`` may refuse the row with a
    reason (409, e.g. an event that is full); ``make_key`` makes the key column from the next row
    number and the service's clock; ``stamp`` columns get the clock."""
    required: Sequence[str]
    make_key: Callable[[int, dt.datetime], str]
    check: Callable[[sqlite3.Connection, dict[str, Any]], str | None] | None = None
    stamp: dict[str, str] = field(default_factory=dict)  # column -> strftime format


@dataclass(frozen=True)
class Resource:
    path: str  # URL segment under the service prefix, e.g. "houses"
    table: str
    key: str  # key column (= JSON field)
    place: str  # place-code column used by the jurisdiction prefix param
    filters: Sequence[str] = ()  # equality filter params (= column = JSON field)
    batch: bool = False
    groups: Sequence[str] = ()  # columns GET {path}/counts may group by (`col` or `col:N`, its first N chars)
    write: Write | None = None


@dataclass(frozen=True)
class Service:
    slug: str
    prefix: str
    resources: Sequence[Resource]
    place_param: str
    paging: Literal["page", "offset", "cursor"]
    position_param: str  # page number / offset / cursor token
    size_param: str
    items_path: str
    total_path: str | None  # page + offset styles
    next_path: str | None  # cursor style
    item_path: str  # single fetch
    envelope: dict[str, Any] = field(default_factory=dict)
    batch_method: Literal["GET", "POST"] = "POST"
    batch_param: str = "ids"  # JSON body field (POST) or query param (GET)
    batch_items_path: str = ""


class BadRequest(Exception):
    pass


def _nest(envelope: dict[str, Any], path: str, value: object, **more: object) -> dict[str, Any]:
    out: dict[str, Any] = dict(envelope)
    for p, v in ((path, value), *more.items()):
        if not p:
            continue
        node = out
        *parents, leaf = p.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = v
    return out


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class _Store:
    def __init__(self, db: Path) -> None:
        if not db.exists():
            raise FileNotFoundError(f"department store {db} missing; run demo data generation first")
        self.db = db
        self.conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self._rw: sqlite3.Connection | None = None

    @property
    def rw(self) -> sqlite3.Connection:
        """The writing connection, opened at the first write (transactions are explicit)."""
        if self._rw is None:
            self._rw = sqlite3.connect(self.db, check_same_thread=False, isolation_level=None)
            self._rw.row_factory = sqlite3.Row
        return self._rw

    def rows(self, sql: str, args: Sequence[object]) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, args)]


def _where(svc: Service, res: Resource, request: Request, more: Sequence[str] = ()) -> tuple[str, list[object]]:
    allowed = {svc.place_param, svc.position_param, svc.size_param, *res.filters, *more}
    unknown = set(request.query_params) - allowed
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    clauses, args = [], []
    place = request.query_params.get(svc.place_param, "").strip()
    if place:
        lo, hi = _prefix_bounds(place)
        clauses.append(f"{res.place} >= ? AND {res.place} < ?")
        args += [lo, hi]
    for name in res.filters:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        values = _split(raw)
        if not values:
            raise BadRequest(f"parameter {name} is empty")
        clauses.append(f"{name} IN ({','.join('?' * len(values))})")
        args += values
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _size(svc: Service, request: Request, default: int = 50) -> int:
    raw = request.query_params.get(svc.size_param, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"{svc.size_param} must be an integer 1..{MAX_PAGE}")
    return int(raw)


def _encode_cursor(rowid: int) -> str:
    return base64.urlsafe_b64encode(f"r{rowid}".encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if raw[0] != "r":
            raise ValueError
        return int(raw[1:])
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid {token!r} cursor") from exc


def _list(svc: Service, res: Resource, store: _Store, request: Request) -> dict[str, Any]:
    where, args = _where(svc, res, request)
    size = _size(svc, request)
    cols = f"rowid AS _rid, * FROM {res.table}"
    pos = request.query_params.get(svc.position_param)
    if svc.paging == "cursor":
        after = _decode_cursor(pos) if pos else 0
        cond = f"{where} AND rowid > ?" if where else " WHERE rowid > ?"
        rows = store.rows(f"SELECT {cols}{cond} ORDER BY rowid LIMIT ?", [*args, after, size + 1])
        nxt = _encode_cursor(rows[size - 1]["_rid"]) if len(rows) > size else None
        items = [_strip(r) for r in rows[:size]]
        return _nest(svc.envelope, svc.items_path, items, **{svc.next_path or "": nxt})
    if svc.paging == "page":
        if pos is not None and (not pos.isdigit() or int(pos) < 1):
            raise BadRequest(f"{svc.position_param} must be an integer >= 1")
        offset = (int(pos or 1) - 1) * size
    else:
        if pos is not None and not pos.isdigit():
            raise BadRequest(f"{svc.position_param} must be an integer >= 0")
        offset = int(pos or 0)
    total = store.conn.execute(f"SELECT count(*) FROM {res.table}{where}", args).fetchone()[0]
    rows = store.rows(f"SELECT {cols}{where} ORDER BY rowid LIMIT ? OFFSET ?", [*args, size, offset])
    return _nest(svc.envelope, svc.items_path, [_strip(r) for r in rows], **{svc.total_path or "": total})


GROUP_PARAM = "groupBy"


def _counts(svc: Service, res: Resource, store: _Store, request: Request) -> dict[str, Any]:
    """Counts per group: ``groupBy=col,col:N`` (N: the column's first N characters), scope and filters
    as in the listing; one object per group, each spec's value under its own name, and ``count``."""
    where, args = _where(svc, res, request, (GROUP_PARAM,))
    specs = _split(request.query_params.get(GROUP_PARAM, ""))
    if not specs:
        raise BadRequest(f"{GROUP_PARAM} is empty; groups: {', '.join(res.groups)}")
    exprs = []
    for i, spec in enumerate(specs):
        col, _, n = spec.partition(":")
        if col not in res.groups:
            raise BadRequest(f"cannot group by {col!r}; groups: {', '.join(res.groups)}")
        if n and not (n.isdigit() and 1 <= int(n) <= 64):
            raise BadRequest(f"{spec!r}: the prefix length must be an integer 1..64")
        exprs.append(f"substr({col}, 1, {int(n)}) AS g{i}" if n else f"{col} AS g{i}")
    names = ", ".join(f"g{i}" for i in range(len(specs)))
    rows = store.conn.execute(f"SELECT {', '.join(exprs)}, count(*) FROM {res.table}{where} GROUP BY {names}", args)
    items = [{**{s: r[i] for i, s in enumerate(specs)}, "count": r[len(specs)]} for r in rows]
    return _nest(svc.envelope, svc.items_path, items)


def _create(svc: Service, res: Resource, store: _Store, key: str, body: Any) -> tuple[int, dict[str, Any]]:
    w = res.write
    assert w is not None
    if not key or len(key) > 128:
        raise BadRequest("an Idempotency-Key header (1 to 128 characters) is required")
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object of columns")
    conn = store.rw
    columns = [r["name"] for r in conn.execute(f"PRAGMA table_info({res.table})")]
    unknown = set(body) - (set(columns) - {res.key, "request_key"})
    missing = [c for c in w.required if body.get(c) in (None, "")]
    if unknown or missing:
        return 422, {"error": "unknown or missing columns", "unknown": sorted(unknown), "missing": missing}
    conn.execute("BEGIN IMMEDIATE")  # the look-up, the check and the insert see no other write
    try:
        row = conn.execute(f"SELECT * FROM {res.table} WHERE request_key = ?", [key]).fetchone()
        if row is not None:
            conn.execute("ROLLBACK")
            return 200, _nest(svc.envelope, svc.item_path, dict(row))
        why = w.check(conn, body) if w.check else None
        if why is not None:
            conn.execute("ROLLBACK")
            return 409, {"error": why}
        n = conn.execute(f"SELECT coalesce(max(rowid), 0) + 1 FROM {res.table}").fetchone()[0]
        now = dt.datetime.now()
        row_values = {**body, **{c: now.strftime(f) for c, f in w.stamp.items()}, res.key: w.make_key(n, now),
                      "request_key": key}
        names = list(row_values)
        conn.execute(f"INSERT INTO {res.table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [row_values[c] for c in names])
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise
    row = conn.execute(f"SELECT * FROM {res.table} WHERE request_key = ?", [key]).fetchone()
    return 201, _nest(svc.envelope, svc.item_path, dict(row))


def _strip(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("_rid", None)
    return row


async def _batch_keys(svc: Service, request: Request) -> list[str]:
    if svc.batch_method == "GET":
        keys = _split(request.query_params.get(svc.batch_param, ""))
    else:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest("body must be JSON") from exc
        keys = body.get(svc.batch_param) if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadRequest(f'body must be {{"{svc.batch_param}": [string, ...]}}')
    if len(keys) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} keys per batch")
    return keys


def build_app(svc: Service, data_dir: Path) -> Starlette:
    store = _Store(Path(data_dir) / f"{svc.slug}.db")
    routes: list[Route] = []

    async def health(_: Request) -> Response:
        return _json({"status": "UP", "department": svc.slug})

    routes.append(Route("/health", health))
    for res in svc.resources:
        base = f"{svc.prefix}/{res.path}"

        async def listing(request: Request, res: Resource = res) -> Response:
            return _json(_list(svc, res, store, request))

        async def single(request: Request, res: Resource = res) -> Response:
            key = request.path_params["key"]
            rows = store.rows(f"SELECT * FROM {res.table} WHERE {res.key} = ? LIMIT 1", [key])
            if not rows:
                return _json({"error": f"{res.path} {key} not found", "status": 404}, 404)
            return _json(_nest(svc.envelope, svc.item_path, rows[0]))

        async def batch(request: Request, res: Resource = res) -> Response:
            keys = await _batch_keys(svc, request)
            found: list[dict[str, Any]] = []
            for i in range(0, len(keys), 250):
                chunk = keys[i:i + 250]
                found += store.rows(f"SELECT * FROM {res.table} WHERE {res.key} IN ({','.join('?' * len(chunk))})",
                                    chunk)
            return _json(_nest(svc.envelope, svc.batch_items_path, found))

        async def counts(request: Request, res: Resource = res) -> Response:
            return _json(_counts(svc, res, store, request))

        async def create(request: Request, res: Resource = res) -> Response:
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError as exc:
                raise BadRequest("body must be JSON") from exc
            status, answer = _create(svc, res, store, request.headers.get("idempotency-key", "").strip(), body)
            return _json(answer, status)

        if res.write is not None:
            routes.append(Route(base, create, methods=["POST"]))
        if res.batch:
            routes.append(Route(f"{base}/batch", batch, methods=[svc.batch_method]))
        if res.groups:
            routes.append(Route(f"{base}/counts", counts))
        routes.append(Route(base, listing))
        routes.append(Route(f"{base}/{{key}}", single))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return _json({"error": str(exc), "status": 400}, 400)

    return Starlette(routes=routes, exception_handlers={BadRequest: bad_request})
