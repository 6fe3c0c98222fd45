"""Authorizing the document before anything runs (DESIGN "A request", step 3).

The operation is walked once (aliases, fragments and inline fragments resolved); each
distinct ``Type.field`` gets one policy decision. In ``filter`` mode denied fields come
back null with one UNAUTHORIZED_FIELD_OR_TYPE error per path; ``reject`` refuses the
whole operation listing the paths; ``dry_run`` denies nothing and lists what it would.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, FragmentDefinitionNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from resolvers.access import ALLOW, MASK
from resolvers.context import RequestContext
from resolvers.selection import coordinates

UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"


def denied_paths(ctx: RequestContext, schema: Any, operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
                 policed: frozenset[str]) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    seen: set[tuple[str, ...]] = set()
    blocked: list[tuple[str, ...]] = []
    for tname, fname, path, _node in coordinates(schema, operation, fragments, variables):
        if tname not in policed or any(path[:len(b)] == b for b in blocked):
            continue
        coord = f"{tname}.{fname}"
        if ctx.access.effect(coord) not in (ALLOW, MASK):
            blocked.append(path)
            if path not in seen:
                seen.add(path)
                out.append((path, coord))
    return out


def unauthorized_error(path: tuple[str, ...], coord: str) -> GraphQLError:
    return GraphQLError(f"not authorized to read {coord}", path=list(path),
                        extensions={"code": UNAUTHORIZED, "coordinate": coord})


class AuthorizeDocument(SchemaExtension):
    policed: frozenset[str] = frozenset()

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if not isinstance(ctx, RequestContext) or ec.graphql_document is None:
            yield
            return
        doc = ec.graphql_document
        ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        op = next((o for o in ops if ec.operation_name is None or (o.name and o.name.value == ec.operation_name)), None)
        fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
        denied = [] if op is None else denied_paths(ctx, ec.schema._schema, op, fragments, ec.variables or {},
                                                     self.policed)
        self.denied = denied
        if denied and ctx.access.mode == "reject":
            ec.result = ExecutionResult(data=None, errors=[GraphQLError(
                "operation refused: it selects fields this role may not read", extensions={
                    "code": UNAUTHORIZED, "paths": [list(p) for p, _ in denied],
                    "coordinates": sorted({c for _, c in denied})})])
            yield
            return
        yield
        result = ec.result
        if not isinstance(result, ExecutionResult):
            return
        extra: list[GraphQLError] = []
        if ctx.access.mode != "dry_run":
            extra += [unauthorized_error(p, c) for p, c in denied]
        for path, err in ctx.errors:
            extra.append(GraphQLError(err.message, path=list(path), extensions=err.extensions()))
        if extra:
            result.errors = [*(result.errors or []), *extra]

    def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context.context
        out: dict[str, Any] = {}
        if not isinstance(ctx, RequestContext):
            return out
        if ctx.access.mode == "dry_run" and getattr(self, "denied", None):
            out["wouldDeny"] = [{"path": list(p), "coordinate": c} for p, c in self.denied]
        return out
