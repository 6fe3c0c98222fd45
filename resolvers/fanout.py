"""Fan-out estimates of the to-many relations, measured in the departments' own data.

The static cost of an operation multiplies down every list it selects. For a to-many
relation (a house's residents, a committee's compounds) the factor is the 95th percentile
of the group sizes in the owning department's data, measured once at start-up: counted by
the department itself where it groups natively (SQL ``GROUP BY``), else over one page of
``SAMPLE`` rows (a full listing of an HTTP system would take longer than the start may).
A department that cannot answer keeps the conservative default until the next start.
The number of rows of each listed entity is counted too: a page can hold no more rows
than exist, whatever its ``first``.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from adapters.base import GroupBy, ListQuery
from adapters.registry import Registry
from common.errors import GatewayError
from resolvers.relations import RELATIONS, Relation, relations_of

log = logging.getLogger("gateway.cost")
DEFAULT_FANOUT = 50  # until measured: generous, so an unmeasured relation is never cheap
SAMPLE = 5000
LISTED = ("Person", "House", "Building", "Committee", "Shop", "Event")  # the entities of root connections


def percentile(sizes: Iterable[int], q: float = 0.95) -> int:
    ordered = sorted(sizes)
    if not ordered:
        return 1
    return max(1, ordered[min(len(ordered) - 1, int(q * len(ordered)))])


class Fanout:
    def __init__(self, default: int = DEFAULT_FANOUT, relations: dict[str, dict[str, Relation]] | None = None) -> None:
        self.default = default
        self.relations = relations or RELATIONS  # the schema's relations: which lists are to-many relations
        self.measured: dict[tuple[str, str], int] = {}
        self.totals: dict[str, int] = {}

    def estimate(self, type_name: str, field: str) -> int:
        return self.measured.get((type_name, field), self.default)

    def page(self, entity: str, first: int) -> int:
        """Rows a page of ``first`` can hold: no more than the entity has anywhere."""
        total = self.totals.get(entity)
        return first if total is None else min(first, total)

    async def measure(self, registry: Registry) -> None:
        """Ask each target department for its group sizes; a failing one keeps the default."""
        jobs = [self._count(a, entity) for entity in LISTED if (a := registry.for_entity(entity)) is not None]
        self.relations = relations_of(registry)
        for tname, rels in self.relations.items():
            for fname, rel in rels.items():
                adapter = registry.for_entity(rel.target) if rel.many else None
                if adapter is not None:
                    jobs.append(self._one(adapter, tname, fname, rel.target, rel.remote))
        await asyncio.gather(*jobs)
        log.info("fan-out estimates: %s", {f"{t}.{f}": n for (t, f), n in sorted(self.measured.items())})

    async def _count(self, adapter: Any, entity: str) -> None:
        try:
            page = await getattr(adapter, "inner", adapter).list(entity, ListQuery(limit=0, count=True))
        except GatewayError:
            return
        if page.total is not None:
            self.totals[entity] = page.total

    async def _one(self, adapter: object, tname: str, fname: str, target: str, remote: str) -> None:
        a: Any = getattr(adapter, "inner", adapter)  # a probe of ours, like a health check: never a breaker's verdict
        try:
            if a.kind == "sql":
                cells = await a.aggregate(target, ListQuery(limit=None), [GroupBy(remote)])
                sizes = [n for key, n in cells if key and key[0] is not None]
            else:
                page = await a.list(target, ListQuery(limit=SAMPLE))
                sizes = list(Counter(v for r in page.records if (v := r.get(remote)) is not None).values())
        except GatewayError as e:
            log.info("fan-out of %s.%s not measured (%s); using %d", tname, fname, e.code, self.default)
            return
        self.measured[(tname, fname)] = percentile(sizes)
