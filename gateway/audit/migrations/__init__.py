"""Alembic migrations of the audit store (run by ``gateway.audit.db.migrate``; no alembic.ini needed)."""
