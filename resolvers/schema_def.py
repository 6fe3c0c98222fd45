"""Assembling the executable schema: the core, the departments' types, root fields, authorization.

The schema is built at start from the core and the departments' specs (a ``SchemaModel``,
schema/model.py); without one, from the specs of the project's adapters/ folder.
"""
from __future__ import annotations

import strawberry
from graphql import GraphQLError, GraphQLInterfaceType
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from resolvers.alerts import acknowledge_alert_field, follow
from resolvers.audit_query import AuditQuery
from resolvers.authorize import AuthorizeDocument
from resolvers.compiled import CompiledExecutionContext
from resolvers.mutations import MUTATIONS, mutation_type
from resolvers.query import Query
from schema.build import CORE_TYPES
from schema.generate import BUILD_LOCK, object_types
from schema.model import SchemaModel, default_model


@strawberry.type(name="Query", description=Query.__strawberry_definition__.description)  # type: ignore[attr-defined]
class RootQuery(Query, AuditQuery):
    """The data fields (resolvers/query.py), then the auditor's (resolvers/audit_query.py)."""


@strawberry.type(name="Subscription", description="Events pushed to a client over a WebSocket at /graphql "
                                                "(the graphql-transport-ws protocol).")
class Subscription:
    alerts = strawberry.subscription(resolver=follow, description="The water alerts of a committee of the caller's "
                                     "jurisdiction: those still open, then each new one as it is raised "
                                     "(docs/alerts.md).")


# the mutations: records written back, and the answer to a water alert (resolvers/alerts.py)
ALL_MUTATIONS = {**MUTATIONS, "acknowledgeAlert": (("Visit", "HouseStatusRecord"), acknowledge_alert_field)}


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Nothing here: strawberry would log every client error with a traceback at ERROR.

        The edge (gateway/errors.py) logs our own faults in full and client errors by code.
        """


_SCHEMAS: dict[tuple[object, ...], strawberry.Schema] = {}


def build_schema(model: SchemaModel | None = None) -> strawberry.Schema:
    """The executable schema of ``model`` (default: the project's specs), built once per distinct model."""
    model = model or default_model()
    with BUILD_LOCK:
        schema = _SCHEMAS.get(model.key)
        if schema is None:
            authorize = type("Authorize", (AuthorizeDocument,), {"policed": model.policed})
            # Records are dicts keyed by field name: ``dict.get`` is the whole field resolver.
            config = StrawberryConfig(auto_camel_case=False, default_resolver=dict.get)  # type: ignore[arg-type]
            # a document is parsed and validated once while it is among the last 128 distinct ones
            types = object_types(model)
            records = {c.__name__: c for c in types if c not in CORE_TYPES}
            schema = _SCHEMAS[model.key] = Schema(query=RootQuery, mutation=mutation_type(records, ALL_MUTATIONS),
                                                  subscription=Subscription, types=types,
                                                  config=config, extensions=[ParserCache, ValidationCache, authorize],
                                                  execution_context_class=CompiledExecutionContext)
    return schema


def root_coordinates(model: SchemaModel | None = None) -> list[str]:
    """The entry points the policy decides besides the types' fields: ``Query.*``, ``Mutation.*`` and the
    interfaces' fields (``Node.id``), in schema order (the rows `gateway policy matrix` and `diff` start with)."""
    gql = build_schema(model)._schema
    roots = [f"Query.{name}" for name in gql.query_type.fields] if gql.query_type else []
    roots += [f"Mutation.{name}" for name in gql.mutation_type.fields] if gql.mutation_type else []
    roots += [f"Subscription.{name}" for name in gql.subscription_type.fields] if gql.subscription_type else []
    return roots + [f"{t.name}.{name}" for t in gql.type_map.values()
                    if isinstance(t, GraphQLInterfaceType) and not t.name.startswith("__") for name in t.fields]


def type_fields(model: SchemaModel | None = None) -> dict[str, list[str]]:
    """type -> every field name (for per-type deny/mask tables)."""
    return dict((model or default_model()).type_fields)


def policed(model: SchemaModel | None = None) -> frozenset[str]:
    return (model or default_model()).policed


def sdl(model: SchemaModel | None = None) -> str:
    return build_schema(model).as_str() + "\n"


POLICED = policed()  # the project's specs (tests, tools); a gateway uses its own model's
