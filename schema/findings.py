"""What the "data finds people" roots answer: the tag catalogue, the eligibility rules and the
silent-minority worklist (definitions in schema/tags.py; resolvers/tags.py, resolvers/worklists.py)."""
from __future__ import annotations

import datetime as dt

import strawberry

from schema.types import Person


@strawberry.type(description="A tag of the catalogue (tags/*.yaml): a named set of persons or houses.")
class TagDefinition:
    name: str = strawberry.field(description="What Person.tags and House.tags list and filters name.")
    subject: str = strawberry.field(description="Person or House.")
    title: str = strawberry.field(description="Its name in the committees' words.")
    description: str
    owner: str = strawberry.field(description="Who answers for the definition.")
    definition: str = strawberry.field(description="The definition (docs/tags.md).")
    reads: list[str] = strawberry.field(description="Schema coordinates it reads, those of the tags it names too.")
    usable: bool = strawberry.field(description="Whether the caller may read all of them in full, so use the tag.")


@strawberry.type(description="An eligibility rule (eligibility/*.yaml): who qualifies for a benefit and does not receive it yet.")
class EligibilityRule:
    name: str = strawberry.field(description="What Query.eligible takes.")
    title: str
    description: str
    owner: str = strawberry.field(description="Who answers for the rule.")
    benefit: str
    qualifies: str = strawberry.field(description="Who qualifies (a tag definition, docs/tags.md).")
    receives: str = strawberry.field(description="Who receives the benefit already.")
    reads: list[str] = strawberry.field(description="Schema coordinates the rule reads.")
    usable: bool = strawberry.field(description="Whether the caller may read all of them in full, so use the rule.")


@strawberry.type(description="A resident on the silent-minority worklist: vulnerable, and not visited lately.")
class WorklistItem:
    person: Person | None
    reasons: list[str] = strawberry.field(description="The vulnerability tags the person is in (names, never the "
                                          "values behind them).")
    lastVisit: dt.date | None = strawberry.field(description="Day of the last visit on record; null: never visited.")
    daysSinceVisit: int | None = strawberry.field(description="Days since that visit; null: never visited.")
