"""Shared foundations every layer may import: the error hierarchy and jurisdiction codes."""
