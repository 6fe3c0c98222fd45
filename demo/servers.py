"""`gateway demo-data --target URL`: the demo's SQL departments loaded into a database server.

Each SQL department (population, civil affairs, market supervision, water, the committees'
records) becomes a database ``{prefix}_{department}`` on the server: PostgreSQL (asyncpg) or
MariaDB/MySQL (aiomysql). The tables, keys, unique columns and plain indexes of the generated
SQLite files are created there and filled with the same rows. The specs read
``{DEPARTMENT}_DB_URL`` (e.g. POPULATION_DB_URL) and fall back to the SQLite file without it.
"""
from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

SQL_DEPARTMENTS = ("population", "civil_affairs", "market", "water", "committee_records")
ENV_VARS = {d: f"{d.upper()}_DB_URL" for d in SQL_DEPARTMENTS}
DRIVERS = {"postgresql": "postgresql+asyncpg", "mysql": "mysql+aiomysql", "mariadb": "mysql+aiomysql"}
CHUNK = 5000
NOW_TEXT = {"postgresql": "to_char(now(), 'YYYY-MM-DD HH24:MI:SS')",
            "mysql": "(date_format(now(), '%Y-%m-%d %H:%i:%s'))"}


def server_url(target: str, database: str | None) -> sa.URL:
    """The async URL of ``database`` on the server ``target`` names (any of its drivers)."""
    u = sa.make_url(target)
    backend = u.get_backend_name()
    if backend not in DRIVERS:
        raise ValueError(f"a target is a postgresql:// or mysql:// (mariadb://) URL, not {backend}://")
    u = u.set(drivername=DRIVERS[backend], database=database)
    if DRIVERS[backend].startswith("mysql"):
        u = u.update_query_dict({"charset": "utf8mb4"})
    return u


def _columns(conn: sqlite3.Connection, name: str, dialect: str) -> list[sa.Column[Any]]:
    info = conn.execute(f"PRAGMA table_info({name})").fetchall()  # cid, name, type, notnull, default, pk
    pks = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
    indexed = set(pks)
    for _, iname, *_ in conn.execute(f"PRAGMA index_list({name})").fetchall():
        indexed |= {r[2] for r in conn.execute(f"PRAGMA index_info({iname})").fetchall() if r[2]}
    cols = []
    for _, cname, ctype, notnull, default, pk in info:
        t = ctype.upper()
        typ: Any = sa.Integer() if "INT" in t else sa.Double() if "REAL" in t else \
            sa.String(191) if dialect == "mysql" and cname in indexed else sa.Text()
        kw: dict[str, Any] = {"nullable": not notnull and not pk, "primary_key": bool(pk)}
        if pk and len(pks) == 1 and "INT" in t:
            kw["autoincrement"] = True
        elif len(pks) > 0 and pk:
            kw["autoincrement"] = False
        if default and "datetime('now'" in default:
            kw["server_default"] = sa.text(NOW_TEXT[dialect])
        cols.append(sa.Column(cname, typ, **kw))
    return cols


def _indexes(conn: sqlite3.Connection, table: sa.Table) -> None:
    """The plain and unique indexes of the SQLite table (expression indexes are left out)."""
    for _, iname, unique, origin, _partial in conn.execute(f"PRAGMA index_list({table.name})").fetchall():
        if origin == "pk":
            continue
        cols = [r[2] for r in conn.execute(f"PRAGMA index_info({iname})").fetchall()]
        if not cols or any(c is None for c in cols):
            continue
        name = re.sub(r"[^a-z0-9_]", "_", f"ix_{table.name}_{'_'.join(cols)}".lower())[:60]
        sa.Index(name, *[table.c[c] for c in cols], unique=bool(unique))


async def load_department(data_dir: Path, target: str, department: str, database: str) -> str:
    """Create ``database`` afresh on the server and copy the department's SQLite tables into it."""
    admin = create_async_engine(server_url(target, "postgres" if target.startswith("postgres") else None),
                                isolation_level="AUTOCOMMIT")
    dialect = admin.dialect.name
    try:
        async with admin.connect() as conn:
            if dialect == "postgresql":
                await conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                           f"WHERE datname = '{database}'"))
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
                await conn.execute(sa.text(f'CREATE DATABASE "{database}" ENCODING \'UTF8\' TEMPLATE template0'))
            else:
                await conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
                await conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 "
                                           "COLLATE utf8mb4_bin"))
    finally:
        await admin.dispose()
    url = server_url(target, database)
    src = sqlite3.connect(data_dir / f"{department}.db")
    meta = sa.MetaData()
    names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    tables = {n: sa.Table(n, meta, *_columns(src, n, dialect)) for n in names}
    for t in tables.values():
        _indexes(src, t)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
        for n, t in tables.items():
            cur = src.execute(f"SELECT * FROM {n}")
            cols = [d[0] for d in cur.description]
            while rows := cur.fetchmany(CHUNK):
                async with engine.begin() as conn:
                    await conn.execute(t.insert(), [dict(zip(cols, r, strict=True)) for r in rows])
            auto = [c for c in t.primary_key.columns if c.autoincrement is True and isinstance(c.type, sa.Integer)]
            if auto and dialect == "postgresql":  # the serial continues after the copied rows
                async with engine.begin() as conn:
                    await conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{n}', '{auto[0].name}'), "
                                               f"coalesce(max({auto[0].name}), 0) + 1, false) FROM {n}"))
    finally:
        await engine.dispose()
        src.close()
    return url.render_as_string(hide_password=False)


async def load(data_dir: Path, target: str, prefix: str = "civic", departments: Sequence[str] = SQL_DEPARTMENTS,
               progress: Callable[[str], None] | None = None) -> dict[str, str]:
    """Every SQL department into the server; answers the environment that points the specs at it."""
    env: dict[str, str] = {}
    for d in departments:
        env[ENV_VARS[d]] = await load_department(data_dir, target, d, f"{prefix}_{d}")
        if progress is not None:
            progress(f"{d}: {ENV_VARS[d]}={env[ENV_VARS[d]]}")
    return env


def load_sync(data_dir: Path, target: str, prefix: str = "civic",
              progress: Callable[[str], None] | None = None) -> dict[str, str]:
    return asyncio.run(load(data_dir, target, prefix, progress=progress))


async def drop(target: str, prefix: str, departments: Sequence[str] = SQL_DEPARTMENTS) -> None:
    """Drop the databases ``load`` made with this prefix."""
    admin = create_async_engine(server_url(target, "postgres" if target.startswith("postgres") else None),
                                isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for d in departments:
                name = f"{prefix}_{d}"
                if admin.dialect.name == "postgresql":
                    await conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                               f"WHERE datname = '{name}'"))
                    await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
                else:
                    await conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await admin.dispose()
