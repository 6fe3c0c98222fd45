"""The request id: one per request, in every log record of it and in the answer's X-Request-Id.

A caller's (or a proxy's) ``X-Request-Id`` is kept when it is a plain token of at most 128
printable characters, so one id follows a request through several systems; anything else
(empty, too long, spaces, control characters, non-ASCII) is replaced by a fresh uuid4 hex.
The id lives in a context variable, so code anywhere below the middleware reads it with
``current()`` (None outside a request)::

    app = Starlette(routes=..., middleware=[Middleware(RequestIdMiddleware)])
"""
from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
MAX_LENGTH = 128
# RFC 9110 token characters: letters, digits and !#$%&'*+-.^_`|~ (no spaces, quotes or separators)
_TOKEN = re.compile(rb"[A-Za-z0-9!#$%&'*+\-.^_`|~]{1," + str(MAX_LENGTH).encode() + rb"}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return _current.get()


def new_id() -> str:
    return uuid.uuid4().hex


def accept(value: bytes | None) -> str:
    """The caller's id if it is an acceptable token, else a new one."""
    if value is not None and _TOKEN.fullmatch(value):
        return value.decode("ascii")
    return new_id()


class RequestIdMiddleware:
    """Pure ASGI: sets the id for the request's context and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = [v for k, v in scope.get("headers", ()) if k.lower() == HEADER]
        rid = accept(given[0] if len(given) == 1 else None)  # several ids: trust none
        header = (HEADER, rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [h for h in message.get("headers", ()) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = _current.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
