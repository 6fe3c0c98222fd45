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
    """A semantic spec error; ``loc`` is the key path inside the entity, ``all`` every one found."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc
        self.all: list[MappingError] = [self]


@dataclass(frozen=True)
class FieldRule:
    name: str
    source: str
    conv: Compiled


class EntityMap:
    """Raises MappingError naming the first problem, with ``all`` of them (every field is checked)."""

    def __init__(self, entity: str, spec: EntitySpec, types: Mapping[str, FieldType]) -> None:
        self.entity = entity
        self.spec = spec
        self.key = spec.key
        self.types = types  # the schema type's fields (what a converted value must be)
        self.rules: dict[str, FieldRule] = {}
        errors: list[MappingError] = []
        for name, fm in spec.fields.items():
            loc: tuple[str | int, ...] = ("fields", name)
            if name not in types:
                errors.append(MappingError(f"field {name!r} is not in schema type {entity}; known: "
                                           f"{', '.join(sorted(types))}", loc))
                continue
            try:
                conv = compile_steps(fm.transform)
                _check_type(conv, fm.transform, types[name], loc)
            except TransformError as e:
                errors.append(MappingError(str(e), (*loc, "transform")))
                continue
            except MappingError as e:
                errors.append(e)
                continue
            self.rules[name] = FieldRule(name, fm.source, conv)
        if self.key not in spec.fields:
            errors.append(MappingError(f"key field {self.key!r} is not mapped under fields", ("key",)))
        problem = check_pushable(spec.jurisdiction.transform)
        if problem:
            errors.append(MappingError(problem, ("jurisdiction", "transform")))
        try:
            self.jurisdiction = compile_steps(spec.jurisdiction.transform)
        except TransformError as e:
            errors.append(MappingError(str(e), ("jurisdiction", "transform")))
        self.filter_params = spec.filter_params()
        for f in self.filter_params:
            if f not in spec.fields:
                errors.append(MappingError(f"filter {f!r} is not a mapped field of {entity}", ("filters", f)))
            elif f in self.rules and self.rules[f].conv.invert is None:
                errors.append(MappingError(f"filter {f!r}: its transforms cannot be inverted, so the filter cannot "
                                           "be pushed down to the department", ("filters", f)))
        if spec.write is not None:
            for name, rule in self.rules.items():  # every field it writes goes back through its transforms
                if rule.conv.invert is None and name not in spec.write.filled:
                    errors.append(MappingError(f"field {name!r}: its transforms cannot be inverted, so the entity "
                                               "cannot accept writes", ("fields", name, "transform")))
            if getattr(self, "jurisdiction", None) is not None and self.jurisdiction.invert is None:
                errors.append(MappingError("the jurisdiction's transforms cannot be inverted, so the entity cannot "
                                           "accept writes", ("jurisdiction", "transform")))
        if errors:
            first = errors[0]
            first.all = errors
            raise first
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
        return list(dict.fromkeys(r for v in values for r in inv(v)))  # a list scan per value was quadratic

    def raw_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A canonical record to write (``JURISDICTION`` for its place) -> the department's row: each value
        through its field's inverse (its first raw form), None as None."""
        out: dict[str, Any] = {}
        for name, v in values.items():
            if name == JURISDICTION:
                src, inv = self._jsrc, self.jurisdiction.invert
            else:
                src, inv = self.rules[name].source, self.rules[name].conv.invert
            assert inv is not None  # validated at start-up for entities that accept writes
            out[src] = None if v is None else inv(v)[0]
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
