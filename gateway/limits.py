"""Rejecting abusive documents before any work: tokens (at parse), depth and aliases."""
from __future__ import annotations

from graphql import (
    DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, OperationDefinitionNode,
    SelectionSetNode,
)

from common.errors import QueryLimitError


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
