"""The root fields. Each one is a thin shell around the Executor seam."""
from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from common.errors import GatewayError, NotFoundError, PageSizeError
from resolvers.access import AGGREGATE, ALLOW
from resolvers.context import RequestContext
from resolvers.defer import spread
from resolvers.execute import Executor
from resolvers.filters import page, plan
from resolvers.planning import similar_buildings
from resolvers.selection import Sel, field_selection
from resolvers.stats import run_stats
from resolvers.tags import definitions
from resolvers.worklists import known_rule, rules, silent_minority
from schema.connection import Connection, decode_cursor, encode_cursor
from schema.enums import TagSubject
from schema.findings import EligibilityRule, TagDefinition, WorklistItem
from schema.inputs import (
    BuildingFilter,
    EventFilter,
    HouseFilter,
    PersonFilter,
    PlaceFilter,
    ShopFilter,
    StatsDimension,
    StatsSubject,
)
from schema.stats import SimilarBuilding, StatsResult
from schema.types import Building, Committee, Event, House, Node, Person, Shop


def _gql(e: GatewayError) -> GraphQLError:
    return GraphQLError(e.message, extensions=e.extensions())


def _ctx(info: strawberry.Info) -> RequestContext:
    return info.context  # type: ignore[no-any-return]


def _sel(info: strawberry.Info) -> Sel:
    raw = info._raw_info
    return field_selection(raw.field_nodes, raw.fragments, raw.variable_values)


def _root_path(info: strawberry.Info) -> tuple[str, ...]:
    return (str(info._raw_info.path.key),)


async def connection(info: strawberry.Info, entity: str, field: str, first: int | None, after: str | None,
                     f: Any) -> dict[str, Any] | None:
    ctx = _ctx(info)
    if not ctx.access.readable(f"Query.{field}"):
        return None  # the document check reports it
    try:
        n = ctx.limits.default_page if first is None else first
        if n < 0 or n > ctx.limits.max_page:
            raise PageSizeError(f"first must be between 0 and {ctx.limits.max_page}", argument="first",
                                max=ctx.limits.max_page)
        offset = decode_cursor(after)
        sel = _sel(info)
        node_sel = sel.get("edges", {}).get("node", {})
        ex = Executor(ctx)
        await ex.prepare()
        records, has_next, total = await page(ex, entity, await plan(ex, entity, f), offset, n, "totalCount" in sel)
        await ex.expand(entity, records, node_sel, (*_root_path(info), "edges", "@", "node"))
        await ex.shape()
    except GatewayError as e:
        raise _gql(e) from None
    edges = [{"cursor": encode_cursor(offset + i), "node": r} for i, r in enumerate(records)]
    return {
        "edges": spread(edges),
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": offset > 0,
                     "startCursor": edges[0]["cursor"] if edges else None,
                     "endCursor": edges[-1]["cursor"] if edges else None},
        "totalCount": total,
    }


async def single(info: strawberry.Info, field: str, gid: str, types: tuple[str, ...]) -> dict[str, Any] | None:
    ctx = _ctx(info)
    if not ctx.access.readable(f"Query.{field}"):
        return None
    try:
        tname, key = ctx.ids.decode(gid)
        if tname not in types:
            raise NotFoundError("no such object")
        ex = Executor(ctx)
        await ex.prepare()
        rec = await ex.get_root(tname, key)
        assert rec is not None
        await ex.expand(tname, [rec], _sel(info), _root_path(info))
        await ex.shape()
        return rec
    except GatewayError as e:
        raise _gql(e) from None


ENTITIES = ("Person", "Household", "House", "Building", "Compound", "Committee", "Subdistrict", "Shop", "Event")


@strawberry.type(description="The civic data gateway: one endpoint over the departments' systems.")
class Query:
    @strawberry.field(description="Persons in the caller's jurisdiction (population registry).")
    async def persons(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                      filter: PersonFilter | None = None) -> Connection[Person] | None:
        return await connection(info, "Person", "persons", first, after, filter)  # type: ignore[return-value]

    @strawberry.field(description="One person by opaque id; NOT_FOUND when absent or out of jurisdiction.")
    async def person(self, info: strawberry.Info, id: strawberry.ID) -> Person | None:
        return await single(info, "person", id, ("Person",))  # type: ignore[return-value]

    @strawberry.field(description="Houses (housing administration).")
    async def houses(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                     filter: HouseFilter | None = None) -> Connection[House] | None:
        return await connection(info, "House", "houses", first, after, filter)  # type: ignore[return-value]

    @strawberry.field(description="Buildings (housing administration).")
    async def buildings(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                        filter: BuildingFilter | None = None) -> Connection[Building] | None:
        return await connection(info, "Building", "buildings", first, after, filter)  # type: ignore[return-value]

    @strawberry.field(description="Residents' committees (housing administration).")
    async def committees(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                         filter: PlaceFilter | None = None) -> Connection[Committee] | None:
        return await connection(info, "Committee", "committees", first, after, filter)  # type: ignore[return-value]

    @strawberry.field(description="Shops (market supervision).")
    async def shops(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                    filter: ShopFilter | None = None) -> Connection[Shop] | None:
        return await connection(info, "Shop", "shops", first, after, filter)  # type: ignore[return-value]

    @strawberry.field(description="One shop by opaque id.")
    async def shop(self, info: strawberry.Info, id: strawberry.ID) -> Shop | None:
        return await single(info, "shop", id, ("Shop",))  # type: ignore[return-value]

    @strawberry.field(description="Community events (culture centre).")
    async def events(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                     filter: EventFilter | None = None) -> Connection[Event] | None:
        return await connection(info, "Event", "events", first, after, filter)  # type: ignore[return-value]

    @strawberry.field(description="Any entity by opaque id.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        return await single(info, "node", id, ENTITIES)  # type: ignore[return-value]

    @strawberry.field(description="The tag catalogue (tags/*.yaml): each tag's definition, the coordinates it "
                                  "reads, and whether the caller may use it.")
    def tags(self, info: strawberry.Info, subject: TagSubject | None = None) -> list[TagDefinition] | None:
        ctx = _ctx(info)
        if not ctx.access.readable("Query.tags"):
            return None
        return definitions(ctx.access, subject.value if subject is not None else None)  # type: ignore[return-value]

    @strawberry.field(description="The eligibility rules (eligibility/*.yaml) and whether the caller may use each.")
    def eligibilityRules(self, info: strawberry.Info) -> list[EligibilityRule] | None:
        ctx = _ctx(info)
        if not ctx.access.readable("Query.eligibilityRules"):
            return None
        return rules(Executor(ctx))  # type: ignore[return-value]

    @strawberry.field(description="Policy finds people (政策找人): residents in the caller's jurisdiction who "
                                  "qualify for the rule's benefit and do not receive it yet (Query.eligibilityRules); "
                                  "a person's jurisdictionCode names the committee that serves them.")
    async def eligible(self, info: strawberry.Info, rule: str, first: int | None = None, after: str | None = None,
                       filter: PlaceFilter | None = None) -> Connection[Person] | None:
        try:
            tag = known_rule(rule)
        except GatewayError as e:
            raise _gql(e) from None
        f = PersonFilter(committee=filter.committee, compound=filter.compound, building=filter.building,
                         tags=[tag]) if filter is not None else PersonFilter(tags=[tag])
        return await connection(info, "Person", "eligible", first, after, f)  # type: ignore[return-value]

    @strawberry.field(description="The silent minority: residents in the vulnerability tags with no visit in the "
                                  "last `days` days, ranked (most reasons first, then longest without a visit), "
                                  "with the tag names as reasons.")
    async def silentMinority(self, info: strawberry.Info, days: int = 90, first: int = 50,
                             filter: PlaceFilter | None = None) -> list[WorklistItem] | None:
        ctx = _ctx(info)
        if not ctx.access.readable("Query.silentMinority"):
            return None
        try:
            ex = Executor(ctx)
            await ex.prepare()
            sel = _sel(info).get("person", {})
            return await silent_minority(ex, days, first, filter, sel, _root_path(info))  # type: ignore[return-value]
        except GatewayError as e:
            raise _gql(e) from None

    @strawberry.field(description="Walk-up buildings without an elevator ranked by how much they resemble the "
                                  "building `to` or, without it, the buildings in scope that retrofitted one "
                                  "(profile: floors, units, protected share of residents aged 70+, elevator; "
                                  "docs/planning.md).")
    async def similarBuildings(self, info: strawberry.Info, to: strawberry.ID | None = None,
                               first: int = 10) -> list[SimilarBuilding] | None:
        ctx = _ctx(info)
        if not ctx.access.readable("Query.similarBuildings"):
            return None
        try:
            ex = Executor(ctx)
            await ex.prepare()
            sel = _sel(info).get("building", {})
            return await similar_buildings(ex, to, first, sel, _root_path(info))  # type: ignore[return-value]
        except GatewayError as e:
            raise _gql(e) from None

    @strawberry.field(description="Counts grouped by place, age band, gender and department attributes, every "
                                  "combination in scope listed; each count is a sum of protected finest cells "
                                  "(cell key method, multiples of k), never a true count.")
    async def stats(self, info: strawberry.Info, subject: StatsSubject, groupBy: list[StatsDimension],
                    filter: PlaceFilter | None = None,
                    tag: Annotated[str | None, strawberry.argument(
                        description="Count only the members of this tag (Query.tags; docs/tags.md), under the same "
                                    "protection; every field the tag reads must be readable at least as an "
                                    "aggregate.")] = None) -> StatsResult | None:
        ctx = _ctx(info)
        if ctx.access.effect("Query.stats") not in (ALLOW, AGGREGATE):
            return None
        try:
            ex = Executor(ctx)
            await ex.prepare()
            return await run_stats(ex, subject, groupBy, filter, tag)  # type: ignore[return-value]
        except GatewayError as e:
            raise _gql(e) from None
