"""The compiled path against graphql-core on what generated documents over the demo never produce:
nulls in non-null positions, values a scalar cannot represent, values that are not records,
abstract values, directives on variables, and the bound of the plan cache.

Each document runs twice on one small schema built like the gateway's (records are dicts,
``dict.get`` resolves every field below the root): with the plans and with graphql-core
alone. The answers, errors included, must serialise to the same bytes.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import strawberry
from prometheus_client import REGISTRY
from strawberry.schema.config import StrawberryConfig

from resolvers.compiled import CompiledExecutionContext, Compiler
from resolvers.defer import spread


@strawberry.enum
class Kind(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@strawberry.interface
class Thing:
    name: str | None


@strawberry.type
class Tag:
    label: str
    weight: int | None


@strawberry.type
class Item(Thing):
    code: str
    count: int | None
    ratio: float | None
    flag: bool | None
    kind: Kind | None
    born: dt.date | None
    tags: list[Tag] | None
    strict_tags: list[Tag] | None
    child: Item | None

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, dict) and obj.get("__typename") == "Item"


@strawberry.type
class Other(Thing):
    size: int | None

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, dict) and obj.get("__typename") == "Other"


@strawberry.type
class Page:
    items: list[Item]
    total: int


DATA: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    async def page(self) -> Page | None:
        return DATA.get("page")  # type: ignore[return-value]

    @strawberry.field
    async def thing(self) -> Thing | None:
        return DATA.get("thing")  # type: ignore[return-value]


SCHEMA = strawberry.Schema(query=Query, types=[Item, Other], execution_context_class=CompiledExecutionContext,
                           config=StrawberryConfig(auto_camel_case=False, default_resolver=dict.get))  # type: ignore[arg-type]


@dataclass
class Ctx:
    compiled: bool


def run(query: str, data: dict[str, Any], variables: dict[str, Any] | None = None) -> bytes:
    """Both paths on the same records; their answers must be the same bytes."""
    out = []
    for compiled in (True, False):
        DATA.clear()
        DATA.update(data)
        r = asyncio.run(SCHEMA.execute(query, variable_values=variables, context_value=Ctx(compiled)))
        body: dict[str, Any] = {"data": r.data}
        if r.errors:
            body["errors"] = [e.formatted for e in r.errors]
        out.append(orjson.dumps(body))
    assert out[0] == out[1], (out[0], out[1])
    return out[0]


def item(key: str, **kw: Any) -> dict[str, Any]:
    return {"__typename": "Item", "code": key, "name": f"n{key}", "count": 1, "ratio": 0.5, "flag": True,
            "kind": "small", "born": dt.date(1950, 3, 1),
            "tags": [{"label": "a", "weight": 1}], "strict_tags": None, "child": None, **kw}


Q = """{ page { total items { __typename code name c: count ratio flag kind born tags { label weight }
         child { code child { code } } } } }"""


def completions(path: str) -> float:
    return REGISTRY.get_sample_value("gateway_completions_total", {"path": path}) or 0.0


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("gateway_compiled_fallbacks_total", {"reason": reason}) or 0.0


def test_plain_records_complete_on_the_plan() -> None:
    before = completions("compiled")
    out = orjson.loads(run(Q, {"page": {"total": 2, "items": [item("1", child=item("2")), item("3")]}}))
    assert out["data"]["page"]["items"][0]["child"]["code"] == "2"
    assert "errors" not in out
    assert completions("compiled") > before


def test_long_lists_of_awaitables_complete_as_their_values() -> None:
    items = spread([item(str(i)) for i in range(100)])  # what resolvers hand over for long lists
    out = orjson.loads(run(Q, {"page": {"total": 100, "items": items}}))
    assert [i["code"] for i in out["data"]["page"]["items"]] == [str(i) for i in range(100)]


@pytest.mark.parametrize("records", [
    {"page": {"total": None, "items": []}},  # a non-null field null: page becomes null
    {"page": {"total": 1, "items": [item("1", code=None)]}},  # non-null in a non-null list item: up to page
    {"page": {"total": 1, "items": [None]}},  # a null item of [Item!]!
    {"page": {"total": 2, "items": [item("1", count="x"), item("2", code=None)]}},  # an error, then a null
    {"page": {"total": 1, "items": [item("1", child=item("2", code=None))]}},  # stops at the nullable child
    {"page": {"total": 1, "items": [item("1", tags=[{"label": None, "weight": 1}, {"label": "b", "weight": 2}])]}},
])
def test_nulls_in_non_null_positions_propagate_as_graphql_core_does(records: dict[str, Any]) -> None:
    out = orjson.loads(run(Q, records))
    assert out["errors"]


@pytest.mark.parametrize("field,value", [
    ("count", 2**31), ("count", "12"), ("count", "twelve"), ("count", 1.0), ("count", True),
    ("ratio", float("inf")), ("ratio", 3), ("flag", 0), ("flag", "yes"), ("name", 5), ("name", True),
    ("name", 1.5), ("name", [1]), ("code", {"a": 1}), ("kind", "large"), ("kind", Kind.LARGE), ("kind", "huge"),
    ("kind", 3), ("born", dt.date(2000, 1, 2)), ("born", "2000-01-02"), ("born", 5),
])
def test_leaves_coerce_or_fail_exactly_as_graphql_core(field: str, value: Any) -> None:
    for _ in range(2):  # the second time from the plan's table of coerced values, where it keeps one
        run(Q, {"page": {"total": 1, "items": [item("1", **{field: value})]}})


def test_values_that_are_not_records_fall_back_to_graphql_core() -> None:
    before = fallbacks("not_a_dict")
    out = orjson.loads(run(Q, {"page": {"total": 1, "items": [item("1", child="not a record")]}}))
    assert out["errors"]
    assert fallbacks("not_a_dict") > before
    before = fallbacks("is_type_of")
    run(Q, {"page": {"total": 1, "items": [item("1", child={**item("2"), "__typename": "Other"})]}})
    assert fallbacks("is_type_of") > before


@pytest.mark.parametrize("value", [
    item("1"), {"__typename": "Other", "name": "o", "size": 3}, {"__typename": "Tag", "label": "x"},
    {"__typename": "Nope"}, {"name": "untyped"},
])
def test_abstract_values_resolve_by_typename_or_fall_back(value: dict[str, Any]) -> None:
    run("{ thing { __typename name ... on Item { code } ... on Other { size } } }", {"thing": value})


def test_directives_on_variables_key_the_plan() -> None:
    q = "query($a: Boolean!) { page { items { code name @include(if: $a) count @skip(if: $a) } total } }"
    data = {"page": {"total": 1, "items": [item("1")]}}
    on = orjson.loads(run(q, data, {"a": True}))["data"]["page"]["items"][0]
    off = orjson.loads(run(q, data, {"a": False}))["data"]["page"]["items"][0]
    assert list(on) == ["code", "name"] and list(off) == ["code", "count"]


def test_aliases_and_fragments_keep_graphql_core_key_order() -> None:
    q = """{ page { items { ...F x: code code ... on Item { name x: code } tags { w: weight ...T } } } }
           fragment F on Item { flag name }  fragment T on Tag { label weight }"""
    run(q, {"page": {"total": 1, "items": [item("1")]}})


def test_the_plan_cache_is_bounded() -> None:
    compiler = Compiler(size=3)
    saved = CompiledExecutionContext.compiler
    CompiledExecutionContext.compiler = compiler
    try:
        for i in range(6):
            run(f"{{ page {{ total items {{ code a{i}: name }} }} }}", {"page": {"total": 1, "items": [item("1")]}})
        assert len(compiler.plans) == 3
    finally:
        CompiledExecutionContext.compiler = saved
