"""What every generic kind shares: batch fetch arranged by key, in-memory grouping, which groupings a
department can count itself, and the one way an answer that cannot be read becomes
DEPARTMENT_BAD_DATA (reason in the log)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import Cells, Filter, GroupBy, Health, ListQuery, Page, Range, Record, Records
from adapters.loader import LoadedSpec
from adapters.mapping import JURISDICTION, EntityMap
from common.errors import AdapterBadDataError, FilterNotAllowedError, OperationNotSupportedError

log = logging.getLogger(__name__)


class BaseAdapter:
    kind = "base"
    ranges = True  # list takes range filters on fields whose transform keeps order

    def __init__(self, loaded: LoadedSpec) -> None:
        self.loaded = loaded
        self.name = loaded.spec.department
        self.department = loaded.spec.title
        self.maps: dict[str, EntityMap] = loaded.maps
        self.entities = {k: v.spec for k, v in self.maps.items()}

    def accepts(self, entity: str, filters: Mapping[str, Filter]) -> bool:
        """Whether ``list`` takes these filters, rather than refusing them with FILTER_NOT_ALLOWED: declared
        filters only, ranges where the kind can ask for them and the field's transform keeps order."""
        m = self.maps.get(entity)
        if m is None:
            return False
        for f, cond in filters.items():
            if f not in m.filter_params:
                return False
            if isinstance(cond, Range) and not (self.ranges and m.rules[f].conv.order_preserving):
                return False
        return True

    def _bad(self, reason: str) -> AdapterBadDataError:
        """The department's data cannot be read: log why (never to the caller) and make the error."""
        log.error("department %s: data cannot be read: %s", self.name, reason,
                  extra={"department": self.name, "reason": reason})
        return AdapterBadDataError(f"department {self.name} answered data that cannot be read",
                                   department=self.name)

    def _convert(self, m: EntityMap, rows: Iterable[Mapping[str, Any]]) -> Records:
        try:
            return [m.convert(r) for r in rows]
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            raise self._bad(f"{m.entity}: a value cannot be converted ({type(e).__name__})") from None

    def _map(self, entity: str) -> EntityMap:
        try:
            return self.maps[entity]
        except KeyError:
            raise OperationNotSupportedError(f"department {self.name} does not supply {entity}",
                                             department=self.name, entity=entity) from None

    async def fetch_by(self, entity: str, field: str, values: Sequence[Any]) -> Records:
        """All records whose canonical ``field`` is one of ``values`` (kind-specific)."""
        raise NotImplementedError

    async def load_many(self, entity: str, keys: Sequence[str], by: str | None = None) -> list[Any]:
        m = self._map(entity)
        field = by or m.key
        if field != m.key and field not in m.filter_params:
            raise FilterNotAllowedError(f"{entity} cannot be looked up by {field!r}", entity=entity, filter=field)
        uniq = list(dict.fromkeys(k for k in keys if k is not None))
        records = await self.fetch_by(entity, field, uniq) if uniq else []
        if field == m.key:
            index: dict[Any, Record] = {}
            for r in records:
                index.setdefault(r.get(field), r)
            return [index.get(k) for k in keys]
        groups: dict[Any, list[Record]] = {}
        for r in records:
            groups.setdefault(r.get(field), []).append(r)
        return [groups.get(k, []) for k in keys]

    async def list(self, entity: str, query: ListQuery) -> Page:
        raise NotImplementedError

    async def aggregate(self, entity: str, query: ListQuery,
                        group_by: Sequence[GroupBy]) -> Cells:
        page = await self.list(entity, ListQuery(query.scope, query.filters, query.keys_in, 0, None))
        return group_in_memory(page.records, group_by)

    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record:
        """One new record, written once per ``request_key`` (kind-specific; only for entities whose spec
        declares ``write``)."""
        raise OperationNotSupportedError(f"department {self.name} accepts no writes of {entity}",
                                         department=self.name, entity=entity)

    def _writable(self, entity: str) -> EntityMap:
        m = self._map(entity)
        if m.spec.write is None:
            raise OperationNotSupportedError(f"department {self.name} accepts no writes of {entity}",
                                             department=self.name, entity=entity)
        return m

    async def health(self) -> Health:
        return Health("up")

    def version(self, entity: str) -> Any:
        """A value that changes whenever the entity's data may have (None: not known, as for a live
        system); what the gateway keeps from the data (filter key sets) is keyed by it."""
        return None

    async def close(self) -> None:
        return None

    def _check_ranges(self, m: EntityMap, query: ListQuery) -> None:
        for f, cond in query.filters.items():
            if isinstance(cond, Range) and not m.rules[f].conv.order_preserving:
                raise FilterNotAllowedError(f"{m.entity}.{f} supports equality filters only",
                                            entity=m.entity, filter=f)


def group_key(rec: Record, g: GroupBy) -> Any:
    v = rec.get(JURISDICTION if g.field == "__jurisdiction" else g.field)
    if g.op == "prefix":
        return v[: g.arg] if isinstance(v, str) and len(v) >= g.arg else None
    if g.op == "year":
        return getattr(v, "year", None)
    return v


def group_in_memory(records: Sequence[Record], group_by: Sequence[GroupBy]) -> Cells:
    counts: dict[tuple[Any, ...], int] = {}
    for r in records:
        k = tuple(group_key(r, g) for g in group_by)
        counts[k] = counts.get(k, 0) + 1
    return list(counts.items())


@dataclass(frozen=True)
class PushedGroup:
    """One grouping a department counts itself: its column, cut to ``length`` characters (None: the
    whole value), and how a department value becomes the canonical one."""
    source: str
    length: int | None
    conv: Callable[[Any], Any]


def pushed_groups(m: EntityMap, group_by: Sequence[GroupBy]) -> list[PushedGroup] | None:
    """The groupings as the department's own columns, or None when one cannot be pushed down: a place
    prefix through a ``map`` transform or no longer than a ``prefix`` transform adds, a year of a date
    not written year first. The caller then groups listed records in memory."""
    out: list[PushedGroup] = []
    for g in group_by:
        if g.op == "prefix":
            jur = g.field == "__jurisdiction"
            tr = m.spec.jurisdiction.transform if jur else m.spec.fields[g.field].transform
            src = m.spec.jurisdiction.source if jur else m.rules[g.field].source
            p = next((str(t["prefix"]) for t in tr if isinstance(t, dict) and "prefix" in t), "")
            if any(isinstance(t, dict) and "map" in t for t in tr) or g.arg <= len(p):
                return None
            out.append(PushedGroup(src, g.arg - len(p), _at_least(g.arg, (m.jurisdiction if jur else
                                                                           m.rules[g.field].conv).apply)))
        elif g.op == "year":
            fmts = [t["date"] for t in m.spec.fields[g.field].transform if isinstance(t, dict) and "date" in t]
            flat = [f for x in fmts for f in ([x] if isinstance(x, str) else x)]
            if len(flat) != 1 or not flat[0].startswith("%Y"):
                return None
            out.append(PushedGroup(m.rules[g.field].source, 4, _year))
        else:
            out.append(PushedGroup(m.rules[g.field].source, None, m.rules[g.field].conv.apply))
    return out


def _at_least(n: int, conv: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A prefix group's value: a code shorter than the prefix has no such prefix (as ``group_key`` says)."""
    def apply(v: Any) -> Any:
        c = conv(v)
        return c if isinstance(c, str) and len(c) >= n else None
    return apply


def _year(v: Any) -> int | None:
    return int(v) if v not in (None, "") and str(v).isdigit() else None

