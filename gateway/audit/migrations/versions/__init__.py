"""Alembic revision files of the audit store."""
