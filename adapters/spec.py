"""The declarative adapter spec: pydantic models with unknown keys forbidden.

A department folder holds ``spec.yaml``. Its shape (see docs/adapter-spec.md):

    department: civil_affairs          # must equal the folder name
    title: Civil affairs bureau
    kind: sql | http | ledger | class
    connection: {...}                  # per kind; ${ENV} and ${ENV:-default} allowed
    entities:
      Welfare:                         # a schema type this department supplies
        key: idNumber                  # canonical key field (unique)
        jurisdiction: {source: jd_code, transform: [{prefix: "310107005"}]}
        fields: {idNumber: {source: sfzh, transform: [id_number]}, livingAlone: dj}
        filters: [livingAlone]         # http: {livingAlone: query_param}
    types:                             # record types it adds to the schema (adapters/declare.py)
      Welfare:
        description: ...
        fields: {idNumber: {type: String, description: ..., sensitive: identity, mask: id_number}}
        links: {Person.welfare: {by: idNumber, description: ...}}
    enums: {SubsidyType: {values: [FULL, HALF]}}
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Transform = str | dict[str, Any]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldMap(Strict):
    source: str
    transform: list[Transform] = Field(default_factory=list)


def _fieldmaps(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: ({"source": s} if isinstance(s, str) else s) for k, s in v.items()}
    return v


class Paging(Strict):
    style: Literal["page", "offset", "cursor"]
    page_param: str = "page"
    size_param: str = "size"
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    first_page: int = 1
    total: str | None = None  # dotted path of the total count (page/offset)
    next: str | None = None  # dotted path of the next cursor (cursor)
    max_size: int = Field(100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _style_needs(self) -> Paging:
        if self.style == "cursor" and not self.next:
            raise ValueError("cursor paging needs `next`: the dotted path of the next-page cursor")
        return self


class HttpGet(Strict):
    path: str  # contains {key}
    item: str = ""  # dotted path of the item in the body ("" = the body)

    @field_validator("path")
    @classmethod
    def _has_key(cls, v: str) -> str:
        if "{key}" not in v:
            raise ValueError("get.path must contain {key}")
        return v


class HttpBatch(Strict):
    method: Literal["GET", "POST"]
    path: str
    param: str  # GET: query parameter taking k1,k2,...; POST: JSON body field taking a list
    items: str = ""
    max_keys: int = Field(100, ge=1, le=10_000)


class HttpList(Strict):
    path: str
    items: str = ""
    scope_param: str
    paging: Paging


class HttpAggregate(Strict):
    """A counting endpoint: GET path?{list's scope and filter params}&{group_param}=col,col:N,... answers
    one object per group with each group spec's value under its own name (``col:N``: the column's first
    N characters) and the count under ``count``. ``by``: the fields it can group by (``jurisdiction``
    for the place code); any other grouping is counted over the listed records."""
    path: str
    group_param: str
    by: list[str]
    items: str = ""
    count: str = "count"


class SqlWrite(Strict):
    """A sql entity that accepts writes: each write inserts one row into ``table``. ``request_key`` names
    the column (UNIQUE in the department's table) holding the write's idempotency key, so a retried
    write finds its row instead of inserting another. ``filled``: the fields the database fills itself
    (an INTEGER PRIMARY KEY, a DEFAULT): never written."""
    request_key: str
    filled: list[str] = Field(default_factory=list)


class HttpWrite(Strict):
    """An http entity that accepts writes: each write is a POST of the row (department field names) to
    ``path``, with the idempotency key in the ``header``; the answer's ``item`` is the written row.
    ``filled``: the fields the department fills itself (its key, a time stamp): never sent."""
    path: str
    item: str = ""
    header: str = "Idempotency-Key"
    filled: list[str] = Field(default_factory=list)


class EntitySpec(Strict):
    key: str
    jurisdiction: FieldMap
    fields: dict[str, FieldMap]
    filters: list[str] | dict[str, str] = Field(default_factory=list)
    write: SqlWrite | HttpWrite | None = None  # the entity accepts writes (mutations); read-only without
    # sql
    table: str | None = None
    # one SELECT, or one per SQL dialect (sqlite, postgresql, mysql) for a spec run against several
    select: str | dict[Literal["sqlite", "postgresql", "mysql"], str] | None = None
    # http
    get: HttpGet | None = None
    batch: HttpBatch | None = None
    list_: HttpList | None = Field(None, alias="list")
    aggregate: HttpAggregate | None = None  # without it, counts are taken over the listed records
    # ledger
    file: str | None = None
    sheet: str | None = None
    encoding: str = "utf-8-sig"

    @field_validator("fields", mode="before")
    @classmethod
    def _coerce_fields(cls, v: Any) -> Any:
        return _fieldmaps(v)

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _coerce_jur(cls, v: Any) -> Any:
        return {"source": v} if isinstance(v, str) else v

    def select_for(self, dialect: str) -> str | None:
        """The SELECT for this SQL dialect (None: the spec has none for it)."""
        if isinstance(self.select, dict):
            return next((sql for d, sql in self.select.items() if d == dialect), None)
        return self.select

    def filter_params(self) -> dict[str, str]:
        """filter field -> department parameter/column name."""
        if isinstance(self.filters, dict):
            return dict(self.filters)
        return {f: self.fields[f].source if f in self.fields else f for f in self.filters}


class SqlConnection(Strict):
    url: str
    pool_size: int = Field(5, ge=1, le=100)  # connections kept open to a server (SQLite: one per file)
    max_overflow: int = Field(0, ge=0, le=100)  # more, opened while busy: the limit is pool_size + max_overflow
    # the server cancels a statement running longer (PostgreSQL statement_timeout, MariaDB max_statement_time):
    # a statement the gateway stopped waiting for does not run on (the longest wait is stats_timeout_s)
    statement_timeout_s: float = Field(120.0, gt=0, le=3600)


class HttpConnection(Strict):
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    max_concurrency: int = Field(8, ge=1, le=256)
    # idle kept-alive connections are dropped after this long: shorter than the service's own
    # keep-alive (uvicorn: 5 s), so the gateway never sends on a connection the service is closing
    keepalive_s: float = Field(2.0, ge=0, le=300)


class LedgerConnection(Strict):
    dir: str


class Limits(Strict):
    """Per-department overrides; a key left out takes the gateway-wide setting (department_timeout_s, ...)."""

    timeout_s: float | None = Field(None, gt=0, le=300)
    max_concurrency: int | None = Field(None, ge=1, le=1000)
    breaker_threshold: int | None = Field(None, ge=1, le=1000)
    breaker_cooldown_s: float | None = Field(None, gt=0, le=3600)
    cache_ttl_s: float | None = Field(None, ge=0, le=86400)  # longest reuse of an answer it contributed to; 0 never


SENSITIVE = ("identity", "contact", "health", "disability", "minors", "whereabouts")
MASKS = ("id_number", "phone", "name", "address")
Sensitive = Literal["identity", "contact", "health", "disability", "minors", "whereabouts"]
MaskKind = Literal["id_number", "phone", "name", "address"]


class FieldDecl(Strict):
    """A field of a declared type: a scalar, an enum, or (with ``by``) a core entity."""

    type: str  # String Int Float Boolean Date, an enum, or a core type (then `by` is required)
    description: str
    sensitive: Sensitive | None = None
    mask: MaskKind | None = None
    by: str | None = None  # for a core type: this type's field holding the entity's canonical key


class LinkDecl(Strict):
    """A field the declared type adds to a core type (``Person.mealSubsidy``), matched by canonical key."""

    by: str  # this type's field holding the core entity's canonical key
    many: bool = False
    description: str
    sensitive: Sensitive | None = None
    order: int = Field(100, ge=0, le=10_000)  # place among the fields departments add to that type
    newest_first: str | None = None  # many: the Date field ordering the records, latest first


class TypeDecl(Strict):
    description: str
    fields: dict[str, FieldDecl]
    links: dict[str, LinkDecl] = Field(default_factory=dict)


class EnumDecl(Strict):
    description: str = ""
    values: list[str] = Field(min_length=1)


class DepartmentSpec(Strict):
    department: str
    title: str
    kind: Literal["sql", "http", "ledger", "class"]
    description: str = ""
    connection: dict[str, Any] = Field(default_factory=dict)
    limits: Limits = Limits()
    entities: dict[str, EntitySpec]
    types: dict[str, TypeDecl] = Field(default_factory=dict)
    enums: dict[str, EnumDecl] = Field(default_factory=dict)
    # escape hatch: "package.module:ClassName" implementing the Adapter protocol
    class_: str | None = Field(None, alias="class")
    # which generic kind a `class:` adapter reports (for /readyz); defaults to "class"
    reports_kind: Literal["sql", "http", "ledger", "class"] | None = None

    @model_validator(mode="after")
    def _class_needs_path(self) -> DepartmentSpec:
        if self.kind == "class" and not self.class_:
            raise ValueError("kind: class needs `class: package.module:ClassName`")
        return self


CONNECTIONS: dict[str, type[Strict]] = {
    "sql": SqlConnection,
    "http": HttpConnection,
    "ledger": LedgerConnection,
}
