"""The `http` kind: a department's JSON API over httpx.

Batch fetch uses the batch endpoint where the spec declares one, else bounded concurrent
single fetches. Listings translate (offset, limit) into the service's own pagination
style: page numbers, offset/limit or opaque cursors.

Answers are classified for the circuit breaker (adapters/guard.py): a 4xx (but 408 and
429) means the department refused a request the gateway built, a gateway fault logged at
ERROR and answered DEPARTMENT_REJECTED, never counted toward the breaker; 5xx, 408, 429
(DEPARTMENT_BAD_RESPONSE) and unreadable bodies (DEPARTMENT_BAD_DATA, reason logged) are
the department's fault and count.

Idle kept-alive connections expire after the spec's ``connection.keepalive_s`` (2 s),
shorter than the services' own keep-alive, and a read that fails on a connection before
any byte arrives is sent once more (see ``_send``).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson
from prometheus_client import Counter

from adapters.base import Cells, Eq, GroupBy, Health, ListQuery, Page, Range, Record, Records, Rows
from adapters.kind import BaseAdapter, pushed_groups
from adapters.loader import LoadedSpec
from adapters.mapping import EntityMap
from adapters.spec import HttpConnection, HttpList, HttpWrite
from common.errors import (
    AdapterBadDataError,
    AdapterError,
    AdapterRejectedError,
    AdapterResponseError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    FilterNotAllowedError,
)

log = logging.getLogger(__name__)
VALUES_PER_CALL = 50  # comma-joined filter values per list request
OVERLOADED = frozenset({408, 429})  # 4xx statuses that say the department is struggling, not that we erred
# failures before any byte of the answer: a stale kept-alive connection; safe to resend a read
STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
RETRIES = Counter("gateway_adapter_retries_total", "Department reads sent again after a stale connection",
                  ["adapter", "cause"])
ORPHANS = Counter("gateway_adapter_orphan_connections_total", "Connections a cancelled call left in a department's "
                  "pool, dropped (adapters/http.py reclaim_orphans)", ["adapter"])


def redacted(r: httpx.Response) -> str:
    """The request's path with the query's parameter names only (values may be personal data)."""
    names = sorted(dict.fromkeys(k for k, _ in r.request.url.params.multi_items()))
    return r.request.url.path + ("?" + "&".join(f"{n}=" for n in names) if names else "")


def dig(body: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def reclaim_orphans(client: httpx.AsyncClient, department: str) -> int:
    """Drop the pool's connections that no request will ever use, closing them; the number dropped.

    A request cancelled after the pool gave it a new connection, but before it started its
    exchange on it (still connecting, or connected with nothing sent), leaves the connection
    in the pool for good with httpcore 1.0.9 (encode/httpcore issue 1093): not idle, not
    expired, not available, and its socket open. A department's pool holds as many
    connections as its concurrency, so a few timeouts at the wrong moment fill it, and every
    later call, health checks too, waits for a slot until its timeout, long after the
    department is back. Called when a call is cancelled: the pool has by then forgotten the
    request, so a connection no live request holds that is neither idle nor closed is such an
    orphan.
    """
    pool = getattr(client._transport, "_pool", None)
    if pool is None:
        return 0
    held = {id(r.connection) for r in pool._requests if r.connection is not None}
    orphans = [c for c in pool._connections if id(c) not in held and not c.is_idle() and not c.is_closed()]
    for c in orphans:
        pool._connections.remove(c)
        task = asyncio.get_running_loop().create_task(c.aclose())  # its socket, when it got one
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
    if orphans:
        ORPHANS.labels(department).inc(len(orphans))
    return len(orphans)


_CLOSING: set[asyncio.Task[None]] = set()


class HttpAdapter(BaseAdapter):
    kind = "http"
    ranges = False  # a department's query parameters are equalities

    def __init__(self, loaded: LoadedSpec) -> None:
        super().__init__(loaded)
        conn = loaded.connection
        assert isinstance(conn, HttpConnection)
        # no httpx timeout of its own: adapters/guard.py bounds every call (slot wait, retry and all)
        self.client = httpx.AsyncClient(
            base_url=conn.base_url, headers=conn.headers, timeout=None,
            limits=httpx.Limits(max_connections=conn.max_concurrency, max_keepalive_connections=conn.max_concurrency,
                                keepalive_expiry=conn.keepalive_s))
        self.sem = asyncio.Semaphore(conn.max_concurrency)

    async def _send(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """Send, read the body; an idempotent read that fails before any byte arrives is sent once more.

        That failure is what a kept-alive connection the service closed at the same moment
        looks like ("Server disconnected without sending a response"); the pool drops the
        dead connection, so the second attempt goes out on another one.
        """
        for attempt in (1, 2):
            try:
                r = await self.client.send(request, stream=True)
            except STALE as e:
                if attempt == 2:
                    raise
                RETRIES.labels(self.name, type(e).__name__).inc()
                continue
            try:
                return r, await r.aread()
            finally:
                await r.aclose()
        raise AssertionError("unreachable")

    async def _get_json(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                        body: Any = None, allow_404: bool = False, quiet: bool = False,
                        headers: dict[str, str] | None = None) -> Any:
        """The answer's JSON; ``quiet`` (health checks) leaves the logging to the health monitor. A POST is
        a batch read or a write carrying its idempotency key: sent twice, it does what it did once."""
        if method == "GET":
            req = self.client.build_request("GET", path, params=params)
        else:  # batch reads by POST: idempotent too
            req = self.client.build_request("POST", path, params=params, content=orjson.dumps(body),
                                            headers={"content-type": "application/json", **(headers or {})})
        try:
            async with self.sem:
                r, content = await self._send(req)
        except asyncio.CancelledError:  # the guard's timeout, or the request gone
            reclaim_orphans(self.client, self.name)
            raise
        except httpx.TimeoutException:
            raise AdapterTimeoutError(f"department {self.name} timed out", department=self.name) from None
        except httpx.HTTPError as e:
            raise AdapterUnavailableError(f"department {self.name} is unreachable", department=self.name,
                                          cause=type(e).__name__) from None
        if allow_404 and r.status_code == 404:
            return None
        if 400 <= r.status_code < 500 and r.status_code not in OVERLOADED:
            where = redacted(r)
            if not quiet:
                log.error("department %s rejected a gateway-built request: HTTP %d %s %s", self.name, r.status_code,
                          method, where, extra={"department": self.name, "status": r.status_code, "path": where})
            raise AdapterRejectedError(f"department {self.name} refused the request (HTTP {r.status_code})",
                                       department=self.name, status=r.status_code)
        if r.status_code >= 400:
            raise AdapterResponseError(f"department {self.name} answered HTTP {r.status_code}",
                                       department=self.name, status=r.status_code)
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            if quiet:
                raise AdapterBadDataError(f"department {self.name}: invalid JSON", department=self.name) from None
            raise self._bad(f"invalid JSON from {redacted(r)}") from None

    def _items(self, body: Any, path: str) -> list[dict[str, Any]]:
        items = dig(body, path)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._bad(f"expected a list of objects at {path!r}")
        return items

    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record:
        m = self._writable(entity)
        w = m.spec.write
        assert isinstance(w, HttpWrite)
        body = await self._get_json("POST", w.path, body=m.raw_row({k: v for k, v in values.items() if k not in w.filled}),
                                    headers={w.header: request_key})
        item = dig(body, w.item)
        if not isinstance(item, dict):
            raise self._bad(f"expected the written object at {w.item!r}")
        return self._convert(m, [item])[0]

    async def fetch_by(self, entity: str, field: str, values: Sequence[Any]) -> Records:
        m = self.maps[entity]
        es = m.spec
        if field == m.key and es.batch is not None:
            raws = m.raw_values(field, tuple(values))
            b = es.batch
            chunks = [raws[i:i + b.max_keys] for i in range(0, len(raws), b.max_keys)]

            async def one(chunk: list[Any]) -> list[dict[str, Any]]:
                if b.method == "GET":
                    body = await self._get_json("GET", b.path, params={b.param: ",".join(map(str, chunk))})
                else:
                    body = await self._get_json("POST", b.path, body={b.param: chunk})
                return self._items(body, b.items)
            results = await asyncio.gather(*(one(c) for c in chunks))
            return self._convert(m, [i for items in results for i in items])
        if field == m.key and es.get is not None:
            g = es.get

            async def single(v: Any) -> list[dict[str, Any]]:
                for raw in m.raw_values(field, (v,)):
                    body = await self._get_json("GET", g.path.replace("{key}", str(raw)), allow_404=True)
                    item = dig(body, g.item) if body is not None else None
                    if isinstance(item, dict):
                        return [item]
                return []
            results = await asyncio.gather(*(single(v) for v in values))
            return self._convert(m, [i for items in results for i in items])
        if field not in m.filter_params:
            raise FilterNotAllowedError(f"{entity} cannot be looked up by {field!r}", entity=entity, filter=field)
        vals = list(values)
        chunks = [vals[i:i + VALUES_PER_CALL] for i in range(0, len(vals), VALUES_PER_CALL)]
        pages = await asyncio.gather(*(self.list(entity, ListQuery(filters={field: Eq(tuple(c))}, limit=None))
                                       for c in chunks))
        return [r for p in pages for r in p.records]

    def _params(self, m: EntityMap, q: ListQuery) -> dict[str, Any] | None:
        lst = m.spec.list_
        assert lst is not None
        params: dict[str, Any] = {}
        sf = m.scope(q.scope)
        if sf.mode == "none":
            return None
        if sf.mode == "prefix":
            params[lst.scope_param] = sf.value
        elif sf.mode == "in":
            params[lst.scope_param] = ",".join(sf.values)
        fp = m.filter_params
        for f, cond in q.filters.items():
            if isinstance(cond, Range):
                raise FilterNotAllowedError(f"{m.entity}.{f} supports equality filters only", entity=m.entity, filter=f)
            params[fp[f]] = ",".join(str(r) for r in m.raw_values(f, cond.values))
        if q.keys_in is not None:
            if m.key not in fp:
                raise FilterNotAllowedError(f"{m.entity} cannot be restricted by key", entity=m.entity, filter=m.key)
            params[fp[m.key]] = ",".join(str(r) for r in m.raw_values(m.key, q.keys_in))
        return params

    async def list(self, entity: str, query: ListQuery) -> Page:
        m = self._map(entity)
        m.check_filters(query)
        params = self._params(m, query)
        if params is None or (query.keys_in is not None and not query.keys_in):
            return Page([], 0 if query.count else None)
        lst = m.spec.list_
        assert lst is not None
        items, total = await self._page_through(lst, params, query.offset, query.limit, query.count)
        return Page(self._convert(m, items), total)

    async def aggregate(self, entity: str, query: ListQuery, group_by: Sequence[GroupBy]) -> Cells:
        """Counted by the department when its spec declares a counting endpoint and every grouping is
        one of its columns (or a prefix of one); otherwise over the listed records."""
        m = self._map(entity)
        agg = m.spec.aggregate
        fields = {"jurisdiction" if g.field == "__jurisdiction" else g.field for g in group_by}
        groups = (pushed_groups(m, group_by) if agg is not None and query.keys_in is None and fields <= set(agg.by)
                  else None)
        if agg is None or groups is None:
            return await super().aggregate(entity, query, group_by)
        m.check_filters(query)
        params = self._params(m, query)
        if params is None:
            return []
        names = [g.source if g.length is None else f"{g.source}:{g.length}" for g in groups]
        body = await self._get_json("GET", agg.path, params={**params, agg.group_param: ",".join(names)})
        merged: dict[tuple[Any, ...], int] = {}
        for cell in self._items(body, agg.items):
            n = cell.get(agg.count)
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise self._bad(f"a count at {agg.path} is not a non-negative integer")
            try:
                k = tuple(g.conv(cell.get(name)) for g, name in zip(groups, names, strict=True))
            except (TypeError, ValueError, AttributeError):
                raise self._bad(f"a group value at {agg.path} does not convert") from None
            merged[k] = merged.get(k, 0) + n
        return list(merged.items())

    async def _page_through(self, lst: HttpList, params: dict[str, Any], offset: int, limit: int | None,
                            count: bool) -> tuple[Rows, int | None]:
        p = lst.paging
        size = p.max_size
        want = None if limit is None else offset + limit
        if want is not None and want < size and (p.total or not count):
            size = max(want, 1)  # one page from the start holds every row asked for: no larger one
        got: list[dict[str, Any]] = []
        total: int | None = None
        if p.style == "cursor":
            cursor: Any = None
            while True:
                q = {**params, p.size_param: size}
                if cursor is not None:
                    q[p.cursor_param] = cursor
                body = await self._get_json("GET", lst.path, params=q)
                got.extend(self._items(body, lst.items))
                if p.total:
                    total = _int(dig(body, p.total))
                cursor = dig(body, p.next or "")
                if not cursor or (want is not None and len(got) >= want and not (count and total is None)):
                    break
            if count and total is None and not cursor:
                total = len(got)
            return got[offset:want], total
        start_page = offset // size
        got_offset = start_page * size
        page_no = start_page
        while True:
            if p.style == "page":
                q = {**params, p.page_param: page_no + p.first_page, p.size_param: size}
            else:
                q = {**params, p.offset_param: page_no * size, p.size_param: size}
            body = await self._get_json("GET", lst.path, params=q)
            items = self._items(body, lst.items)
            got.extend(items)
            if p.total:
                total = _int(dig(body, p.total))
            page_no += 1
            if len(items) < size or (want is not None and got_offset + len(got) >= want):
                break
        if count and total is None:
            total = got_offset + len(got) if len(got) < (want or 0) - got_offset or want is None else None
        lo = offset - got_offset
        return got[lo: None if want is None else want - got_offset], total

    async def health(self) -> Health:
        try:
            await self._get_json("GET", "/health", quiet=True)
        except AdapterError as e:
            return Health("down", e.code)
        return Health("up")

    async def close(self) -> None:
        await self.client.aclose()


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
