"""Field metadata: which department supplies a field and which sensitive category it is in.

Every department-sourced field of the core is declared with ``src(...)``; the fields of the
departments' own types come from their specs with the same facts. A field's description
names its department by the title the department's spec gives (``title:``), so the
descriptions are written when the schema is built (schema/generate.py), from the same
metadata the policy layer and the matrix read.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import strawberry

from adapters.spec import MASKS, SENSITIVE

GATEWAY = "gateway"
GATEWAY_TITLE = "computed by the gateway"

__all__ = ["GATEWAY", "MASKS", "SENSITIVE", "departments", "describe", "src"]


def departments(specs: Iterable[Any]) -> dict[str, str]:
    """Department slug -> title, from the loaded specs (plus the gateway's own computed fields)."""
    out = {ls.spec.department: ls.spec.title for ls in specs}
    out[GATEWAY] = GATEWAY_TITLE
    return out


def describe(text: str, department: str, titles: Mapping[str, str], sensitive: str | None = None,
             mask: str | None = None) -> str:
    """A field's description: what it is, its source department, its sensitivity and mask."""
    tail = f" Sensitive: {sensitive}." if sensitive else " Not sensitive."
    if mask:
        tail += f" Masked grants show it as {mask} mask."
    return f"{text} Source: {titles.get(department, department)} ({department}).{tail}"


def src(department: str, text: str, sensitive: str | None = None, mask: str | None = None, **kw: Any) -> Any:
    """A department-sourced, nullable core field. ``mask`` names how a masked grant shows it."""
    assert sensitive is None or sensitive in SENSITIVE, sensitive
    assert mask is None or mask in MASKS, mask
    return strawberry.field(
        description=describe(text, department, {}, sensitive, mask),
        metadata={"department": department, "sensitive": sensitive, "mask": mask, "text": text},
        default=None,
        **kw,
    )
