"""The `sql` kind: SQLite (aiosqlite), PostgreSQL (asyncpg) and MariaDB/MySQL (aiomysql).

Each entity reads from a table or a declared SELECT (one, or one per dialect); keys, scope and
filters are pushed into the WHERE clause after inverting the spec's transforms, and counts can be
grouped in the database. Statements are built with SQLAlchemy Core, so one spec reads the same
from every dialect. On a server: a pool of ``pool_size`` (+ ``max_overflow``) connections per
department, checked before use; a statement timeout the server enforces; on PostgreSQL each
statement is prepared once per connection and reused (asyncpg's statement cache).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.base import Cells, Eq, GroupBy, Health, ListQuery, Page, Range, Record, Records
from adapters.kind import BaseAdapter, group_in_memory, pushed_groups
from adapters.loader import LoadedSpec
from adapters.mapping import EntityMap
from adapters.spec import SqlConnection, SqlWrite
from common.errors import AdapterRejectedError, AdapterUnavailableError, SpecError

CHUNK = 900  # bound parameters per IN list: below every dialect's limit
CONNECT_TIMEOUT_S = 10


def engine_options(conn: SqlConnection) -> dict[str, Any]:
    """Pool limits and the server-side statement timeout, by backend."""
    backend = make_url(conn.url).get_backend_name()
    if backend == "sqlite":
        return {}
    pool = {"pool_size": conn.pool_size, "max_overflow": conn.max_overflow, "pool_pre_ping": True,
            "pool_recycle": 1800, "pool_timeout": CONNECT_TIMEOUT_S}
    if backend == "postgresql":
        ms = str(int(conn.statement_timeout_s * 1000))
        return {**pool, "connect_args": {"timeout": CONNECT_TIMEOUT_S, "server_settings": {
            "statement_timeout": ms, "application_name": "civic-gateway"}}}
    if backend in ("mysql", "mariadb"):
        return {**pool, "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S,
                                         "init_command": f"SET SESSION max_statement_time={conn.statement_timeout_s}"}}
    return pool


class SqlAdapter(BaseAdapter):
    kind = "sql"

    def __init__(self, loaded: LoadedSpec) -> None:
        super().__init__(loaded)
        conn = loaded.connection
        assert isinstance(conn, SqlConnection)
        self.engine: AsyncEngine = create_async_engine(conn.url, **engine_options(conn))
        self.dialect = self.engine.dialect.name
        self._sources = {name: self._source(name, m) for name, m in self.maps.items()}
        self._types: dict[str, dict[str, type]] = {}  # entity -> source column -> Python type of its values

    def _source(self, entity: str, m: EntityMap) -> Any:
        cols: list[Any] = [column(c) for c in m.sources]
        if m.spec.select:
            sql = m.spec.select_for(self.dialect)
            if sql is None:
                raise SpecError(f"department {self.name}: entity {entity} has no select for {self.dialect}",
                                department=self.name, entity=entity, dialect=self.dialect)
            return text(sql).columns(*cols).subquery("src")
        return table(m.spec.table or "", *cols)

    async def _learn(self, entity: str) -> None:
        """The Python type of each column's values, read off one row once: a server compares a parameter with
        a column of its own type only (the spec's inverse transforms give '7' for an integer key), SQLite
        with any."""
        if self.dialect == "sqlite" or entity in self._types:
            return
        rows = await self._rows(self._select(entity).limit(1))
        self._types[entity] = {k: type(v) for k, v in (rows[0] if rows else {}).items() if v is not None}

    def _raws(self, entity: str, field: str, values: Sequence[Any]) -> list[Any]:
        """The column values of ``values``, of the column's own type where it is known (for IN lists and
        bounds: a value that cannot be of that type is left out, as it matches no row)."""
        m = self.maps[entity]
        raws = list(m.raw_values(field, tuple(values)))
        want = self._types.get(entity, {}).get(m.rules[field].source)
        if want is int:  # a string that is no integer equals no integer: left out
            return [int(v) if isinstance(v, str) else v for v in raws
                    if not isinstance(v, str) or v.removeprefix("-").isdigit()]
        if want is str:
            return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in raws]
        return raws

    def _col(self, entity: str, source: str) -> ColumnElement[Any]:
        return self._sources[entity].c[source]

    def _select(self, entity: str) -> Select[Any]:
        src = self._sources[entity]
        return select(*[src.c[c] for c in self.maps[entity].sources])

    async def _rows(self, stmt: Any) -> list[dict[str, Any]]:
        try:
            async with self.engine.connect() as conn:
                res = await conn.execute(stmt)
                return [dict(r) for r in res.mappings().all()]
        except (SQLAlchemyError, OSError) as e:
            raise AdapterUnavailableError(f"department {self.name} database error", department=self.name,
                                          cause=type(e).__name__) from None

    async def fetch_by(self, entity: str, field: str, values: Sequence[Any]) -> Records:
        m = self.maps[entity]
        col = self._col(entity, m.rules[field].source)
        await self._learn(entity)
        raws = self._raws(entity, field, values)
        out: list[Record] = []
        for i in range(0, len(raws), CHUNK):
            rows = await self._rows(self._select(entity).where(col.in_(raws[i:i + CHUNK])))
            out.extend(self._convert(m, rows))
        return out

    def _where(self, entity: str, q: ListQuery) -> list[ColumnElement[Any]]:
        m = self.maps[entity]
        conds: list[ColumnElement[Any]] = []
        sf = m.scope(q.scope)
        jcol = self._col(entity, m.spec.jurisdiction.source)
        if sf.mode == "none":
            conds.append(false())
        elif sf.mode == "prefix":
            conds.append(jcol.startswith(sf.value, autoescape=True))
        elif sf.mode == "in":
            conds.append(jcol.in_(list(sf.values)))
        for f, cond in q.filters.items():
            col = self._col(entity, m.rules[f].source)
            if isinstance(cond, Eq):
                conds.append(col.in_(self._raws(entity, f, cond.values)))
            elif isinstance(cond, Range):
                for bound, op in ((cond.lo, col.__ge__), (cond.hi, col.__le__)):
                    if bound is not None:
                        raw = self._raws(entity, f, (bound,))
                        conds.append(op(raw[0]) if raw else false())
        if q.keys_in is not None:
            kcol = self._col(entity, m.rules[m.key].source)
            raws = self._raws(entity, m.key, q.keys_in)
            conds.append(or_(false(), *[kcol.in_(raws[i:i + CHUNK]) for i in range(0, len(raws), CHUNK)])
                         if raws else false())
        return conds

    async def list(self, entity: str, query: ListQuery) -> Page:
        m = self.maps[entity]
        m.check_filters(query)
        self._check_ranges(m, query)
        await self._learn(entity)
        conds = self._where(entity, query)
        kcol = self._col(entity, m.rules[m.key].source)
        stmt = self._select(entity).where(and_(true(), *conds)).order_by(kcol).offset(query.offset)
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        records = self._convert(m, await self._rows(stmt))
        total = None
        if query.count:
            src = self._sources[entity]
            rows = await self._rows(select(func.count().label("n")).select_from(src).where(and_(true(), *conds)))
            total = int(rows[0]["n"])
        return Page(records, total)

    async def aggregate(self, entity: str, query: ListQuery,
                        group_by: Sequence[GroupBy]) -> Cells:
        m = self.maps[entity]
        m.check_filters(query)
        await self._learn(entity)
        groups = pushed_groups(m, group_by)
        if groups is None:
            return await self._aggregate_rows(entity, query, group_by)
        exprs = [func.substr(self._col(entity, g.source), 1, g.length) if g.length else self._col(entity, g.source)
                 for g in groups]
        convs = [g.conv for g in groups]
        labelled = [e.label(f"g{i}") for i, e in enumerate(exprs)]
        stmt = (select(*labelled, func.count().label("n")).select_from(self._sources[entity])
                .where(and_(true(), *self._where(entity, query))).group_by(*[literal_column(f"g{i}") for i in range(len(exprs))]))
        merged: dict[tuple[Any, ...], int] = {}
        for r in await self._rows(stmt):
            k = tuple(c(r[f"g{i}"]) for i, c in enumerate(convs))
            merged[k] = merged.get(k, 0) + int(r["n"])
        return list(merged.items())

    async def _aggregate_rows(self, entity: str, query: ListQuery,
                              group_by: Sequence[GroupBy]) -> Cells:
        page = await self.list(entity, ListQuery(query.scope, query.filters, query.keys_in, 0, None))
        return group_in_memory(page.records, group_by)

    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record:
        """One INSERT into the entity's table in a transaction that first looks for the row of
        ``request_key`` (its UNIQUE column): a retried write answers that row. Two writes of one key at
        once: the second's INSERT violates the column's uniqueness and it answers the first's row."""
        m = self._writable(entity)
        w = m.spec.write
        assert isinstance(w, SqlWrite)
        row = {**m.raw_row({k: v for k, v in values.items() if k not in w.filled}), w.request_key: request_key}
        tbl = table(m.spec.table or "", *[column(c) for c in {*row, *m.sources}])
        find = select(*[tbl.c[c] for c in m.sources]).where(tbl.c[w.request_key] == request_key)
        found: Mapping[Any, Any] | None
        try:
            async with self.engine.begin() as conn:
                found = (await conn.execute(find)).mappings().first()
                if found is None:
                    await conn.execute(insert(tbl).values(row))
                    found = (await conn.execute(find)).mappings().first()
        except IntegrityError:
            again = await self._rows(find)
            found = again[0] if again else None
            if found is None:  # not the request key's uniqueness: the department refused the row itself
                raise AdapterRejectedError(f"department {self.name} refused the record", department=self.name,
                                           entity=entity) from None
        except (SQLAlchemyError, OSError) as e:
            raise AdapterUnavailableError(f"department {self.name} database error", department=self.name,
                                          cause=type(e).__name__) from None
        if found is None:
            raise self._bad(f"{entity}: the written row cannot be read back")
        return self._convert(m, [dict(found)])[0]

    async def health(self) -> Health:
        try:
            await self._rows(select(literal_column("1").label("one")))
        except AdapterUnavailableError as e:
            return Health("down", e.details.get("cause", "error"))
        return Health("up")

    async def close(self) -> None:
        await self.engine.dispose()
