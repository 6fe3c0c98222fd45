"""The adapter protocol and the small value types that cross it.

An adapter is one department system seen through one protocol:

* ``load_many(entity, keys, by=None)`` - batch fetch. Same length and order as ``keys``.
  With ``by=None`` the keys are the entity's unique key and each slot is a record or
  ``None``; with ``by=FIELD`` (a declared filter field) each slot is a list of records.
  A slot may hold an exception instance for a per-key failure.
* ``list(entity, query)`` - a scoped, filtered, paginated listing.
* ``aggregate(entity, query, group_by)`` - optional count push-down.
* ``health()`` - a cheap liveness probe.

Records are plain dicts keyed by schema field name, values already canonical. Every call
returns fresh dicts that the caller owns: the gateway attaches relations to them and
masks them in place, so an adapter must never hand out its cached objects.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Record = dict[str, Any]
# Aliases for annotations inside adapter classes, where the method `list` shadows the builtin.
Records = list[Record]
Rows = list[dict[str, Any]]
Cells = list[tuple[tuple[Any, ...], int]]  # (group values, count)


@dataclass(frozen=True)
class FieldType:
    """A schema field's scalar type as adapters see it: str int float bool date enum."""

    scalar: str
    enum: frozenset[str] | None = None


Catalogue = Mapping[str, Mapping[str, FieldType]]


@dataclass(frozen=True)
class Eq:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    lo: Any = None  # inclusive
    hi: Any = None  # inclusive


Filter = Eq | Range


@dataclass(frozen=True)
class ListQuery:
    scope: str | None = None  # jurisdiction prefix (whole segments)
    filters: Mapping[str, Filter] = field(default_factory=dict)
    keys_in: tuple[str, ...] | None = None  # semi-join from another department
    offset: int = 0
    limit: int | None = 100  # None = all rows (used by the planner for key sets)
    count: bool = False


@dataclass
class Page:
    records: list[Record]
    total: int | None = None


@dataclass(frozen=True)
class GroupBy:
    """One grouping dimension: a field's value, its jurisdiction prefix, or a date's year."""

    field: str
    op: str = "value"  # value | prefix | year
    arg: int = 0  # prefix length


@dataclass(frozen=True)
class Health:
    status: str  # "up" | "down"
    detail: str = ""
    ms: float = 0.0


@runtime_checkable
class Adapter(Protocol):
    name: str
    department: str
    kind: str
    entities: Mapping[str, Any]  # entity type name -> EntitySpec

    async def load_many(self, entity: str, keys: Sequence[str], by: str | None = None) -> list[Any]: ...

    async def list(self, entity: str, query: ListQuery) -> Page: ...

    async def aggregate(self, entity: str, query: ListQuery, group_by: Sequence[GroupBy]) -> Cells: ...

    # one new record (canonical fields, JURISDICTION for its place); written once per request_key: the same
    # key again answers the record it wrote. The written record as the department now holds it.
    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record: ...

    async def health(self) -> Health: ...

    def version(self, entity: str) -> Any: ...  # changes when the entity's data may have; None: not known

    async def close(self) -> None: ...


def year_of(v: Any) -> int | None:
    return v.year if isinstance(v, dt.date) else None
