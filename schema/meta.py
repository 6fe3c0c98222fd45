"""Field metadata: which department supplies a field and which sensitive category it is in.

Every department-sourced field is declared with ``src(...)``: its description names the
department and its sensitivity, and the same facts go into strawberry metadata so the
policy layer and the matrix read them from one place.
"""
from __future__ import annotations

from typing import Any

import strawberry

DEPARTMENTS: dict[str, str] = {
    "population": "Public security population registry",
    "housing": "Housing administration",
    "civil_affairs": "Civil affairs bureau",
    "health": "Health commission",
    "hr_social": "Human resources and social security bureau",
    "disability": "Disabled persons' federation",
    "veterans": "Veterans affairs bureau",
    "education": "Education bureau",
    "market": "Market supervision administration",
    "city_management": "City management enforcement bureau",
    "fire": "Fire rescue brigade",
    "greening": "Greening and city appearance bureau",
    "water": "Water utility",
    "culture": "Culture centre",
    "hotline": "Urban operations / 12345 hotline",
    "gateway": "computed by the gateway",
}

# Sensitive categories (personal-information law): reading them also needs a declared purpose.
SENSITIVE = ("identity", "contact", "health", "disability", "minors", "whereabouts")


MASKS = ("id_number", "phone", "name", "address")


def src(department: str, text: str, sensitive: str | None = None, mask: str | None = None, **kw: Any) -> Any:
    """A department-sourced, nullable field. ``mask`` names how a masked grant shows it."""
    assert department in DEPARTMENTS, department
    assert sensitive is None or sensitive in SENSITIVE, sensitive
    assert mask is None or mask in MASKS, mask
    tail = f" Sensitive: {sensitive}." if sensitive else " Not sensitive."
    if mask:
        tail += f" Masked grants show it as {mask} mask."
    return strawberry.field(
        description=f"{text} Source: {DEPARTMENTS[department]} ({department}).{tail}",
        metadata={"department": department, "sensitive": sensitive, "mask": mask},
        default=None,
        **kw,
    )
