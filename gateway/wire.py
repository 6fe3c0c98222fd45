"""The server's socket settings: no Nagle wait, one send per small response.

uvicorn (h11) writes a response's status line and headers, then its body, in two
``transport.write`` calls. With Nagle's algorithm on, the second small segment waits for
the client's ACK of the first, which a delayed-ACK client holds back ~40 ms: a request on
a kept-alive connection became ~45 ms slower than on a new one. Two measures:

* ``TCP_NODELAY`` on the listening socket (accepted sockets inherit it on Linux, in every
  worker process of ``--workers N``, whichever event loop accepts them);
* ``Coalescing``: the header block is held until the body arrives (or the current loop
  pass ends) and both leave in one ``write``, so a response is one segment, not two.

And a closing connection lingers (as nginx's and Apache's do): a refusal such as 413 is
answered before the client has sent its body, and a socket closed with unread data resets,
so a client still sending (urllib, a browser's fetch) would see a broken pipe instead of the
answer. So the answer goes out, our side is shut for writing (the client reads the answer
and the end), and what the client still sends is read and dropped until it stops for
``LINGER_IDLE_S`` or has sent ``LINGER_BYTES`` or ``LINGER_S`` has passed; then the socket
closes. Nothing read while lingering is ever parsed as a request.
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
LINGER_IDLE_S = 0.5
LINGER_S = 5.0
LINGER_BYTES = 16 << 20


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
        self._closed = False

    def is_closing(self) -> bool:
        return self._closed or self._inner.is_closing()

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
        if self._closed:
            return
        self.flush()
        self._closed = True
        inner = self._inner
        if inner.is_closing() or not inner.can_write_eof():
            inner.close()
            return
        inner.set_protocol(_Linger(inner, inner.get_protocol(), self._loop))
        inner.write_eof()  # after the answer: the client reads it, then the end
        inner.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Linger(asyncio.Protocol):
    """Reads and drops what a client still sends after the answer, then closes (bounded in bytes and time)."""

    def __init__(self, transport: asyncio.Transport, was: asyncio.BaseProtocol, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.was = was  # told of the end, so the server forgets the connection
        self.left = LINGER_BYTES
        self.loop = loop
        self.idle = loop.call_later(LINGER_IDLE_S, transport.close)
        self.limit = loop.call_later(LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        self.left -= len(data)
        self.idle.cancel()
        if self.left <= 0:
            self.transport.close()
        else:
            self.idle = self.loop.call_later(LINGER_IDLE_S, self.transport.close)

    def eof_received(self) -> bool:
        return False  # the client is done too: close

    def connection_lost(self, exc: Exception | None) -> None:
        self.idle.cancel()
        self.limit.cancel()
        self.was.connection_lost(exc)


class CoalescingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol writing each response's head and body in one send.

    h11, not httptools: h11 bounds the header block (h11_max_incomplete_event_size) and
    reads a request with both Transfer-Encoding and Content-Length as chunked, which
    tests/gateway/test_hostile_http.py holds the edge to; httptools does neither.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
