"""The `http` kind: a department's JSON API over httpx.

Batch fetch uses the batch endpoint where the spec declares one, else bounded concurrent
single fetches. Listings translate (offset, limit) into the service's own pagination
style: page numbers, offset/limit or opaque cursors.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from adapters.base import Eq, Health, ListQuery, Page, Range, Records, Rows
from adapters.kind import BaseAdapter
from adapters.loader import LoadedSpec
from adapters.mapping import EntityMap
from adapters.spec import HttpConnection, HttpList
from common.errors import (
    AdapterResponseError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    FilterNotAllowedError,
)

VALUES_PER_CALL = 50  # comma-joined filter values per list request


def dig(body: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


class HttpAdapter(BaseAdapter):
    kind = "http"

    def __init__(self, loaded: LoadedSpec) -> None:
        super().__init__(loaded)
        conn = loaded.connection
        assert isinstance(conn, HttpConnection)
        self.client = httpx.AsyncClient(
            base_url=conn.base_url, headers=conn.headers, timeout=loaded.spec.limits.timeout_s,
            limits=httpx.Limits(max_connections=conn.max_concurrency, max_keepalive_connections=conn.max_concurrency))
        self.sem = asyncio.Semaphore(conn.max_concurrency)

    async def _get_json(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                        body: Any = None, allow_404: bool = False) -> Any:
        try:
            async with self.sem:
                if method == "GET":
                    r = await self.client.get(path, params=params)
                else:
                    r = await self.client.post(path, params=params, content=orjson.dumps(body),
                                               headers={"content-type": "application/json"})
        except httpx.TimeoutException:
            raise AdapterTimeoutError(f"department {self.name} timed out", department=self.name) from None
        except httpx.HTTPError as e:
            raise AdapterUnavailableError(f"department {self.name} is unreachable", department=self.name,
                                          cause=type(e).__name__) from None
        if allow_404 and r.status_code == 404:
            return None
        if r.status_code >= 400:
            raise AdapterResponseError(f"department {self.name} answered HTTP {r.status_code}",
                                       department=self.name, status=r.status_code)
        try:
            return orjson.loads(r.content)
        except orjson.JSONDecodeError:
            raise AdapterResponseError(f"department {self.name} answered with invalid JSON",
                                       department=self.name) from None

    def _items(self, body: Any, path: str) -> list[dict[str, Any]]:
        items = dig(body, path)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise AdapterResponseError(f"department {self.name}: expected a list of objects at {path!r}",
                                       department=self.name)
        return items

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
            return [m.convert(i) for items in results for i in items]
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
            return [m.convert(i) for items in results for i in items]
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
        return Page([m.convert(i) for i in items], total)

    async def _page_through(self, lst: HttpList, params: dict[str, Any], offset: int, limit: int | None,
                            count: bool) -> tuple[Rows, int | None]:
        p = lst.paging
        size = p.max_size
        want = None if limit is None else offset + limit
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
            await self._get_json("GET", "/health")
        except (AdapterUnavailableError, AdapterTimeoutError, AdapterResponseError) as e:
            return Health("down", e.code)
        return Health("up")

    async def close(self) -> None:
        await self.client.aclose()


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
