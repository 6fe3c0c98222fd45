"""What the spec loader knows of the schema: the curated core, and the full catalogue.

The core (persons, houses, buildings, shops, events and their places) is written once in
``schema/``; ``schema/build.py`` hands it to the adapters layer as plain data, a ``Core``.
Every other type comes from a department's spec (``types:``), so the loader checks each
spec against the core and that spec's own declarations, never against another spec's.

A ``Catalogue`` (type -> scalar field -> FieldType) is what mappings are checked against;
``SchemaCatalogue`` is the full one of a set of specs, still knowing which part is core.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from adapters.base import Catalogue, FieldType


@dataclass(frozen=True)
class Core(Mapping[str, Mapping[str, FieldType]]):
    """The core types as data: a Catalogue of the core, plus what declarations are checked against."""

    types: Mapping[str, Mapping[str, FieldType]]  # core type -> scalar field -> FieldType
    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)  # core type -> every field name
    entity_keys: Mapping[str, str] = field(default_factory=dict)  # linkable core type -> its canonical key
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)  # schema enum -> its values
    reserved: frozenset[str] = frozenset()  # every other name the core schema uses (Query, inputs, ...)

    def __getitem__(self, name: str) -> Mapping[str, FieldType]:
        return self.types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def names(self) -> frozenset[str]:
        """Every name a spec may not declare again."""
        return frozenset(self.types) | frozenset(self.enums) | self.reserved


@dataclass(frozen=True)
class SchemaCatalogue(Mapping[str, Mapping[str, FieldType]]):
    """The core plus the types a set of specs declares (what `schema.build.catalogue()` returns)."""

    core: Core
    declared: Mapping[str, Mapping[str, FieldType]]

    def __getitem__(self, name: str) -> Mapping[str, FieldType]:
        return self.core[name] if name in self.core else self.declared[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.core
        yield from (t for t in self.declared if t not in self.core)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def core_of(catalogue: Catalogue) -> Core:
    """The core part of a catalogue; a plain mapping counts as all core (no keys, enums or links)."""
    if isinstance(catalogue, Core):
        return catalogue
    if isinstance(catalogue, SchemaCatalogue):
        return catalogue.core
    return Core(types=catalogue, fields={t: frozenset(f) for t, f in catalogue.items()})
