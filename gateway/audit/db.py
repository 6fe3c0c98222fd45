"""Engines of the audit store and its migrations.

SQLite (the default, ``var/audit.db``) runs in WAL mode; the appending engine opens every
transaction with ``BEGIN IMMEDIATE``, so the write lock is taken before the chain head is
read and several processes append one consistent chain. On PostgreSQL the head row is
locked with ``SELECT ... FOR UPDATE`` (gateway/audit/chain.py) and migrations hold an
advisory lock, so workers starting together migrate once.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.settings import PROJECT, Settings

DEFAULT_SQLITE = PROJECT / "var" / "audit.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x6175646974  # pg_advisory_xact_lock key ("audit")
log = logging.getLogger("gateway.audit")
logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-plugin INFO lines; we log the upgrade


def url_of(settings: Settings) -> str:
    return settings.audit_url or f"sqlite+aiosqlite:///{DEFAULT_SQLITE}"


def is_sqlite(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def display(url: str) -> str:
    """The URL without its password (for logs, /readyz and error messages)."""
    return sa.make_url(url).render_as_string(hide_password=True)


def engine_for(url: str, timeout_s: float, appender: bool = False) -> AsyncEngine:
    """An engine; ``appender``: SQLite transactions begin IMMEDIATE (take the write lock first)."""
    u = sa.make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(u, connect_args={"timeout": timeout_s})
        busy_ms = int(timeout_s * 1000)

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if appender else "BEGIN")

        return engine
    args: dict[str, Any] = {}
    if u.get_backend_name() == "postgresql":
        args = {"timeout": timeout_s, "command_timeout": timeout_s * 4,
                "server_settings": {"application_name": "civic-gateway-audit"}}
    return create_async_engine(u, connect_args=args, pool_pre_ping=True, pool_size=2, max_overflow=2)


def _config(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _upgrade(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    current, head = MigrationContext.configure(conn).get_current_revision(), _head()
    if current == head:
        return
    command.upgrade(_config(conn), "head")
    log.info("audit store migrated from %s to %s", current or "nothing", head)


def _head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the store to the newest revision (idempotent; safe when several processes start at once)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
