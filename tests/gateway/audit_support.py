"""Shared by the audit tests: keys, stores on SQLite files or on a PostgreSQL database of their own,
a real gateway writing to one, and the verify/count questions asked of a store."""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.registry import Registry
from gateway.app import Gateway
from gateway.audit.db import engine_for
from gateway.audit.keys import load_public
from gateway.audit.verify import Report, verify
from gateway.embedded import EmbeddedServer
from gateway.settings import load_settings
from schema.build import catalogue
from tests.helpers import ADAPTERS_DIR, ROOT, Api

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
GATEWAY = str(Path(sys.executable).parent / "gateway")


def signing_key(folder: Path) -> Path:
    path = folder / "audit_signing.pem"
    if not path.exists():
        path.write_bytes(Ed25519PrivateKey.generate().private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                                                    ser.NoEncryption()))
    return path


def audit_settings(folder: Path, url: str | None = None) -> dict[str, Any]:
    """Settings of a gateway whose audit store is its own (a SQLite file in ``folder`` unless ``url``)."""
    return {"audit_url": url or f"sqlite+aiosqlite:///{folder / 'audit.db'}",
            "audit_signing_key": str(signing_key(folder)), "audit_key": "k" * 40}


def psql(sql: str) -> None:
    subprocess.run([*PSQL, sql], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this test (dropped afterwards); yields its SQLAlchemy URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield f"{PG}/{name}"
    finally:
        psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        psql(f"DROP DATABASE IF EXISTS {name}")


@contextlib.contextmanager
def audit_gateway(demo_env: dict[str, str], engine: Any = None, **overrides: Any) -> Iterator[Api]:
    """A real gateway on a loopback port; leaving the block stops it (the audit buffer drains)."""
    settings = load_settings(env={}, **overrides)
    gw = Gateway(settings, registry=Registry.from_dir(ADAPTERS_DIR, catalogue(), demo_env), engine=engine)
    srv = EmbeddedServer(gw)
    try:
        yield Api(srv.base, settings, gw)
    finally:
        srv.stop()


def check(url: str, key_file: Path) -> Report:
    async def run() -> Report:
        engine = engine_for(url, 10.0)
        try:
            return await verify(engine, load_public(key_file))
        finally:
            await engine.dispose()
    return asyncio.run(run())


def drained(api: Api, timeout: float = 30.0) -> None:
    """Every record so far is in the store."""
    deadline = time.monotonic() + timeout
    while readyz_audit(api)["buffered"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert readyz_audit(api)["buffered"] == 0


def readyz_audit(api: Api) -> dict[str, Any]:
    return httpx.get(api.base + "/readyz", timeout=30).json()["audit"]  # type: ignore[no-any-return]


def wait_audit(api: Api, status: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = readyz_audit(api)
        if got["status"] == status or time.monotonic() > deadline:
            assert got["status"] == status, got
            return got
        time.sleep(0.05)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run([GATEWAY, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120,
                          cwd=ROOT, check=False)


def cli_env(settings: dict[str, Any]) -> dict[str, str]:
    return {f"GATEWAY_{k.upper()}": str(v) for k, v in settings.items()}
