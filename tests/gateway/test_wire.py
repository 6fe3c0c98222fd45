"""The server's sockets: TCP_NODELAY reaches accepted sockets; a response head and body leave in one write."""
from __future__ import annotations

import asyncio
import socket
from typing import Any

from gateway.serve import bind
from gateway.wire import CoalescingTransport, loop_factory


def test_accepted_sockets_inherit_nodelay_from_the_listening_socket() -> None:
    listener = bind("127.0.0.1", 0)
    try:
        client = socket.create_connection(listener.getsockname()[:2])
        conn, _ = listener.accept()
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        conn.close()
        client.close()
    finally:
        listener.close()


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> Any:
        return name


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


async def test_head_and_body_leave_in_one_write() -> None:
    inner = Recorder()
    t = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(HEAD)
    t.write(b"{}")
    assert inner.writes == [HEAD + b"{}"]
    assert t.get_extra_info("peername") == "peername"  # everything else is the transport's own


async def test_a_head_alone_is_sent_when_the_loop_pass_ends() -> None:
    inner = Recorder()
    t = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(HEAD)
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    t.write(b"body")  # not a head: written at once
    assert inner.writes == [HEAD, b"body"]


def test_the_event_loop_is_uvloop() -> None:
    factory = loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
