"""The audit chain: records, subjects, checkpoints and the chain head.

Revision ID: 0001_audit_chain
Revises:
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_audit_chain"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_records",
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
    op.create_index("ix_audit_records_user_at", "audit_records", ["user_id", "at"])
    op.create_index("ix_audit_records_day_user", "audit_records", ["day", "user_id"])
    op.create_index("ix_audit_records_at", "audit_records", ["at"])
    op.create_index("ix_audit_records_outcome", "audit_records", ["outcome"])
    op.create_table(
        "audit_subjects",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
    )
    op.create_index("ix_audit_subjects_position", "audit_subjects", ["position"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_position", sa.BigInteger, nullable=False),
        sa.Column("sealed_at", sa.Double, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "position": 0, "hash": GENESIS, "sealed_position": 0, "sealed_at": 0.0}])


def downgrade() -> None:
    for name in ("audit_head", "audit_checkpoints", "audit_subjects", "audit_records"):
        op.drop_table(name)
