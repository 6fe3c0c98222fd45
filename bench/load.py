"""An HTTP/1.1 load generator, run as its own process by bench/run.py.

    python bench/load.py URL BODY_FILE TOKEN --conns 8 --seconds 5 --warmup 1
    python bench/load.py URL BODY_FILE TOKEN --conns 64 --seconds 5 --warmup 1 --rate 120

Closed loop (the default): N kept-alive connections each send POSTs back to back for a fixed
time. Open loop (``--rate R``): requests are due at a fixed rate of R per second, whatever
the answers do, and each is sent on the first of the N connections free at (or after) its due
time; its latency counts from the due time, so a server falling behind shows as queueing
(no coordinated omission, as long as N connections are enough to keep up at R).
Prints one JSON line: latencies (ms) of the requests due after the warm-up, and their count.
A minimal client (one write per request, Content-Length framing) so the generator costs
far less than the servers it measures.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from urllib.parse import urlparse


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request and read its answer; the status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def one_conn(host: str, port: int, request: bytes, until: float, measure_from: float,
                   out: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= until:
                return
            status = await exchange(reader, writer, request)
            t1 = time.perf_counter()
            if status != 200:
                errors.append(status)
            elif t0 >= measure_from:
                out.append((t1 - t0) * 1000)
    finally:
        writer.close()


async def open_conn(host: str, port: int, request: bytes, slots: Iterator[int], start: float, rate: float,
                    until: float, measure_from: float, out: list[float], errors: list[int]) -> None:
    """Open loop: take the next due request, wait for its time, send it; latency from the due time."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for i in slots:
            due = start + i / rate
            if due >= until:
                return
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            status = await exchange(reader, writer, request)
            t1 = time.perf_counter()
            if status != 200:
                errors.append(status)
            elif due >= measure_from:
                out.append((t1 - due) * 1000)
    finally:
        writer.close()


async def run(url: str, body: bytes, token: str, conns: int, seconds: float, warmup: float,
              rate: float | None = None) -> dict[str, object]:
    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    request = (f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    now = time.perf_counter()
    measure_from, until = now + warmup, now + warmup + seconds
    lat: list[float] = []
    errors: list[int] = []
    if rate:
        slots = itertools.count()
        await asyncio.gather(*(open_conn(host, port, request, slots, now, rate, until, measure_from, lat, errors)
                               for _ in range(conns)))
    else:
        await asyncio.gather(*(one_conn(host, port, request, until, measure_from, lat, errors)
                               for _ in range(conns)))
    return {"latencies": lat, "errors": errors[:10], "error_count": len(errors), "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("body_file")
    ap.add_argument("token")
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=None, help="open loop: requests due per second (all connections)")
    a = ap.parse_args()
    with open(a.body_file, "rb") as f:
        body = f.read()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run  # type: ignore[assignment]
    print(json.dumps(runner(run(a.url, body, a.token, a.conns, a.seconds, a.warmup, a.rate))))


if __name__ == "__main__":
    main()
