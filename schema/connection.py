"""Relay-style connections: ``first``/``after`` paging with opaque cursors and totalCount."""
from __future__ import annotations

import base64
from typing import Generic, TypeVar

import strawberry

from common.errors import InvalidCursorError

T = TypeVar("T")


@strawberry.type(description="Relay page information.")
class PageInfo:
    hasNextPage: bool
    hasPreviousPage: bool
    startCursor: str | None
    endCursor: str | None


@strawberry.type(description="An edge: a node and the cursor to continue after it.")
class Edge(Generic[T]):
    cursor: str
    node: T | None


@strawberry.type(description="A page of results.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    pageInfo: PageInfo
    totalCount: int | None = strawberry.field(description="Rows matching the filter within the caller's jurisdiction.")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset after ``cursor`` (0 when None); malformed cursors are INVALID_CURSOR."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, n = raw.partition(":")
        if tag != "o" or not n.isdigit() or len(n) > 9:
            raise ValueError(raw)
        return int(n) + 1
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursorError("the `after` cursor is not one this gateway issued", argument="after") from None
