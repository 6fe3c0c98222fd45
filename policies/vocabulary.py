"""The words of a decision, one vocabulary for every place that shows one.

The engine decides an ``Effect`` for a field (how it leaves the gateway) with a ``Reason``.
Everything an auditor reads names that decision by a ``Word``: the cells of
``gateway policy matrix``, ``gateway policy explain``, ``gateway policy diff``, the legend
of the HTML matrix and the ``coordinates`` of an audit record (resolvers/audit_fields.py).
A cell's ``Label`` is the word plus the purposes that unlock it, if any:
``allow (health_service)``, ``allow (elderly_care_visit, subsidy_review)`` (either one),
``allow (resident_service, standing)`` (a standing purpose: in force undeclared).

>>> str(Label(Effect.MASK.word))
'masked'
>>> Label.parse("allow (resident_service, standing)").purposes
('resident_service',)
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Word(StrEnum):
    """A decision as the matrix, explain, diff and the audit record write it."""

    ALLOW = "allow"
    MASKED = "masked"
    AGGREGATE = "aggregate"
    DENIED = "denied"
    NO_GRANT = "no grant"
    USE = "use"

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_MEANING = {
    Word.ALLOW: "shown in full",
    Word.MASKED: "shown masked (e.g. 138****5678); cannot be used to filter, sort or group",
    Word.AGGREGATE: "never shown; usable only as a dimension of anonymous counts (stats)",
    Word.DENIED: "not shown: a deny rule, or a missing purpose, withholds it",
    Word.NO_GRANT: "not shown: no rule grants it (deny by default)",
    Word.USE: "may use this gateway feature",
}


class Effect(StrEnum):
    """What the engine decides for one field, for a whole request."""

    ALLOW = "allow"
    MASK = "mask"
    AGGREGATE = "aggregate"
    DENY = "deny"

    @property
    def word(self) -> Word:
        return _WORD_OF[self]

    @property
    def rank(self) -> int:
        """How much the effect reveals: deny 0, aggregate 1, mask 2, allow 3."""
        return _RANK[self]

    @property
    def visible(self) -> bool:
        return self in (Effect.ALLOW, Effect.MASK)


_WORD_OF = {Effect.ALLOW: Word.ALLOW, Effect.MASK: Word.MASKED, Effect.AGGREGATE: Word.AGGREGATE,
            Effect.DENY: Word.DENIED}
_RANK = {Effect.DENY: 0, Effect.AGGREGATE: 1, Effect.MASK: 2, Effect.ALLOW: 3}


class Reason(StrEnum):
    """Why the engine decided so (``gateway policy explain`` prints it)."""

    GRANTED = "granted"
    MASKED = "masked"
    AGGREGATE_ONLY = "aggregate_only"
    NO_GRANT = "no_grant"
    DENIED_BY_RULE = "denied_by_rule"
    PURPOSE_REQUIRED = "purpose_required"
    PURPOSE_NOT_ALLOWED = "purpose_not_allowed"


def word(effect: Effect, reason: Reason, capability: bool = False) -> Word:
    """The word for a decision: ``no grant`` when no rule grants it, ``use`` for a granted capability."""
    if reason is Reason.NO_GRANT:
        return Word.NO_GRANT
    if capability and effect is Effect.ALLOW:
        return Word.USE
    return effect.word


STANDING = "standing"


@dataclass(frozen=True)
class Label:
    """A matrix cell: the word, and the purposes that unlock a sensitive category (any one of them)."""

    word: Word
    purposes: tuple[str, ...] = ()
    standing: bool = False  # the (one) purpose is a standing purpose of the role: in force undeclared

    def __str__(self) -> str:
        if not self.purposes:
            return str(self.word)
        return f"{self.word} ({', '.join((*self.purposes, *([STANDING] if self.standing else [])))})"

    @classmethod
    def parse(cls, text: str) -> Label:
        head, _, rest = text.partition(" (")
        if not rest:
            return cls(Word(text))
        names = tuple(rest.rstrip(")").split(", "))
        standing = names[-1] == STANDING
        return cls(Word(head), names[:-1] if standing else names, standing)
