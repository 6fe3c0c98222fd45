"""The naive baseline: what a typical strawberry + dataloader service over the same adapters does.

    python bench/naive.py --port 8101   (the department URLs come from the environment)

A standalone strawberry schema served by Starlette and uvicorn at /graphql: strawberry types
for Person and the relations the workloads touch (house -> building -> compound, welfare,
employment), one resolver per relation field, each going through an ``aiodataloader``
DataLoader made per request (so each relation and level is one batched ``adapter.load_many``),
and root fields ``person(id)`` and ``persons(first)`` with ``edges { node }``. It answers the
W0-W3 query texts of bench/run.py unchanged, with the same rows as bench/floor.py.

strawberry as it comes (each request parsed and validated, no caches, json answers).
No authorization and no masking: the bearer token is verified (HS256, like any service) only
for its jurisdiction, the scope ``persons`` lists (a committee worker's token makes W3, as the
floor's /w3?scope= does). Same adapters, same ids (IdCodec), same listing as the floor; the
server uses the gateway's one-send h11 protocol like the floor, so the comparison is strawberry
and its resolvers, not a Nagle delay.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import enum
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import strawberry
import uvicorn
from aiodataloader import DataLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.types import Info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.base import ListQuery, Record
from adapters.mapping import JURISDICTION
from adapters.registry import Registry
from gateway.app import department_defaults
from gateway.settings import Settings, load_settings
from gateway.wire import CoalescingH11Protocol
from resolvers.ids import IdCodec
from resolvers.relations import Relation, relations_of
from schema.build import catalogue

DEFAULT_SCOPE = "310107005"


@strawberry.enum
class Gender(enum.Enum):
    MALE = "MALE"
    FEMALE = "FEMALE"


@strawberry.enum
class RegistrationType(enum.Enum):
    LOCAL = "LOCAL"
    NON_LOCAL = "NON_LOCAL"


@strawberry.enum
class CareLevel(enum.Enum):
    NONE = "NONE"
    MILD = "MILD"
    MODERATE = "MODERATE"
    SEVERE = "SEVERE"


@strawberry.enum
class EmploymentStatus(enum.Enum):
    EMPLOYED = "EMPLOYED"
    UNEMPLOYED = "UNEMPLOYED"
    RETIRED = "RETIRED"
    STUDENT = "STUDENT"
    OTHER = "OTHER"


@strawberry.enum
class PensionStatus(enum.Enum):
    RECEIVING = "RECEIVING"
    CONTRIBUTING = "CONTRIBUTING"
    NONE = "NONE"


def enum_of(cls: type[enum.Enum], v: Any) -> Any:
    return None if v is None else cls(v)


@dataclass
class Ctx:
    """Per request: the scope from the token and one DataLoader per relation."""
    app: Naive
    scope: str
    loaders: dict[tuple[str, str], DataLoader]

    def loader(self, type_name: str, fname: str) -> DataLoader:
        ld = self.loaders.get((type_name, fname))
        if ld is None:
            ld = self.loaders[(type_name, fname)] = DataLoader(self.app.batch(self.app.rel[type_name][fname]))
        return ld


async def related(info: Info, type_name: str, fname: str, key: Any) -> Record | None:
    if key is None:
        return None
    rec: Record | None = await info.context.loader(type_name, fname).load(key)
    return rec


@strawberry.type
class Compound:
    code: str | None
    name: str | None

    @staticmethod
    def of(r: Record | None) -> Compound | None:
        return Compound(code=r.get("code"), name=r.get("name")) if r else None


@strawberry.type
class Building:
    code: str | None
    name: str | None
    compound_code: strawberry.Private[str | None]

    @strawberry.field
    async def compound(self, info: Info) -> Compound | None:
        return Compound.of(await related(info, "Building", "compound", self.compound_code))

    @staticmethod
    def of(r: Record | None) -> Building | None:
        return Building(code=r.get("code"), name=r.get("name"), compound_code=r.get("compoundCode")) if r else None


@strawberry.type
class House:
    address_code: str | None
    address: str | None
    jurisdiction_code: str | None

    @strawberry.field
    async def building(self, info: Info) -> Building | None:
        return Building.of(await related(info, "House", "building", self.jurisdiction_code))

    @staticmethod
    def of(r: Record | None) -> House | None:
        return House(address_code=r.get("addressCode"), address=r.get("address"),
                     jurisdiction_code=r.get("jurisdictionCode")) if r else None


@strawberry.type
class Welfare:
    id_number: str | None
    living_alone: bool | None
    care_level: CareLevel | None

    @staticmethod
    def of(r: Record | None) -> Welfare | None:
        return Welfare(id_number=r.get("idNumber"), living_alone=r.get("livingAlone"),
                       care_level=enum_of(CareLevel, r.get("careLevel"))) if r else None


@strawberry.type
class Employment:
    id_number: str | None
    status: EmploymentStatus | None
    pension_status: PensionStatus | None

    @staticmethod
    def of(r: Record | None) -> Employment | None:
        return Employment(id_number=r.get("idNumber"), status=enum_of(EmploymentStatus, r.get("status")),
                          pension_status=enum_of(PensionStatus, r.get("pensionStatus"))) if r else None


@strawberry.type
class Person:
    id_number: str | None
    name: str | None
    gender: Gender | None
    birth_date: dt.date | None
    phone: str | None
    registration_type: RegistrationType | None
    household_number: str | None
    house_code: str | None
    jurisdiction_code: str | None

    @strawberry.field
    def id(self, info: Info) -> strawberry.ID:
        return strawberry.ID(info.context.app.ids.encode("Person", str(self.id_number)))

    @strawberry.field
    def age(self) -> int | None:
        born, today = self.birth_date, dt.date.today()
        if born is None:
            return None
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    @strawberry.field
    async def house(self, info: Info) -> House | None:
        return House.of(await related(info, "Person", "house", self.house_code))

    @strawberry.field
    async def welfare(self, info: Info) -> Welfare | None:
        return Welfare.of(await related(info, "Person", "welfare", self.id_number))

    @strawberry.field
    async def employment(self, info: Info) -> Employment | None:
        return Employment.of(await related(info, "Person", "employment", self.id_number))

    @staticmethod
    def of(r: Record) -> Person:
        return Person(id_number=r.get("idNumber"), name=r.get("name"), gender=enum_of(Gender, r.get("gender")),
                      birth_date=r.get("birthDate"), phone=r.get("phone"),
                      registration_type=enum_of(RegistrationType, r.get("registrationType")),
                      household_number=r.get("householdNumber"), house_code=r.get("houseCode"),
                      jurisdiction_code=r.get("jurisdictionCode"))


@strawberry.type
class PersonEdge:
    node: Person


@strawberry.type
class PersonConnection:
    edges: list[PersonEdge]


@strawberry.type
class Query:
    @strawberry.field
    async def person(self, info: Info, id: strawberry.ID) -> Person | None:
        app: Naive = info.context.app
        type_name, key = app.ids.decode(str(id))
        if type_name != "Person":
            return None
        adapter = app.registry.for_entity("Person")
        assert adapter is not None
        [rec] = await adapter.load_many("Person", [key], None)
        return Person.of(rec) if rec else None

    @strawberry.field
    async def persons(self, info: Info, first: int = 20) -> PersonConnection:
        app: Naive = info.context.app
        scope = info.context.scope
        adapter = app.registry.for_entity("Person")
        assert adapter is not None
        page = await adapter.list("Person", ListQuery(scope=scope, limit=first + 1))
        recs = [r for r in page.records if str(r.get(JURISDICTION, "")).startswith(scope)][:first]
        return PersonConnection(edges=[PersonEdge(node=Person.of(r)) for r in recs])


class Naive:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.ids = IdCodec(settings.id_secret.encode())
        self.rel = relations_of(registry)

    def batch(self, rel: Relation) -> Any:
        adapter = self.registry.for_entity(rel.target)
        assert adapter is not None

        async def load(keys: list[Any]) -> list[Any]:
            found = await adapter.load_many(rel.target, keys, None if rel.unique else rel.remote)
            return [(v[0] if v else None) if not rel.unique and not rel.many else v for v in found]
        return load

    def scope_of(self, request: Request) -> str:
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return DEFAULT_SCOPE
        s = self.settings
        claims = jwt.decode(token, s.jwt_secret, algorithms=["HS256"], audience=s.jwt_audience, issuer=s.jwt_issuer)
        return str(claims.get("jurisdiction") or DEFAULT_SCOPE)


class NaiveGraphQL(GraphQL[Ctx, None]):
    def __init__(self, naive: Naive) -> None:
        super().__init__(strawberry.Schema(query=Query), graphql_ide=None)
        self.naive = naive

    async def get_context(self, request: Any, response: Any) -> Ctx:
        return Ctx(self.naive, self.naive.scope_of(request), {})


def create_naive_app() -> Starlette:
    settings = load_settings(env={})
    registry = Registry.from_dir(settings.adapters_dir, catalogue(), dict(os.environ))
    naive = Naive(settings, registry)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        registry.start(department_defaults(settings))
        yield
        await registry.close()

    return Starlette(routes=[Route("/graphql", NaiveGraphQL(naive), methods=["POST"])], lifespan=lifespan)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    uvicorn.run(create_naive_app(), host="127.0.0.1", port=a.port, log_level="warning",
                http=CoalescingH11Protocol)


if __name__ == "__main__":
    main()
