"""The static cost of an operation, computed from the document before anything is fetched.

Cost is the estimated number of field values the answer holds: every selected field costs
the number of times it will be resolved, which is the product of the list sizes on its
path. A connection's ``edges`` count its ``first`` (or the default page), at most the
rows the entity has; a to-many
relation counts its measured fan-out (:mod:`resolvers.fanout`); any other list counts
``OTHER_LIST``. Aliases and fragments count as often as they appear, since each one is
answered. Introspection is free (it is bounded by the schema, not by the data).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from resolvers.fanout import Fanout
from resolvers.selection import _included, with_defaults

OTHER_LIST = 100  # e.g. the cells of a stats table


@dataclass(frozen=True)
class Cost:
    fields: int  # estimated field values in the answer (what the budget bounds)
    rows: int  # estimated objects (entities and records) in the answer


def _unwrap(t: Any) -> tuple[Any, bool]:
    is_list = False
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        is_list = is_list or isinstance(t, GraphQLList)
        t = t.of_type
    return t, is_list


def _first(node: FieldNode, variables: Mapping[str, Any], default_page: int) -> int:
    for arg in node.arguments or ():
        if arg.name.value != "first":
            continue
        v = arg.value
        if isinstance(v, IntValueNode):
            return max(0, int(v.value))
        if isinstance(v, VariableNode):
            got = variables.get(v.name.value)
            if isinstance(got, int) and not isinstance(got, bool):
                return max(0, got)
    return default_page


def operation_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any],
                   fanout: Fanout, default_page: int) -> Cost:
    variables = with_defaults(operation, variables)
    total_fields = 0
    total_rows = 0

    def walk(parent: Any, ss: SelectionSetNode, mult: int, page: int | None, seen: frozenset[str]) -> None:
        nonlocal total_fields, total_rows
        for node in ss.selections:
            if not _included(node, variables):
                continue
            if isinstance(node, FieldNode):
                name = node.name.value
                if name.startswith("__"):
                    continue
                fdef = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
                if fdef is None and hasattr(parent, "fields"):
                    fdef = parent.fields.get(name)
                if fdef is None:
                    continue  # validation reports it
                total_fields += mult
                if node.selection_set is None:
                    continue
                target, is_list = _unwrap(fdef.type)
                sub_page = None
                if target.name.endswith("Connection"):
                    sub_page = fanout.page(target.name.removesuffix("Connection"), _first(node, variables, default_page))
                factor = 1
                if name == "edges" and page is not None:
                    factor = page
                elif is_list:
                    rel = fanout.relations.get(parent.name, {}).get(name)
                    factor = fanout.estimate(parent.name, name) if rel is not None and rel.many else OTHER_LIST
                if not target.name.endswith(("Connection", "Edge", "PageInfo")):
                    total_rows += mult * factor
                walk(target, node.selection_set, mult * factor, sub_page, seen)
            elif isinstance(node, InlineFragmentNode):
                t = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                walk(t or parent, node.selection_set, mult, page, seen)
            elif isinstance(node, FragmentSpreadNode):
                frag = fragments.get(node.name.value)
                if frag is not None and node.name.value not in seen:
                    t = schema.get_type(frag.type_condition.name.value) or parent
                    walk(t, frag.selection_set, mult, page, seen | {node.name.value})

    root = schema.get_root_type(operation.operation)
    if root is not None:
        walk(root, operation.selection_set, 1, None, frozenset())
    return Cost(total_fields, total_rows)
