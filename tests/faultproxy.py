"""A TCP fault proxy on loopback, in front of one department service, for the fault matrix.

    proxy = FaultProxy("http://127.0.0.1:18101")   # forwards ("pass") until told otherwise
    proxy.set("hang")                              # every new connection: read, never answer
    proxy.set("pass")                              # the fault ends

Modes (applied per connection; changing the mode cuts every open connection, as a real
fault would, so kept-alive connections cannot carry on unaffected):

* ``pass``    - forward both ways, byte for byte
* ``refuse``  - stop listening: connections are refused
* ``hang``    - accept and read, never answer (a frozen process, a black-holed route)
* ``slow``    - forward, each request held ``delay_s`` first
* ``reset``   - forward the request, send the answer's headers and half its body, then RST
* ``garbage`` - answer random bytes that are not HTTP, then close
* ``partial`` - send the headers and half the body (Content-Length promises all), then FIN
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
from typing import Any
from urllib.parse import urlsplit

MODES = ("pass", "refuse", "hang", "slow", "reset", "garbage", "partial")


class FaultProxy:
    def __init__(self, upstream: str, delay_s: float = 3.0) -> None:
        u = urlsplit(upstream)
        self.up_host, self.up_port = u.hostname or "127.0.0.1", u.port or 80
        self.mode = "pass"
        self.delay_s = delay_s
        self.port = 0
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="faultproxy", daemon=True)
        self.thread.start()
        self._run(self._listen())
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def set(self, mode: str, delay_s: float | None = None) -> None:
        assert mode in MODES, mode
        self._run(self._set(mode, delay_s))

    def close(self) -> None:
        self._run(self._set("refuse", None))
        self._run(self._cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _set(self, mode: str, delay_s: float | None) -> None:
        self.mode = mode
        if delay_s is not None:
            self.delay_s = delay_s
        for w in list(self.writers):
            w.transport.abort()
        if mode == "refuse" and self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        elif mode != "refuse" and self.server is None:
            await self._listen()

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        mode = self.mode
        try:
            if mode == "hang":
                while await reader.read(65536):
                    pass
            elif mode == "garbage":
                await reader.read(65536)
                writer.write(os.urandom(512).replace(b"HTTP", b"\x00\x00\x00\x00"))
                await writer.drain()
            else:
                await self._forward(mode, reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # the peer went, or the proxy is closing
        finally:
            self.writers.discard(writer)
            writer.transport.abort() if mode == "reset" else writer.close()

    async def _forward(self, mode: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(self.up_host, self.up_port)
        try:
            if mode in ("reset", "partial"):
                request = await reader.readuntil(b"\r\n\r\n")
                request += await reader.readexactly(content_length(request))
                up_w.write(request)
                await up_w.drain()
                head = await up_r.readuntil(b"\r\n\r\n")
                length = content_length(head)
                body = await up_r.readexactly(length)
                writer.write(head + body[: length // 2])
                await writer.drain()
                if mode == "reset":  # RST instead of FIN
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            await asyncio.gather(self._pipe(reader, up_w, self.delay_s if mode == "slow" else 0.0),
                                 self._pipe(up_r, writer, 0.0))
        finally:
            up_w.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay_s: float) -> None:
        try:
            while data := await src.read(65536):
                if delay_s:
                    await asyncio.sleep(delay_s)
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.write_eof() if dst.can_write_eof() else dst.close()


def content_length(head: bytes) -> int:
    return next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")), 0)
