"""Assembling the executable schema: types, root fields, the document authorization step."""
from __future__ import annotations

from functools import cache

import strawberry
from strawberry.schema.config import StrawberryConfig

from resolvers.authorize import AuthorizeDocument
from resolvers.query import Query
from schema.build import ALL_TYPES, fields_of
from schema.types import ENTITY_TYPES

POLICED = frozenset({"Query", *(t.__name__ for t in ALL_TYPES)})


class Authorize(AuthorizeDocument):
    policed = POLICED


@cache
def build_schema() -> strawberry.Schema:
    # Records are dicts keyed by field name: ``dict.get`` is the whole field resolver.
    config = StrawberryConfig(auto_camel_case=False, default_resolver=dict.get)  # type: ignore[arg-type]
    return strawberry.Schema(query=Query, types=list(ENTITY_TYPES), config=config, extensions=[Authorize])


def type_fields() -> dict[str, list[str]]:
    """type -> every field name (for per-type deny/mask tables)."""
    return {t.__name__: [f.name for f in fields_of(t)] for t in ALL_TYPES}


def sdl() -> str:
    return build_schema().as_str() + "\n"
