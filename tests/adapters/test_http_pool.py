"""A department's connection pool survives calls cancelled at any moment (a guard's timeout).

httpcore 1.0.9 keeps, for good, a connection it made for a request that was cancelled before
the connection connected; with the pool as large as the department's concurrency, a few of
them and every later call waits until its timeout. The adapter drops them when a call is
cancelled (adapters/http.py ``reclaim_orphans``). Real loopback server, real httpx client.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.http import HttpAdapter, reclaim_orphans
from common.errors import AdapterTimeoutError

POOL = 2


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while True:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                head += chunk
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def department() -> AsyncIterator[HttpAdapter]:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    a = HttpAdapter.__new__(HttpAdapter)  # the transport half of the adapter: no spec needed
    a.name = "loopback"
    a.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=None,
                                 limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL))
    # more calls in flight than connections: the pool queues some, the surest way to cancel one after
    # the pool gave it a new connection and before it connected (with the adapter's own equal limits
    # that takes a stale connection closed at the same moment, as in the fault matrix)
    a.sem = asyncio.Semaphore(4 * POOL)
    try:
        yield a
    finally:
        await a.client.aclose()
        server.close()
        await server.wait_closed()


def never_connected(client: httpx.AsyncClient) -> int:
    pool = client._transport._pool  # type: ignore[attr-defined]
    return sum(1 for c in pool._connections if c._connection is None)


async def bounded(a: HttpAdapter) -> object:
    """A call as the guard makes it: bounded by a timeout that cancels it."""
    try:
        async with asyncio.timeout(0.5):
            return await a._get_json("GET", "/health")
    except TimeoutError:
        raise AdapterTimeoutError("timed out", department=a.name) from None


@pytest.mark.parametrize("waves", [1, 5])
async def test_calls_cancelled_before_connecting_leave_the_pool_usable(waves: int) -> None:
    async with department() as a:
        for _ in range(waves):
            calls = [asyncio.create_task(a._get_json("GET", "/health")) for _ in range(2 * POOL)]
            await asyncio.sleep(0)  # each is now past the pool's assignment, none connected yet
            for c in calls:
                c.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        assert never_connected(a.client) == 0
        assert await asyncio.gather(*(bounded(a) for _ in range(2 * POOL))) == [{}] * (2 * POOL)


async def test_without_the_reclaim_the_pool_would_be_stuck() -> None:
    """The failure this guards against, shown on the bare client: the test above is not vacuous."""
    async with department() as a:
        calls = [asyncio.create_task(a.client.get("/health")) for _ in range(2 * POOL)]
        await asyncio.sleep(0)
        for c in calls:
            c.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        stuck = never_connected(a.client)
        if stuck == 0:
            pytest.fail("httpcore no longer leaves orphans: reclaim_orphans may go, with this test")
        with pytest.raises(TimeoutError):  # every slot of the pool is held by a connection nobody will use
            async with asyncio.timeout(0.5):
                await a.client.get("/health")
        assert reclaim_orphans(a.client, a.name) == stuck
        assert await bounded(a) == {}
