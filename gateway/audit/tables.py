"""The audit store's tables (SQLAlchemy Core; created by the Alembic migrations in migrations/).

- ``audit_records``: one row per request. ``body`` is the canonical JSON the chain hashes;
  the other columns index it for queries and must agree with it (verify checks them).
- ``audit_subjects``: (subject hash, position) for every data subject of a record, so
  "who read this person" is an index look-up; it must agree with the body's ``subjects``.
- ``audit_checkpoints``: signed (position, hash) seals.
- ``audit_head``: the single row every appender locks: last position and hash, last seal.
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

records = sa.Table(
    "audit_records", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("user_id", sa.String(200)),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("prev", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

subjects = sa.Table(
    "audit_subjects", metadata,
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, index=True),
)

checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)

head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("sealed_position", sa.BigInteger, nullable=False),
    sa.Column("sealed_at", sa.Double, nullable=False),
)

sa.Index("ix_audit_records_user_at", records.c.user_id, records.c.at)
sa.Index("ix_audit_records_day_user", records.c.day, records.c.user_id)
sa.Index("ix_audit_records_at", records.c.at)
sa.Index("ix_audit_records_outcome", records.c.outcome)
