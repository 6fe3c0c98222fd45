"""Keeping the event loop responsive while graphql-core completes a large answer.

graphql-core completes the items of a list synchronously, field by field: a large allowed
answer would hold the event loop (and every other request, /healthz included) for its
whole duration. A list item that is awaitable is completed in a task of its own, but
asyncio runs every ready task in one pass before it looks at the sockets again; so the
items of a long list wait at a ``Gate`` that lets one through per pass of the loop, and
other requests are served between any two items. ``Later`` may be awaited any number of
times, since an aliased field hands the same list to graphql-core twice.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Generator
from typing import Any

SPREAD_FROM = 32  # shorter lists complete in one pass: their cost is below the loop's tolerance


class Gate:
    """Releases one waiter per pass of the event loop."""

    def __init__(self) -> None:
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.scheduled = False

    def wait(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.waiting.append(fut)
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._release)
        return fut

    def _release(self) -> None:
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():  # a cancelled request's waiters are skipped
                fut.set_result(None)
                break
        if self.waiting:
            asyncio.get_running_loop().call_soon(self._release)  # runs in the next pass, after I/O
        else:
            self.scheduled = False


class Later:
    __slots__ = ("gate", "value")

    def __init__(self, value: Any, gate: Gate) -> None:
        self.value = value
        self.gate = gate

    def __await__(self) -> Generator[Any, None, Any]:
        yield from self.gate.wait().__await__()
        return self.value


def spread(items: list[Any]) -> list[Any]:
    """``items`` as awaitables passing one gate, when the list is long enough to matter."""
    if len(items) < SPREAD_FROM:
        return items
    gate = Gate()
    return [Later(x, gate) for x in items]
