"""schema/schema.graphql is the checked-in contract: it must be what the code exports."""
from __future__ import annotations

from pathlib import Path

from resolvers.schema_def import sdl

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_sdl_is_fresh() -> None:
    assert (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8") == sdl(), \
        "schema/schema.graphql is stale: run `gateway schema export`"


def test_department_fields_are_nullable_and_say_their_source() -> None:
    text = sdl()
    assert "Source: Health commission (health). Sensitive: health." in text
    assert "idNumber: String\n" in text and "id: ID!\n" in text
