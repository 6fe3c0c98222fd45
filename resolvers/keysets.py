"""Key sets of an entity's records in a scope that pass pushed filters, kept across requests."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from adapters.base import Filter, GroupBy, ListQuery, Record
from resolvers.relations import KEYS

if TYPE_CHECKING:
    from resolvers.execute import Executor


def record_scope(scope: str) -> str:
    """Scope for fetching key sets from departments' person records.

    Those records carry at most a committee code, so a finer scope would find none; the
    key set only restricts a root query that is itself scoped, so nothing leaves the gateway.
    """
    return scope[:12]


async def root_keys(ex: Executor, entity: str, scope: str, filters: dict[str, Filter],
                    records: Callable[[], Awaitable[list[Record]]] | None = None) -> frozenset[str]:
    """The keys of the entity's records in the scope that pass the pushed filters, kept like the department
    key sets (``keyset_cache_s``; for callers without row restrictions only, as those). ``records``: where
    to read them when they are not kept, if the caller reads those records anyway."""
    key_field = KEYS[entity]

    async def fetch() -> frozenset[str]:
        if records is not None:
            found = await records()
            return frozenset(str(r[key_field]) for r in found if r.get(key_field) is not None)
        # the keys alone, grouped by the department (a SQL department reads one column, not whole records)
        cells = await ex.aggregate(entity, ListQuery(scope=scope, filters=filters, limit=None), [GroupBy(key_field)])
        keys = frozenset(str(k[0]) for k, _ in cells if k and k[0] is not None)
        allowed = ex.row_keys.get(entity)
        return keys if allowed is None else keys & allowed

    if ex.ctx.keysets is None or ex.row_keys:
        return await fetch()
    key = ("root", entity, scope, ex.scope, tuple(sorted(filters.items(), key=lambda kv: kv[0])),
           ex.owner(entity).version(entity))
    return await ex.ctx.keysets.get(key, fetch)  # type: ignore[no-any-return]
