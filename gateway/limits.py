"""Rejecting abusive documents before any work: tokens (at parse), depth and aliases."""
from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    parse,
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


def check_operation(doc: DocumentNode, op_name: str | None) -> None:
    """The operation to run must be unambiguous: a client error (400), not a failure inside the executor."""
    names = [d.name.value if d.name else None for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if not names:
        raise BadRequestError("the document has no operation to run", argument="operationName")
    if op_name is None and len(names) > 1:
        raise BadRequestError("the document has several operations: name one with `operationName`",
                              argument="operationName")
    if op_name is not None and op_name not in names:
        raise BadRequestError("`operationName` names no operation of the document", argument="operationName")
