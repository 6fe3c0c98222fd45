"""Accountability: one tamper-evident audit record per request (docs/audit.md).

- ``sink``: the ``AuditSink`` extension point (no-op default);
- ``record``: an entry as the canonical JSON that is hashed into the chain;
- ``tables``, ``db``, ``migrations/``: the store's schema (Alembic) on SQLite or PostgreSQL;
- ``chain``: appending a batch and sealing signed checkpoints, serialised in the database;
- ``keys``: the HMAC key of data subjects and the Ed25519 checkpoint key;
- ``store``: ``AuditStore``, batching off the request path, failing closed;
- ``verify``, ``queries``, ``commands``: what `gateway audit ...` and the auditor's fields run.
"""
from __future__ import annotations

from gateway.audit.sink import AuditSink

__all__ = ["AuditSink"]
