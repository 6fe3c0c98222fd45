"""Schema introspection, shown to each role as the schema it may read.

Introspection is a setting (on in dev/demo, off in production). Where it is on, the
standard full introspection query (what GraphiQL, Apollo, ``gql`` and schemathesis send)
is answered from a copy of the SDL from which every field the caller may not read at
least masked has been removed, and every object type left with no field: a committee
worker's schema has no ``Person.health``. The copy is built once per distinct set of
decisions (policy version, roles, purpose) and kept.

An operation that introspects (``__schema`` or ``__type``) is answered from that copy
alone, so it must not also ask for data: clients send introspection as its own request.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    OperationDefinitionNode,
    SelectionSetNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    execute_sync,
    parse,
    validate,
)

META = frozenset({"__schema", "__type"})


def introspects(doc: DocumentNode) -> bool:
    """Whether any operation or fragment of the document selects ``__schema`` or ``__type``."""
    def walk(ss: SelectionSetNode | None) -> bool:
        for node in ss.selections if ss is not None else ():
            if isinstance(node, FieldNode):
                if node.name.value in META or walk(node.selection_set):
                    return True
            elif isinstance(node, InlineFragmentNode) and walk(node.selection_set):
                return True
        return False

    return any(isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode)) and walk(d.selection_set)
               for d in doc.definitions)


def root_fields(doc: DocumentNode, op: OperationDefinitionNode) -> set[str]:
    """Names of the root fields an operation selects, through fragments."""
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    out: set[str] = set()

    def walk(ss: SelectionSetNode, seen: frozenset[str]) -> None:
        for node in ss.selections:
            if isinstance(node, FieldNode):
                out.add(node.name.value)
            elif isinstance(node, InlineFragmentNode):
                walk(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                frag = frags.get(node.name.value)
                if frag is not None:
                    walk(frag.selection_set, seen | {node.name.value})

    walk(op.selection_set, frozenset())
    return out


def filtered_schema(sdl: str, visible: Callable[[str], bool], policed: frozenset[str]) -> GraphQLSchema:
    """The SDL without the fields ``visible`` refuses, nor the object types left empty (to a fixpoint)."""
    doc = parse(sdl)
    gone: set[str] = set()
    defs = list(doc.definitions)
    while True:
        kept: list[Any] = []
        removed_now = False
        for d in defs:
            if isinstance(d, (ObjectTypeDefinitionNode, InterfaceTypeDefinitionNode)):
                name = d.name.value
                fields = tuple(f for f in d.fields or () if _named(f.type) not in gone
                               and (name not in policed or visible(f"{name}.{f.name.value}")))
                ifaces = tuple(i for i in d.interfaces or () if i.name.value not in gone)
                if not fields and name != "Query":
                    gone.add(name)
                    removed_now = True
                    continue
                if len(fields) != len(d.fields or ()) or len(ifaces) != len(d.interfaces or ()):
                    removed_now = removed_now or len(fields) != len(d.fields or ())
                    d = d.__class__(**{**{k: getattr(d, k) for k in d.keys}, "fields": fields,
                                       "interfaces": ifaces})
            elif isinstance(d, UnionTypeDefinitionNode):
                types = tuple(t for t in d.types or () if t.name.value not in gone)
                if not types:
                    gone.add(d.name.value)
                    removed_now = True
                    continue
                d = d.__class__(**{**{k: getattr(d, k) for k in d.keys}, "types": types})
            kept.append(d)
        defs = kept
        if not removed_now:
            break
    return build_ast_schema(DocumentNode(definitions=tuple(defs)), assume_valid_sdl=True)


def _named(t: Any) -> str:
    while not isinstance(t, NamedTypeNode):
        t = t.type
    return str(t.name.value)


class Introspection:
    """Per-role introspection schemas, built on first use and kept (bounded)."""

    def __init__(self, sdl: str, policed: frozenset[str], size: int = 256) -> None:
        self.sdl = sdl
        self.policed = policed
        self.size = size
        self._schemas: OrderedDict[tuple[Any, ...], GraphQLSchema] = OrderedDict()

    def schema_for(self, key: tuple[Any, ...], visible: Callable[[str], bool]) -> GraphQLSchema:
        s = self._schemas.get(key)
        if s is None:
            s = filtered_schema(self.sdl, visible, self.policed)
            self._schemas[key] = s
            if len(self._schemas) > self.size:
                self._schemas.popitem(last=False)
        else:
            self._schemas.move_to_end(key)
        return s

    def run(self, schema: GraphQLSchema, doc: DocumentNode, variables: Mapping[str, Any],
            op_name: str | None) -> ExecutionResult:
        errors = validate(schema, doc)
        if errors:
            return ExecutionResult(data=None, errors=errors)
        result = execute_sync(schema, doc, variable_values=dict(variables), operation_name=op_name)
        return result
