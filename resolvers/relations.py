"""How entities join, as the planner walks them: the core's relations plus the departments'.

The core's relations and keys are part of the curated contract (schema/core.py); the
relations of the departments' own types (``Person.welfare``, ``Shop.inspections``,
``EventRegistration.person``, ...) are declared in their specs and come from the schema
model of the registry's specs (schema/model.py).
"""
from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from schema.core import COMPUTED, KEYS, SCOPED, Relation, many, one
from schema.model import default_model, model_of

__all__ = ["COMPUTED", "KEYS", "RELATIONS", "SCOPED", "Relation", "many", "one", "relations_of"]

Relations = dict[str, dict[str, Relation]]
_BY_REGISTRY: WeakKeyDictionary[Any, Relations] = WeakKeyDictionary()


def relations_of(registry: Any) -> Relations:
    """The relations of the schema the registry's specs make (the project's when it carries none)."""
    hit = _BY_REGISTRY.get(registry)
    if hit is None:
        specs = getattr(registry, "specs", None)
        hit = _BY_REGISTRY[registry] = model_of(specs).relations if specs else default_model().relations
    return hit


RELATIONS: Relations = default_model().relations  # the project's specs (tools and tests)
