"""The floor: a hand-written Starlette endpoint per workload, no GraphQL and no policy.

    python bench/floor.py --port 8100   (the department URLs come from the environment)

It fetches the same rows with the same batched calls through the same adapters as the
gateway (one listing of the root, one ``load_many`` per relation and level, siblings
concurrently), computes ids and ages the same way, and answers with orjson. What the
gateway adds on top of this (parsing, validation, authorization, graphql-core completing
each field, the audit record) is what bench/run.py reports as the ratio.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.base import ListQuery, Record
from adapters.mapping import JURISDICTION
from adapters.registry import Registry
from common.dates import age_on
from gateway.app import department_defaults
from gateway.settings import load_settings
from gateway.wire import CoalescingH11Protocol
from resolvers.ids import IdCodec
from resolvers.relations import relations_of
from schema.build import catalogue

PERSON = ("idNumber", "name", "gender", "birthDate", "phone", "registrationType", "householdNumber", "houseCode",
          "jurisdictionCode")
WELFARE = ("livingAlone", "careLevel")
EMPLOYMENT = ("status", "pensionStatus")


class Floor:
    def __init__(self, registry: Registry, ids: IdCodec, scope: str) -> None:
        self.registry = registry
        self.ids = ids
        self.scope = scope
        self.rel = relations_of(registry)

    async def hop(self, type_name: str, fname: str, recs: list[Record]) -> dict[Any, Any]:
        """One batched call for a relation of all ``recs``: local key -> target record (or list)."""
        rel = self.rel[type_name][fname]
        keys = list(dict.fromkeys(k for r in recs if (k := r.get(rel.local)) is not None))
        adapter = self.registry.for_entity(rel.target)
        assert adapter is not None
        found = await adapter.load_many(rel.target, keys, None if rel.unique else rel.remote)
        out: dict[Any, Any] = {}
        for k, v in zip(keys, found, strict=True):
            out[k] = (v[0] if v else None) if not rel.unique and not rel.many else v
        return out

    def person(self, r: Record, today: dt.date, typename: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"__typename": "Person"} if typename else {}
        d["id"] = self.ids.encode("Person", str(r["idNumber"]))
        for f in PERSON:
            v = r.get(f)
            d[f] = v.isoformat() if isinstance(v, dt.date) else v
        d["age"] = age_on(r.get("birthDate"), today)
        return d

    async def persons_with_departments(self, recs: list[Record], typename: bool = False) -> list[dict[str, Any]]:
        welfare, employment = await asyncio.gather(self.hop("Person", "welfare", recs),
                                                   self.hop("Person", "employment", recs))
        today = dt.date.today()
        out = []
        for r in recs:
            d = self.person(r, today, typename)
            w, e = welfare.get(r.get("idNumber")), employment.get(r.get("idNumber"))
            d["welfare"] = {f: w.get(f) for f in WELFARE} if w else None
            d["employment"] = {f: e.get(f) for f in EMPLOYMENT} if e else None
            out.append(d)
        return out

    async def list_persons(self, request: Request, default: int) -> list[Record]:
        n = int(request.query_params.get("first", default))
        scope = request.query_params.get("scope", self.scope)
        adapter = self.registry.for_entity("Person")
        assert adapter is not None
        page = await adapter.list("Person", ListQuery(scope=scope, limit=n + 1))
        return [r for r in page.records if str(r.get(JURISDICTION, "")).startswith(scope)][:n]

    async def w0(self, request: Request) -> Response:
        _, key = self.ids.decode(request.query_params["id"])
        adapter = self.registry.for_entity("Person")
        assert adapter is not None
        [rec] = await adapter.load_many("Person", [key], None)
        body = {"data": {"person": (await self.persons_with_departments([rec], True))[0] if rec else None}}
        return Response(orjson.dumps(body), media_type="application/json")

    async def w1(self, request: Request) -> Response:
        recs = await self.list_persons(request, 1000)
        edges = [{"node": d} for d in await self.persons_with_departments(recs)]
        return Response(orjson.dumps({"data": {"persons": {"edges": edges}}}), media_type="application/json")

    async def w2(self, request: Request) -> Response:
        recs = await self.list_persons(request, 200)
        houses_t, welfare_t, employment_t = (asyncio.create_task(self.hop("Person", f, recs))
                                             for f in ("house", "welfare", "employment"))
        houses = await houses_t
        hrecs = [h for h in houses.values() if h]
        buildings = await self.hop("House", "building", hrecs)
        compounds = await self.hop("Building", "compound", [b for b in buildings.values() if b])
        welfare, employment = await welfare_t, await employment_t
        edges = []
        for r in recs:
            h = houses.get(r.get("houseCode"))
            house = None
            if h:
                b = buildings.get(h.get("jurisdictionCode"))
                c = compounds.get(b.get("compoundCode")) if b else None
                house = {"address": h.get("address"), "building": {"name": b.get("name"), "compound": (
                    {"name": c.get("name")} if c else None)} if b else None}
            w, e = welfare.get(r.get("idNumber")), employment.get(r.get("idNumber"))
            edges.append({"node": {"name": r.get("name"), "house": house,
                                   "welfare": {f: w.get(f) for f in WELFARE} if w else None,
                                   "employment": {f: e.get(f) for f in EMPLOYMENT} if e else None}})
        return Response(orjson.dumps({"data": {"persons": {"edges": edges}}}), media_type="application/json")


def create_floor_app(scope: str = "310107005") -> Starlette:
    settings = load_settings(env={})
    registry = Registry.from_dir(settings.adapters_dir, catalogue(), dict(os.environ))
    floor = Floor(registry, IdCodec(settings.id_secret.encode()), scope)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        registry.start(department_defaults(settings))
        yield
        await registry.close()

    return Starlette(routes=[Route("/w0", floor.w0, methods=["POST"]), Route("/w1", floor.w1, methods=["POST"]),
                             Route("/w2", floor.w2, methods=["POST"]), Route("/w3", floor.w1, methods=["POST"])],
                     lifespan=lifespan)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    uvicorn.run(create_floor_app(), host="127.0.0.1", port=a.port, log_level="warning",
                http=CoalescingH11Protocol)


if __name__ == "__main__":
    main()
