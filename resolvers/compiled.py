"""The compiled path: what lies under each root field, completed by a plan instead of field by field.

graphql-core resolves the root fields (arguments, variables, resolvers, their errors) as the
reference does. Every value under a root field is a tree of dicts the Executor has already
fetched, scoped and shaped (resolvers/execute.py), and every field below the root reads a
dict key; graphql-core would still build a resolve info, call strawberry's resolver wrapper
and complete each of those values one by one. Here an object selection compiles once into a
plan (response key, dict key, completer, nullability, nodes for error locations), cached in
a bounded LRU keyed by the selection's nodes and the values of the variables its @skip and
@include read, and the plan writes the response dicts directly.

The plans reproduce graphql-core's completion: response key order, aliases, fragments and
directives (graphql-core's own field collection is used), ``__typename``, leaf coercion (the
schema's own functions, or the identity where they would return the value unchanged), null
propagation to the nearest nullable position, and errors with the same messages, locations
and paths. Roles, purposes and the policy need no place in the key: scoping, denying and
masking happened in the records before completion, the same for both paths.

What a plan does not cover falls back to graphql-core for that subtree, counted in
``gateway_compiled_fallbacks{reason}``: selections it cannot compile (a field with its own
resolver or arguments, @defer, fragment arguments, error propagation turned off), and values
it does not expect (not a dict or list, a failed ``is_type_of``, an abstract value whose
runtime type is not one of its possible types). A fallback discards what the plan had
completed of that subtree (nothing has left: completion has no side effect but errors, which
are kept apart until the plan finishes) and graphql-core completes it from the same values.
"""
from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    GraphQLUnionType,
    located_error,
)
from graphql.pyutils import Path
from prometheus_client import Counter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.defer import Later

COMPLETIONS = Counter("gateway_completions", "Root field values completed, by path (compiled or reference)", ["path"])
FALLBACKS = Counter("gateway_compiled_fallbacks", "Subtrees the compiled path left to graphql-core, by reason",
                    ["reason"])
PLAN_CACHE_SIZE = 512
MIN_INT, MAX_INT = -(2**31), 2**31 - 1
MEMO_SIZE = 8192  # coerced values remembered per leaf type
MEMO_TYPES = frozenset({str, int, bool, dt.date})  # immutable values whose coercion depends on nothing else

# (value, path, errors) -> completed value; ``path`` is (prev, key, typename) down to a graphql-core Path
Completer = Callable[[Any, Any, list[tuple[GraphQLError, Any]]], Any]


class Unsupported(Exception):
    """The plan cannot complete this exactly: graphql-core does (the reason labels the metric)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_path(p: Any) -> Path:
    """A graphql-core Path from a plan's (prev, key, typename) chain."""
    chain = []
    while not isinstance(p, Path):
        chain.append(p)
        p = p[0]
    for _, key, typename in reversed(chain):
        p = p.add_key(key, typename)
    return p


def _null(parent: str, field: str) -> TypeError:
    return TypeError(f"Cannot return null for non-nullable field {parent}.{field}.")


_MEMOS: dict[int, tuple[Any, dict[tuple[type, Any], Any]]] = {}


def _memo(t: Any) -> dict[tuple[type, Any], Any]:
    """Coerced values of one leaf type (an enum's names, a date's ISO form): one table per type,
    shared by every plan, so it is bounded by ``MEMO_SIZE`` per type of each schema."""
    kept = _MEMOS.get(id(t))
    if kept is None or kept[0] is not t:
        kept = _MEMOS[id(t)] = (t, {})
    return kept[1]


def _leaf(t: Any) -> Completer:
    coerce = t.coerce_output_value
    fast: type | None = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}.get(t)

    def unchanged(v: Any) -> bool:  # where graphql-core's coercion returns the value itself
        if fast is not None:
            return type(v) is fast
        if t is GraphQLInt:
            return type(v) is int and MIN_INT <= v <= MAX_INT
        if t is GraphQLFloat:
            return type(v) is float and math.isfinite(v)
        return False

    memo = _memo(t)

    def complete(v: Any, path: Any, errors: list[Any]) -> Any:
        if unchanged(v):
            return v
        try:
            return memo[type(v), v]
        except (KeyError, TypeError):  # not seen yet, or not hashable
            pass
        out = coerce(v)
        if out is None:
            raise TypeError(f"Expected `{t}.coerce_output_value({v!r})` to return non-nullable value, "
                            f"returned: None")
        if len(memo) < MEMO_SIZE and type(v) in MEMO_TYPES:
            memo[type(v), v] = out
        return out

    if fast is not None:  # the common case without the closure call
        def complete_fast(v: Any, path: Any, errors: list[Any]) -> Any:
            return v if type(v) is fast else complete(v, path, errors)
        return complete_fast
    return complete


class Compiler:
    """Compiles object selections against one schema; plans are shared by every request."""

    def __init__(self, size: int = PLAN_CACHE_SIZE) -> None:
        self.plans: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Completer]] = OrderedDict()
        self.size = size

    def plan(self, ec: Any, t: GraphQLObjectType, details: Any) -> Completer:
        nodes = tuple(d.node for d in details)
        key = (t.name, tuple(map(id, nodes)), _directive_values(ec))
        hit = self.plans.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], nodes, strict=True)):
            self.plans.move_to_end(key)
            return hit[1]
        done = _Build(ec).object(t, details)
        self.plans[key] = (nodes, done)
        if len(self.plans) > self.size:
            self.plans.popitem(last=False)
        return done


def _directive_values(ec: Any) -> tuple[Any, ...]:
    """The values of the variables the operation's directives read (they change the collected fields)."""
    names = getattr(ec, "_directive_vars", None)
    if names is None:
        names = ec._directive_vars = _directive_variables(ec)
    coerced = ec.variable_values.coerced
    return tuple((n, repr(coerced.get(n))) for n in names)


def _directive_variables(ec: Any) -> tuple[str, ...]:
    from graphql import VariableNode, visit
    from graphql.language import Visitor

    found: set[str] = set()

    class Directives(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> None:
            for arg in node.arguments or ():
                if isinstance(arg.value, VariableNode):
                    found.add(arg.value.name.value)

    visit(ec.operation, Directives())
    for frag in ec.fragment_definitions.values():
        visit(frag, Directives())
    return tuple(sorted(found))


class _Build:
    """One compilation: the object plans of a selection, recursively."""

    def __init__(self, ec: Any) -> None:
        self.ec = ec

    def object(self, t: GraphQLObjectType, details: Any) -> Completer:
        ec = self.ec
        if not ec.error_propagation:
            raise Unsupported("error_propagation")
        grouped, deferred, _ = ec.collect_subfields(t, details)
        if deferred:
            raise Unsupported("defer")
        tname = t.name
        fields: list[tuple[str, str, Completer | None, bool, list[Any]]] = []
        for key, group in grouped.items():
            if any(d.fragment_variable_values is not None or d.defer_usage is not None for d in group):
                raise Unsupported("fragment_arguments")
            name = group[0].node.name.value
            nodes = [d.node for d in group]
            if name == "__typename":
                fields.append((key, name, None, True, nodes))
                continue
            fdef = t.fields.get(name)
            if fdef is None:
                raise Unsupported("meta_field")
            sdef = fdef.extensions.get("strawberry-definition")
            if (sdef is None or sdef.base_resolver is not None or sdef.extensions or sdef.permission_classes
                    or fdef.args):
                raise Unsupported("resolver")
            ftype = fdef.type
            nonnull = isinstance(ftype, GraphQLNonNull)
            inner = ftype.of_type if nonnull else ftype
            fields.append((key, sdef.python_name, self.value(inner, group, tname, name), nonnull, nodes))
        return _object(t, fields)

    def value(self, t: Any, group: Any, parent: str, field: str) -> Completer:
        """The completer of a value of nullable type ``t`` (nulls are handled by the caller)."""
        if isinstance(t, GraphQLList):
            item = t.of_type
            nonnull = isinstance(item, GraphQLNonNull)
            return _list(self.value(item.of_type if nonnull else item, group, parent, field), nonnull,
                         [d.node for d in group], parent, field)
        if isinstance(t, GraphQLObjectType):
            return self.object(t, group)
        if isinstance(t, (GraphQLInterfaceType, GraphQLUnionType)):
            return _abstract(self, t, group)
        return _leaf(t)


def _at(sub: Completer, v: Any, here: Any, nonnull: bool, nodes: list[Any], parent: str, field: str,
        errors: list[tuple[GraphQLError, Any]]) -> Any:
    """One position (a field's value, a list item) as graphql-core completes it: a failure, a null where
    none may be included, becomes an error located here; at a non-null position it goes up to the parent,
    at a nullable one it is recorded and the value is null."""
    try:
        if v is None:
            if nonnull:
                raise _null(parent, field)
            return None
        return sub(v, here, errors)
    except Unsupported:
        raise
    except Exception as e:  # noqa: BLE001  # as graphql-core: any failure is a located field error
        err = located_error(e, nodes, to_path(here).as_list())
        if nonnull:
            raise err from None
        errors.append((err, here))
        return None


def _object(t: GraphQLObjectType, fields: list[tuple[str, str, Completer | None, bool, list[Any]]]) -> Completer:
    tname = t.name
    is_type_of = t.is_type_of

    def complete(value: Any, path: Any, errors: list[Any]) -> dict[str, Any]:
        if type(value) is not dict:
            raise Unsupported("not_a_dict")
        if is_type_of is not None and not is_type_of(value, None):  # type: ignore[arg-type]  # ours ignore info
            raise Unsupported("is_type_of")
        out: dict[str, Any] = {}
        get = value.get
        for key, name, sub, nonnull, nodes in fields:
            if sub is None:
                out[key] = tname
                continue
            out[key] = _at(sub, get(name), (path, key, tname), nonnull, nodes, tname, name, errors)
        return out

    return complete


def _list(item: Completer, nonnull: bool, nodes: list[Any], parent: str, field: str) -> Completer:
    def complete(value: Any, path: Any, errors: list[Any]) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise Unsupported("not_a_list")
        out: list[Any] = []
        append = out.append
        for i, x in enumerate(value):
            append(_at(item, x.value if type(x) is Later else x, (path, i, None), nonnull, nodes, parent, field,
                       errors))
        return out

    return complete


def _abstract(build: _Build, t: Any, group: Any) -> Completer:
    """Records name their type in ``__typename`` (what graphql-core's default type resolver reads)."""
    schema = build.ec.schema
    by_type: dict[str, Completer] = {}

    def complete(value: Any, path: Any, errors: list[Any]) -> Any:
        name = value.get("__typename") if type(value) is dict else None
        if not isinstance(name, str):
            raise Unsupported("runtime_type")
        sub = by_type.get(name)
        if sub is None:
            runtime = schema.get_type(name)
            if not isinstance(runtime, GraphQLObjectType) or not schema.is_sub_type(t, runtime):
                raise Unsupported("runtime_type")
            sub = by_type[name] = build.object(runtime, group)
        return sub(value, path, errors)

    return complete


class CompiledExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with object values completed by a cached plan when the request asks."""

    compiler = Compiler()

    def complete_object_value(self, return_type: GraphQLObjectType, field_details_list: Any, info: Any, path: Path,
                              result: Any, position_context: Any) -> Any:
        if not getattr(self.context_value, "compiled", False):
            return super().complete_object_value(return_type, field_details_list, info, path, result,
                                                 position_context)
        errors: list[tuple[GraphQLError, Any]] = []
        try:
            plan = self.compiler.plan(self, return_type, field_details_list)
            out = plan(result, path, errors)
        except Unsupported as e:
            FALLBACKS.labels(e.reason).inc()
            COMPLETIONS.labels("reference").inc()
            return super().complete_object_value(return_type, field_details_list, info, path, result,
                                                 position_context)
        except Exception:  # a null reached a non-null position: what was recorded before it stays
            self._keep(errors)
            raise
        COMPLETIONS.labels("compiled").inc()
        self._keep(errors)
        return out

    def _keep(self, errors: list[tuple[GraphQLError, Any]]) -> None:
        for err, here in errors:
            self.collected_errors.add(err, to_path(here))
