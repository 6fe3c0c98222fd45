"""Rejecting abusive documents before any work: tokens (at parse), depth and aliases.

Introspection (``__schema``, ``__type``) does not count toward depth: the standard full
introspection query nests ``ofType`` deeper than any data query may, and its size is
bounded by the schema. The fragments it uses (``TypeRef``) are only reached from it.
"""
from __future__ import annotations

from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    Visitor,
    parse,
    visit,
)
from graphql.language import Lexer

from common.errors import BadRequestError, ParseError, QueryLimitError


def parse_limited(query: str, max_tokens: int, max_depth: int) -> DocumentNode:
    """Parse with the token cap; a document refused for its size or nesting is QUERY_TOO_COMPLEX, not a syntax error.

    graphql-core aborts such documents with a plain syntax error (too many tokens, or nested
    deeper than the parser's recursion allows), so on that path only the document is lexed
    again to tell a limit from a real syntax error.
    """
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLSyntaxError as e:
        over = _over_limit(query, max_tokens, max_depth)
        if over is not None:
            raise over from None
        raise ParseError(f"the query is not valid GraphQL: {e.message}") from None


def _over_limit(query: str, max_tokens: int, max_depth: int) -> QueryLimitError | None:
    lexer = Lexer(Source(query))
    tokens = depth = parens = 0
    try:
        while True:
            prev = lexer.token
            tok = lexer.advance()
            t = prev.next
            while t is not None and t is not tok:  # comments count, as they do for the parser's cap
                tokens += 1
                t = t.next
            if tok.kind is TokenKind.EOF:
                return None
            tokens += 1
            if tokens > max_tokens:
                return QueryLimitError(f"the document has more than {max_tokens} tokens", limit="tokens",
                                       max=max_tokens)
            if tok.kind is TokenKind.PAREN_L:
                parens += 1
            elif tok.kind is TokenKind.PAREN_R:
                parens -= 1
            elif tok.kind is TokenKind.BRACE_L and parens <= 0:  # a selection set, not an input object
                depth += 1
                if depth > max_depth + 1:
                    return QueryLimitError(f"the document is deeper than {max_depth} levels", limit="depth",
                                           max=max_depth)
            elif tok.kind is TokenKind.BRACE_R and parens <= 0:
                depth -= 1
    except GraphQLSyntaxError:
        return None


MAX_NUMBER_CHARS = 64  # no number a client may mean is longer; Python refuses int() of 4,300+ digits


class _LongNumbers(Visitor):
    def enter_int_value(self, node: IntValueNode, *_: object) -> None:
        _number(node.value)

    def enter_float_value(self, node: FloatValueNode, *_: object) -> None:
        _number(node.value)


def _number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadRequestError(f"a number literal is longer than {MAX_NUMBER_CHARS} characters", argument="query")


def check_literals(doc: DocumentNode) -> None:
    """Number literals are bounded before anything converts them (a 5,000-digit `first` was a 500)."""
    visit(doc, _LongNumbers())


def check(doc: DocumentNode, max_depth: int, max_aliases: int) -> None:
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    aliases = 0

    def depth(ss: SelectionSetNode | None, seen: frozenset[str]) -> int:
        nonlocal aliases
        if ss is None:
            return 0
        deepest = 0
        for node in ss.selections:
            if isinstance(node, FieldNode):
                if node.alias is not None:
                    aliases += 1
                if node.name.value in ("__schema", "__type"):
                    continue  # introspection is bounded by the schema, not by the data: its depth is free
                deepest = max(deepest, 1 + depth(node.selection_set, seen))
            elif isinstance(node, InlineFragmentNode):
                deepest = max(deepest, depth(node.selection_set, seen))
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in seen:
                    raise QueryLimitError("fragment cycle", limit="fragments")
                frag = frags.get(name)
                if frag is not None:
                    deepest = max(deepest, depth(frag.selection_set, seen | {name}))
            if deepest > max_depth:
                raise QueryLimitError(f"the document is deeper than {max_depth} levels", limit="depth", max=max_depth)
        return deepest

    for d in doc.definitions:
        if isinstance(d, OperationDefinitionNode):
            depth(d.selection_set, frozenset())
    if aliases > max_aliases:
        raise QueryLimitError(f"the document uses more than {max_aliases} aliases", limit="aliases", max=max_aliases)


def check_operation(doc: DocumentNode, op_name: str | None) -> OperationDefinitionNode:
    """The operation to run must be unambiguous: a client error (400), not a failure inside the executor."""
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    names = [d.name.value if d.name else None for d in ops]
    if not names:
        raise BadRequestError("the document has no operation to run", argument="operationName")
    if op_name is None and len(names) > 1:
        raise BadRequestError("the document has several operations: name one with `operationName`",
                              argument="operationName")
    if op_name is not None and op_name not in names:
        raise BadRequestError("`operationName` names no operation of the document", argument="operationName")
    return ops[0] if op_name is None else ops[names.index(op_name)]


@lru_cache(maxsize=256)
def checked_document(query: str, max_tokens: int, max_depth: int, max_aliases: int) -> DocumentNode:
    """``query`` parsed within the limits and checked (depth, aliases, literals): done once per distinct
    text while it stays among the last 256 (documents are immutable; a refused text is not kept)."""
    doc = parse_limited(query, max_tokens, max_depth)
    check(doc, max_depth, max_aliases)
    check_literals(doc)
    return doc

