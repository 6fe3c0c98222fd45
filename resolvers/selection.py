"""Walking a GraphQL selection: merged field trees for planning, coordinates for authorization.

Fragments, inline fragments and aliases are resolved here once, so the planner and the
policy check see plain field names: an alias or a fragment can never hide a field.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    value_from_ast_untyped,
)

Sel = dict[str, "Sel"]  # field name -> sub-selection ({} for a leaf)


def _condition(node: Any, name: str, variables: Mapping[str, Any]) -> bool | None:
    """The boolean `if:` of @skip/@include on ``node``, literal or from a variable."""
    for d in node.directives or ():
        if d.name.value != name:
            continue
        for arg in d.arguments:
            if arg.name.value != "if":
                continue
            v = arg.value
            if isinstance(v, VariableNode):
                return bool(variables.get(v.name.value))
            if isinstance(v, BooleanValueNode):
                return v.value
    return None


def _included(node: Any, variables: Mapping[str, Any]) -> bool:
    return _condition(node, "skip", variables) is not True and _condition(node, "include", variables) is not False


def with_defaults(operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Request variables plus the operation's declared defaults (as the executor sees them)."""
    out = dict(variables)
    for vd in operation.variable_definitions or ():
        name = vd.variable.name.value
        if name not in out and vd.default_value is not None:
            out[name] = value_from_ast_untyped(vd.default_value)
    return out


def merge_fields(selection_sets: Sequence[SelectionSetNode | None], fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], into: Sel | None = None, seen: frozenset[str] = frozenset()) -> Sel:
    """All fields selected under these selection sets, merged by field name (aliases folded)."""
    out: Sel = {} if into is None else into
    for ss in selection_sets:
        if ss is None:
            continue
        for node in ss.selections:
            if not _included(node, variables):
                continue
            if isinstance(node, FieldNode):
                child = out.setdefault(node.name.value, {})
                if node.selection_set is not None:
                    merge_fields([node.selection_set], fragments, variables, child, seen)
            elif isinstance(node, InlineFragmentNode):
                merge_fields([node.selection_set], fragments, variables, out, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                frag = fragments.get(name)
                if frag is not None and name not in seen:
                    merge_fields([frag.selection_set], fragments, variables, out, seen | {name})
    return out


def field_selection(field_nodes: Sequence[FieldNode], fragments: Mapping[str, FragmentDefinitionNode],
                    variables: Any) -> Sel:
    """``variables``: the executor's coerced values (defaults applied), a mapping or VariableValues."""
    coerced = getattr(variables, "coerced", variables)
    return merge_fields([f.selection_set for f in field_nodes], fragments, coerced)


def _named(t: Any) -> Any:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def coordinates(schema: GraphQLSchema, operation: OperationDefinitionNode,
                fragments: Mapping[str, FragmentDefinitionNode],
                variables: Mapping[str, Any]) -> Iterator[tuple[str, str, tuple[str, ...], FieldNode]]:
    """Every (type, field, response path, node) the operation selects; list positions are '@'."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return
    yield from _walk(schema, root, operation.selection_set, fragments, with_defaults(operation, variables), (),
                     frozenset())


def _walk(schema: GraphQLSchema, parent: Any, ss: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode],
          variables: Mapping[str, Any], path: tuple[str, ...], seen: frozenset[str]) -> Iterator[Any]:
    for node in ss.selections:
        if not _included(node, variables):
            continue
        if isinstance(node, FieldNode):
            name = node.name.value
            if name.startswith("__"):
                continue
            fields = parent.fields if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) else {}
            fdef = fields.get(name)
            if fdef is None:
                continue
            key = node.alias.value if node.alias else name
            here = (*path, key)
            yield parent.name, name, here, node
            if node.selection_set is not None:
                sub = (*here, "@") if _is_list(fdef.type) else here
                yield from _walk(schema, _named(fdef.type), node.selection_set, fragments, variables, sub, seen)
        elif isinstance(node, InlineFragmentNode):
            t = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
            yield from _walk(schema, t or parent, node.selection_set, fragments, variables, path, seen)
        elif isinstance(node, FragmentSpreadNode):
            frag = fragments.get(node.name.value)
            if frag is not None and node.name.value not in seen:
                t = schema.get_type(frag.type_condition.name.value) or parent
                yield from _walk(schema, t, frag.selection_set, fragments, variables, path, seen | {node.name.value})
