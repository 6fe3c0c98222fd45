"""The server's socket settings: no Nagle wait, one send per small response.

uvicorn (h11) writes a response's status line and headers, then its body, in two
``transport.write`` calls. With Nagle's algorithm on, the second small segment waits for
the client's ACK of the first, which a delayed-ACK client holds back ~40 ms: a request on
a kept-alive connection became ~45 ms slower than on a new one. Two measures:

* ``TCP_NODELAY`` on the listening socket (accepted sockets inherit it on Linux, in every
  worker process of ``--workers N``, whichever event loop accepts them);
* ``Coalescing``: the header block is held until the body arrives (or the current loop
  pass ends) and both leave in one ``write``, so a response is one segment, not two.
"""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD = b"HTTP/1.1 "
END = b"\r\n\r\n"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop uvicorn's loop="auto" picks (uvloop when installed), for a server run in our own loop."""
    return uvicorn.Config("gateway.serve:worker_app", log_config=None).get_loop_factory()  # leaves logging alone


def no_delay(sock: socket.socket) -> None:
    """TCP_NODELAY on a TCP socket (a listening one passes it on to the sockets it accepts)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class CoalescingTransport:
    """A transport whose header-only writes wait for the next write (or the end of the loop pass)."""

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._inner = inner
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._inner.write(held + bytes(data))
            return
        if isinstance(data, bytes) and data.startswith(HEAD) and data.endswith(END):
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._inner.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._inner.is_closing():
                self._inner.write(held)

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CoalescingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol writing each response's head and body in one send.

    h11, not httptools: h11 bounds the header block (h11_max_incomplete_event_size) and
    reads a request with both Transfer-Encoding and Content-Length as chunked, which
    tests/gateway/test_hostile_http.py holds the edge to; httptools does neither.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
