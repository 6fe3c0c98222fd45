"""The adapter contract, checked for every (department, entity) the specs register.

Parametrised from the spec folders themselves, so a new department is covered without
touching this file. Runs against the small session demo dataset and live demo services; every
SQL department also against the machine's PostgreSQL and MariaDB (the same data loaded there
by `gateway demo-data --target`, into databases of this run, dropped afterwards).
"""
from __future__ import annotations

import datetime as dt
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Eq, GroupBy, ListQuery, Range, Record
from adapters.kind import group_in_memory
from adapters.loader import LoadedSpec
from adapters.mapping import JURISDICTION
from adapters.registry import load_specs
from common.errors import FilterNotAllowedError
from schema.build import catalogue as build_catalogue

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"
SUBDISTRICT = "310107005"
PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "enum": (str,), "int": (int,), "float": (float, int), "bool": (bool,), "date": (dt.date,),
}


SERVERS = {"postgresql": "postgresql://postgres@127.0.0.1:5432/postgres", "mariadb": "mysql://root@127.0.0.1:3306/"}


def _pairs() -> list[Any]:
    specs: list[LoadedSpec] = load_specs(ADAPTERS_DIR, build_catalogue(), {})  # defaults only: no env needed
    return [pytest.param(backend, ls.name, entity, id=f"{ls.name}:{entity}" + (f"@{backend}" if backend else ""))
            for ls in specs for backend in ("", *(SERVERS if ls.spec.kind == "sql" else ())) for entity in ls.maps]


PAIRS = _pairs()
_CACHE: dict[tuple[int, str], list[Record]] = {}


@pytest.fixture(scope="session")
async def server_registries(demo_dir: Path, demo_env: dict[str, str], catalogue: Any) -> AsyncIterator[dict[str, Any]]:
    """A registry whose SQL departments read the machine's PostgreSQL, and one for its MariaDB."""
    from adapters.registry import Registry
    from demo.servers import drop, load

    prefix = f"civic_contract_{os.getpid()}"
    made: dict[str, Any] = {}
    try:
        for backend, target in SERVERS.items():
            env = await load(demo_dir, target, prefix)
            made[backend] = Registry.from_dir(ADAPTERS_DIR, catalogue, {**demo_env, **env})
        yield made
    finally:
        for reg in made.values():
            await reg.close()
        for target in SERVERS.values():
            await drop(target, prefix)


@pytest.fixture
def registry(registry: Any, backend: str, request: pytest.FixtureRequest) -> Any:
    """The session's registry (SQLite files), or for a server backend the one reading that server."""
    return request.getfixturevalue("server_registries")[backend] if backend else registry


@pytest.fixture
def full(registry: Any) -> Callable[[str], Awaitable[list[Record]]]:
    """The entity's complete unscoped listing, fetched once per session (and backend)."""
    async def get(entity: str) -> list[Record]:
        if (id(registry), entity) not in _CACHE:
            page = await registry.for_entity(entity).list(entity, ListQuery(limit=None))
            _CACHE[id(registry), entity] = page.records
        return _CACHE[id(registry), entity]
    return get


def _adapter(registry: Any, dept: str, entity: str) -> Any:
    a = registry.adapters[dept]
    assert registry.for_entity(entity) is a
    return a


def _emap(adapter: Any, entity: str) -> Any:
    return adapter.inner.maps[entity]


def _seen(records: list[Record], field: str, n: int = 2) -> list[Any]:
    """Up to n distinct non-null values of field, most frequent first (deterministic)."""
    counts = Counter(r.get(field) for r in records if r.get(field) is not None)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]]


def _committee(records: list[Record]) -> str:
    """The committee holding the most records (any committee if none is that deep)."""
    codes = Counter(j[:12] for r in records if isinstance(j := r.get(JURISDICTION), str) and len(j) >= 12)
    return max(sorted(codes), key=lambda c: codes[c]) if codes else SUBDISTRICT + "001"


def _unknown_key(keys: list[Any], every: set[Any]) -> str:
    """A key shaped like the sampled ones that no record has (a database-made number may be 9, 99, ...)."""
    sample = str(keys[0]) if keys else "X"
    return "9" * len(sample) if "9" * len(sample) not in every else "Z" * (len(sample) + 1)


pytestmark = pytest.mark.parametrize(("backend", "dept", "entity"), PAIRS)


async def test_health_is_up(registry: Any, dept: str, entity: str) -> None:
    h = await _adapter(registry, dept, entity).health()
    assert h.status == "up", h.detail


async def test_version_is_stable_while_the_data_is(registry: Any, full: Any, dept: str, entity: str) -> None:
    """None (not known: a live system) or a hashable value that does not move while nothing changes."""
    a = _adapter(registry, dept, entity)
    await full(entity)
    v = a.version(entity)
    hash(v)
    assert a.version(entity) == v
    assert (v is None) == (a.kind != "ledger"), v  # the ledgers know their file's version; the others do not


async def test_listing_has_data_and_unique_keys(registry: Any, full: Any, dept: str, entity: str) -> None:
    m = _emap(_adapter(registry, dept, entity), entity)
    records = await full(entity)
    assert records, f"{dept}:{entity} lists no records"
    keys = [r[m.key] for r in records]
    assert None not in keys
    assert len(set(keys)) == len(keys), "key values must be unique"


async def test_values_have_schema_types(registry: Any, full: Any, catalogue: Any, dept: str, entity: str) -> None:
    m = _emap(_adapter(registry, dept, entity), entity)
    types = catalogue[entity]
    records = await full(entity)
    for field in m.rules:
        ft = types[field]
        filled = 0
        for r in records:
            v = r[field]
            if v is None:
                continue
            filled += 1
            assert isinstance(v, PY_TYPES[ft.scalar]), f"{entity}.{field}={v!r} is not {ft.scalar}"
            if ft.scalar == "bool":
                continue
            if ft.scalar in ("int", "float"):
                assert not isinstance(v, bool), f"{entity}.{field}={v!r} is a bool"
            if ft.scalar == "date":
                assert not isinstance(v, dt.datetime), f"{entity}.{field}={v!r} is a datetime"
            if ft.enum is not None:
                assert v in ft.enum, f"{entity}.{field}={v!r} not in {sorted(ft.enum)}"
            if isinstance(v, str):
                assert v == v.strip() and v, f"{entity}.{field}={v!r} is not trimmed"
        assert filled, f"{entity}.{field} is never filled: a wrong source column or transform?"
        # a transform that silently fails on some rows (unknown code, date format) shows up as
        # far more nulls than the department's own data has; keys never fail
        if field == m.key:
            assert filled == len(records)
    for r in records:
        j = r[JURISDICTION]
        assert j is None or isinstance(j, str)
    assert set(records[0]) == set(m.rules) | {JURISDICTION}


async def _raw_rows(a: Any, entity: str) -> list[dict[str, Any]]:
    """The department's rows before conversion, read through the adapter's own connection."""
    inner, m = a.inner, a.inner.maps[entity]
    if a.kind == "sql":
        return await inner._rows(inner._select(entity))
    if a.kind == "ledger":
        from adapters.ledger import read_rows
        return read_rows(inner.path(entity), m.spec.sheet, m.spec.encoding)
    if a.kind == "http":
        items, _ = await inner._page_through(m.spec.list_, {}, 0, None, False)
        return items
    raise AssertionError(f"no raw access for kind {a.kind}: teach _raw_rows how to read it")


async def test_no_value_lost_in_conversion(registry: Any, dept: str, entity: str) -> None:
    """Every non-empty raw value converts to a non-null value: no unmapped code, unparsed date."""
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    rows = await _raw_rows(a, entity)
    assert rows
    lost: dict[str, list[Any]] = {}
    for row in rows:
        rec = m.convert(row)
        for name, rule in m.rules.items():
            raw = row.get(rule.source)
            if raw is not None and str(raw).strip() != "" and rec[name] is None:
                lost.setdefault(name, []).append(raw)
        raw_j = row.get(m.spec.jurisdiction.source)
        if raw_j is not None and str(raw_j).strip() != "":
            j = rec[JURISDICTION]
            assert isinstance(j, str) and j.isdigit() and len(j) in (9, 12, 15, 18, 22), f"jurisdiction {j!r}"
    assert not lost, {k: v[:5] for k, v in lost.items()}


async def test_load_many_same_length_and_order(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    rng = random.Random(f"{dept}:{entity}")
    keys = [r[m.key] for r in rng.sample(records, min(25, len(records)))]
    rng.shuffle(keys)
    unknown = _unknown_key(keys, {r[m.key] for r in records})
    asked = [*keys, keys[0], unknown]
    rng.shuffle(asked)
    got = await a.load_many(entity, asked)
    assert len(got) == len(asked)
    for k, rec in zip(asked, got, strict=True):
        if k == unknown:
            assert rec is None
        else:
            assert isinstance(rec, dict), f"{k!r} -> {rec!r}"
            assert rec[m.key] == k
    assert await a.load_many(entity, []) == []
    assert await a.load_many(entity, [unknown]) == [None]


async def test_load_many_by_filter_fields(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    for f in m.filter_params:
        values = _seen(records, f)
        if f == m.key or not values:  # by=<key> is the plain keyed lookup
            continue
        probe = "NO-SUCH-VALUE" if isinstance(values[0], str) else None
        asked = [*values, values[0]] + ([probe] if probe else [])
        got = await a.load_many(entity, asked, by=f)
        assert len(got) == len(asked)
        for v, recs in zip(asked, got, strict=True):
            assert isinstance(recs, list), f"by={f}: {recs!r}"
            want = sum(1 for r in records if r.get(f) == v)
            assert len(recs) == want, f"by={f} value {v!r}: {len(recs)} records, listing has {want}"
            assert all(r[f] == v for r in recs)


async def test_declared_filters_push_down(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    for f in m.filter_params:
        values = _seen(records, f)
        assert values, f"{entity}.{f} is a declared filter but never has a value"
        for cond in (Eq((values[0],)), Eq(tuple(values))):
            page = await a.list(entity, ListQuery(filters={f: cond}, limit=None, count=True))
            want = [r[m.key] for r in records if r.get(f) in cond.values]
            assert page.records, f"{entity}.{f} in {cond.values!r} returned nothing"
            assert all(r[f] in cond.values for r in page.records)
            assert sorted(map(str, (r[m.key] for r in page.records))) == sorted(map(str, want))
            assert page.total == len(want)


async def test_range_filters_on_ordered_fields(registry: Any, full: Any, catalogue: Any,
                                               dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    for f in m.filter_params:
        if catalogue[entity][f].scalar not in ("date", "int", "float"):
            continue
        if a.kind == "http" or not m.rules[f].conv.order_preserving:
            with pytest.raises(FilterNotAllowedError):
                await a.list(entity, ListQuery(filters={f: Range(lo=_seen(records, f)[0])}))
            continue
        vals = sorted({r[f] for r in records if r.get(f) is not None})
        lo, hi = vals[len(vals) // 4], vals[len(vals) * 3 // 4]
        page = await a.list(entity, ListQuery(filters={f: Range(lo, hi)}, limit=None))
        want = {r[m.key] for r in records if r.get(f) is not None and lo <= r[f] <= hi}
        assert {r[m.key] for r in page.records} == want


async def test_undeclared_filter_is_refused(registry: Any, catalogue: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    undeclared = [f for f in catalogue[entity] if f not in m.filter_params] + ["noSuchField"]
    for f in undeclared:
        with pytest.raises(FilterNotAllowedError) as ei:
            await a.list(entity, ListQuery(filters={f: Eq(("x",))}))
        assert ei.value.code == "FILTER_NOT_ALLOWED"
        assert ei.value.details["filter"] == f
    if undeclared[0] != m.key:
        with pytest.raises(FilterNotAllowedError):
            await a.load_many(entity, ["x"], by=undeclared[0])


async def test_jurisdiction_scope_is_honoured(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    committee = _committee(records)
    page = await a.list(entity, ListQuery(scope=committee, limit=None, count=True))
    assert all(str(r[JURISDICTION]).startswith(committee) for r in page.records)
    want = {r[m.key] for r in records if str(r[JURISDICTION] or "").startswith(committee)}
    assert {r[m.key] for r in page.records} == want
    assert page.total == len(page.records)
    if len({str(r[JURISDICTION])[:12] for r in records}) > 1:  # small demo: may all sit in one committee
        assert len(page.records) < len(records)
    sub = await a.list(entity, ListQuery(scope=SUBDISTRICT, limit=None))
    assert all(str(r[JURISDICTION]).startswith(SUBDISTRICT) for r in sub.records)
    assert len(sub.records) == sum(1 for r in records if str(r[JURISDICTION] or "").startswith(SUBDISTRICT))
    other = await a.list(entity, ListQuery(scope="310107006", limit=None, count=True))
    assert other.records == [] and other.total == 0


async def test_scope_and_filter_combine(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    committee = _committee(records)
    scoped = [r for r in records if str(r[JURISDICTION] or "").startswith(committee)]
    if not m.filter_params:  # nothing to combine: the scope alone must still hold
        page = await a.list(entity, ListQuery(scope=committee, limit=None))
        assert {r[m.key] for r in page.records} == {r[m.key] for r in scoped}
        return
    f = min(m.filter_params)
    values = _seen(scoped, f, 1)
    if not values:  # this committee has no value for the filter: use the whole subdistrict
        committee, scoped = SUBDISTRICT, [r for r in records if str(r[JURISDICTION] or "").startswith(SUBDISTRICT)]
        values = _seen(scoped, f, 1)
    assert values, f"{entity}.{f} never has a value in the demo data"
    page = await a.list(entity, ListQuery(scope=committee, filters={f: Eq(tuple(values))}, limit=None))
    assert {r[m.key] for r in page.records} == {r[m.key] for r in scoped if r.get(f) == values[0]}


async def test_pagination_concatenates(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    committee = _committee(records)
    whole = await a.list(entity, ListQuery(scope=committee, limit=None, count=True))
    keys = [r[m.key] for r in whole.records]
    assert whole.total == len(keys)
    size = max(1, min(7, len(keys) // 3 or 1))
    pages: list[Any] = []
    offset = 0
    while True:
        page = await a.list(entity, ListQuery(scope=committee, offset=offset, limit=size, count=True))
        assert page.total == len(keys)
        assert len(page.records) <= size
        pages.extend(r[m.key] for r in page.records)
        if len(page.records) < size:
            break
        offset += size
        assert offset <= len(keys) + size
    assert pages == keys
    # the unscoped default page and a page past the end
    first = await a.list(entity, ListQuery())
    assert [r[m.key] for r in first.records] == [r[m.key] for r in records[:100]]
    past = await a.list(entity, ListQuery(scope=committee, offset=len(keys) + 5, limit=size))
    assert past.records == []


async def test_keys_in_semi_join(registry: Any, full: Any, dept: str, entity: str) -> None:
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    if a.kind == "http" and m.key not in m.filter_params:
        with pytest.raises(FilterNotAllowedError):
            await a.list(entity, ListQuery(keys_in=("x",), limit=None))
        return
    records = await full(entity)
    keys = tuple(r[m.key] for r in records[:: max(1, len(records) // 10)])
    page = await a.list(entity, ListQuery(keys_in=(*keys, "NO-SUCH-KEY"), limit=None))
    assert {r[m.key] for r in page.records} == set(keys)
    empty = await a.list(entity, ListQuery(keys_in=(), limit=None))
    assert empty.records == []


async def test_caller_owns_returned_records(registry: Any, full: Any, dept: str, entity: str) -> None:
    """The gateway masks and extends records in place: that must never reach the next call."""
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    key = records[0][m.key]
    [first] = await a.load_many(entity, [key])
    for f in list(first):
        first[f] = "tampered"
    first["extra"] = object()
    [again] = await a.load_many(entity, [key])
    assert again[m.key] == key and "extra" not in again
    page = await a.list(entity, ListQuery(limit=1))
    page.records[0][m.key] = "tampered"
    assert (await a.list(entity, ListQuery(limit=1))).records[0][m.key] != "tampered"


async def test_counts_are_exactly_those_of_the_listing(registry: Any, full: Any, dept: str, entity: str) -> None:
    """Whether the department counts (SQL GROUP BY, an HTTP counting endpoint) or the gateway counts
    listed records, every grouping gives the counts of the listing: by place prefix at every level, by
    a filterable field, both, within the subdistrict and within one committee."""
    a = _adapter(registry, dept, entity)
    m = _emap(a, entity)
    records = await full(entity)
    fields = sorted((f for f in m.filter_params if f != m.key and f in m.rules), key=lambda f: f == "jurisdictionCode")[:1]
    groupings = [[GroupBy("__jurisdiction", "prefix", n)] for n in (9, 12, 15, 18)]
    groupings += [[GroupBy(f)] for f in fields] + [[GroupBy("__jurisdiction", "prefix", 12), GroupBy(f)] for f in fields]
    for scope in (SUBDISTRICT, _committee(records)):
        mine = [r for r in records if str(r.get(JURISDICTION) or "").startswith(scope)]
        for g in groupings:
            got = dict(await a.aggregate(entity, ListQuery(scope=scope, limit=None), g))
            assert got == dict(group_in_memory(mine, g)), (scope, g)

