"""An entity spec compiled once into row converters and filter helpers.

Every adapter kind reads raw rows (SQL rows, JSON objects, ledger lines) as mappings
from the department's source names to raw values; ``EntityMap.convert`` turns a raw row
into a canonical record with one pre-built callable per mapped field.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import Eq, FieldType, Filter, ListQuery, Range, Record
from adapters.scope import ScopeFilter, check_pushable, scope_filter
from adapters.spec import EntitySpec
from adapters.transforms import Compiled, TransformError, compile_steps

JURISDICTION = "__jurisdiction"  # internal record key holding the normalised place code

COMPATIBLE: dict[str, set[str]] = {
    "str": {"str", "enum"},
    "int": {"int", "float"},
    "float": {"float"},
    "bool": {"bool"},
    "date": {"date"},
}


class MappingError(ValueError):
    """A semantic spec error; ``loc`` is the key path inside the entity."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True)
class FieldRule:
    name: str
    source: str
    conv: Compiled


class EntityMap:
    def __init__(self, entity: str, spec: EntitySpec, types: Mapping[str, FieldType]) -> None:
        self.entity = entity
        self.spec = spec
        self.key = spec.key
        self.rules: dict[str, FieldRule] = {}
        for name, fm in spec.fields.items():
            loc: tuple[str | int, ...] = ("fields", name)
            if name not in types:
                raise MappingError(f"field {name!r} is not in schema type {entity}; known: "
                                   f"{', '.join(sorted(types))}", loc)
            try:
                conv = compile_steps(fm.transform)
            except TransformError as e:
                raise MappingError(str(e), (*loc, "transform")) from None
            _check_type(conv, fm.transform, types[name], loc)
            self.rules[name] = FieldRule(name, fm.source, conv)
        if self.key not in self.rules:
            raise MappingError(f"key field {self.key!r} is not mapped under fields", ("key",))
        problem = check_pushable(spec.jurisdiction.transform)
        if problem:
            raise MappingError(problem, ("jurisdiction", "transform"))
        try:
            self.jurisdiction = compile_steps(spec.jurisdiction.transform)
        except TransformError as e:
            raise MappingError(str(e), ("jurisdiction", "transform")) from None
        self.filter_params = spec.filter_params()
        for f in self.filter_params:
            if f not in self.rules:
                raise MappingError(f"filter {f!r} is not a mapped field of {entity}", ("filters", f))
            if self.rules[f].conv.invert is None:
                raise MappingError(f"filter {f!r}: its transforms cannot be inverted, so the filter cannot be "
                                   "pushed down to the department", ("filters", f))
        self._pairs: list[tuple[str, str, Callable[[Any], Any] | None]] = [
            (r.name, r.source, r.conv.fn) for r in self.rules.values()
        ]
        self._jsrc = spec.jurisdiction.source
        self._jfn = self.jurisdiction.fn

    def scope(self, scope: str | None) -> ScopeFilter:
        return scope_filter(self.spec.jurisdiction.transform, scope)

    def raw_values(self, field: str, values: tuple[Any, ...]) -> list[Any]:
        """Canonical filter values -> the department's raw candidates (deduplicated)."""
        inv = self.rules[field].conv.invert
        assert inv is not None  # validated at start-up
        out: list[Any] = []
        for v in values:
            for r in inv(v):
                if r not in out:
                    out.append(r)
        return out

    @property
    def sources(self) -> list[str]:
        return sorted({r.source for r in self.rules.values()} | {self._jsrc})

    def convert(self, row: Mapping[str, Any]) -> Record:
        rec: Record = {}
        get = row.get
        for name, src, fn in self._pairs:
            v = get(src)
            rec[name] = v if fn is None else fn(v)
        j = get(self._jsrc)
        rec[JURISDICTION] = j if self._jfn is None else self._jfn(j)
        return rec

    def check_filters(self, query: ListQuery) -> None:
        from common.errors import FilterNotAllowedError

        for f in query.filters:
            if f not in self.filter_params:
                raise FilterNotAllowedError(
                    f"{self.entity} cannot be filtered by {f!r}; declared filters: "
                    f"{', '.join(sorted(self.filter_params)) or 'none'}",
                    entity=self.entity, filter=f)

    def matches(self, rec: Record, query: ListQuery, keyset: frozenset[str] | None) -> bool:
        """In-memory evaluation of a query on a canonical record (ledger, post-checks)."""
        if query.scope is not None:
            j = rec.get(JURISDICTION)
            if j is None or not str(j).startswith(query.scope):
                return False
        if keyset is not None and rec.get(self.key) not in keyset:
            return False
        for f, cond in query.filters.items():
            if not match_value(rec.get(f), cond):
                return False
        return True


def match_value(v: Any, cond: Filter) -> bool:
    if isinstance(cond, Eq):
        return v in cond.values
    if isinstance(cond, Range):
        if v is None:
            return False
        return (cond.lo is None or v >= cond.lo) and (cond.hi is None or v <= cond.hi)
    return False


def _check_type(conv: Compiled, transform: list[Any], ft: FieldType, loc: tuple[str | int, ...]) -> None:
    if ft.scalar not in COMPATIBLE.get(conv.out, set()):
        raise MappingError(f"type mismatch: the transforms produce {conv.out} but the schema field is "
                           f"{ft.scalar}; add a transform such as {_hint(ft.scalar)}", (*loc, "transform"))
    if ft.enum is not None:
        for t in transform:
            if isinstance(t, dict) and "map" in t and isinstance(t["map"], dict):
                bad = sorted({str(v) for v in t["map"].values()} - ft.enum)
                if bad:
                    raise MappingError(f"map produces {bad}, not values of the enum "
                                       f"({', '.join(sorted(ft.enum))})", (*loc, "transform"))


def _hint(scalar: str) -> str:
    return {"int": "int", "float": "float", "bool": "bool or {map: ...}", "date": "{date: ['%Y-%m-%d']}",
            "enum": "{map: {raw: ENUM_VALUE}}"}.get(scalar, "str")
