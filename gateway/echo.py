"""No error message carries more than ``MAX_ECHO`` characters of caller input.

graphql-core and our own errors quote the values, names and aliases they refuse. Before an
error leaves, every long piece of the caller's input (a string or name of the document, a
string of the variables), in each form a message may quote it, is cut to its first
``MAX_ECHO - 1`` characters and an ellipsis.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLSyntaxError, Source, TokenKind
from graphql.language import Lexer
from graphql.language.print_string import print_string

MAX_ECHO = 64
_LONG = (TokenKind.STRING, TokenKind.BLOCK_STRING, TokenKind.NAME, TokenKind.COMMENT)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def long_inputs(query: str, variables: Any) -> list[str]:
    """The caller's strings longer than MAX_ECHO, each in every form a message may quote it."""
    pieces: set[str] = {s for s in _strings(variables) if len(s) > MAX_ECHO}
    lexer = Lexer(Source(query))
    pos = 0
    try:
        while (tok := lexer.advance()).kind is not TokenKind.EOF:
            pos = tok.end
            if tok.kind in _LONG and tok.value and len(tok.value) > MAX_ECHO:
                pieces.add(tok.value)
    except GraphQLSyntaxError:  # the rest cannot be lexed: it counts as one piece of input
        pieces.add(query[pos:].lstrip())
    if len(query) > MAX_ECHO:
        pieces.add(query)
    forms: set[str] = set()
    for p in pieces:
        forms.update((p, print_string(p)[1:-1], json.dumps(p)[1:-1], json.dumps(p, ensure_ascii=False)[1:-1],
                      repr(p)[1:-1]))
    return sorted((f for f in forms if len(f) > MAX_ECHO), key=len, reverse=True)


def clip(message: str, pieces: list[str]) -> str:
    """``message`` with each quoted run of a long input cut short."""
    if len(message) <= MAX_ECHO or not pieces:
        return message
    for p in pieces:
        head = p[:MAX_ECHO]
        start = message.find(head)
        while start >= 0:
            end = start + MAX_ECHO
            while end < len(message) and end - start < len(p) and message[end] == p[end - start]:
                end += 1
            message = message[:start] + p[:MAX_ECHO - 1] + "…" + message[end:]
            start = message.find(head, start + MAX_ECHO)
    return message
