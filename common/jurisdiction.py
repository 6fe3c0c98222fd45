"""Jurisdiction codes: the six-level administrative path as fixed-width digit segments.

district (6) > subdistrict (+3) > residents' committee (+3) > compound (+3) > building (+3).
A caller's row scope is "records whose code starts with mine"; because every segment
has a fixed width and a scope must be a whole-segment code, ``startswith`` on a valid
scope is whole-segment matching.
"""
from __future__ import annotations

from common.errors import InvalidJurisdictionError

LEVELS: dict[str, int] = {
    "district": 6,
    "subdistrict": 9,
    "committee": 12,
    "compound": 15,
    "building": 18,
}
LENGTHS = frozenset(LEVELS.values())


def validate_scope(code: str) -> str:
    """Return ``code`` if it is a whole-segment jurisdiction code, else raise."""
    if not (code.isascii() and code.isdigit() and len(code) in LENGTHS):
        raise InvalidJurisdictionError(
            "jurisdiction must be a 6, 9, 12, 15 or 18 digit administrative code",
            jurisdiction=code if len(code) <= 32 else code[:32],
        )
    return code


def within(code: str | None, scope: str) -> bool:
    """True when ``code`` (a record's place code) lies inside ``scope``."""
    return code is not None and code.startswith(scope)


def truncate(code: str | None, level: str) -> str | None:
    """The ancestor of ``code`` at ``level`` (None when ``code`` is coarser)."""
    n = LEVELS[level]
    if code is None or len(code) < n:
        return None
    return code[:n]
