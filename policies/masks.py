"""Server-side masks for fields a role may see only masked.

Each mask takes the raw value and returns the masked one. They never return more of
the input than they are meant to keep: short or odd input collapses to stars rather
than leaking through. ``None`` passes through as ``None`` (a null stays a null).
"""
from __future__ import annotations

import re
from collections.abc import Callable

STAR = "*"


def mask_id_number(value: str | None) -> str | None:
    """Keep the first 6 (region) and last 4 characters: ``310107********1234``."""
    if value is None:
        return None
    s = str(value)
    if len(s) <= 10:  # keeping 6 + 4 would show all of it
        return STAR * len(s)
    return s[:6] + STAR * (len(s) - 10) + s[-4:]


def mask_phone(value: str | None) -> str | None:
    """Keep the first 3 and last 4 characters: ``138****5678``."""
    if value is None:
        return None
    s = str(value)
    if len(s) < 8:  # keeping 7 of fewer than 8 characters would reveal (nearly) all of it
        return STAR * len(s)
    return s[:3] + STAR * (len(s) - 7) + s[-4:]


def mask_name(value: str | None) -> str | None:
    """Keep the surname (first character) and the last one: ``张*明``, ``张*``, ``欧**明``."""
    if value is None:
        return None
    s = str(value).strip()
    if len(s) <= 1:
        return STAR * len(s)
    if len(s) == 2:
        return s[0] + STAR
    return s[0] + STAR * (len(s) - 2) + s[-1]


_DIGIT = r"[0-9０-９]"
_NUM = rf"(?:{_DIGIT}+|[一二三四五六七八九十百零]+)[A-Za-z]?"
# Building level, unambiguous: 12号楼, 12幢, 12栋, 12座.
_BUILDING = re.compile(rf"{_NUM}\s*(?:号楼|幢|栋|座)")
# Building level in the "…弄12号502室" form: a house number followed by the room part.
_HOUSE_NO = re.compile(rf"{_NUM}\s*号")
# Below building level; used only when no building number is found at all.
_BELOW = re.compile(rf"{_NUM}\s*(?:单元|室|层|楼|户)|-{_DIGIT}+|{_DIGIT}+$")


def mask_address(value: str | None) -> str | None:
    """Cut an address after its building number, dropping unit, floor and room.

    ``上海市普陀区长寿路12弄5号502室`` -> ``上海市普陀区长寿路12弄5号``;
    ``某小区12号楼3单元502室`` -> ``某小区12号楼``.
    """
    if value is None:
        return None
    s = str(value).strip()
    m = _BUILDING.search(s)
    if m is not None:
        return s[: m.end()]
    last = None
    for last in _HOUSE_NO.finditer(s):
        pass
    if last is not None:
        return s[: last.end()]
    below = _BELOW.search(s)
    if below is not None:
        return s[: below.start()].rstrip()
    return s  # no number at all: nothing below building level to drop


MASKS: dict[str, Callable[[str | None], str | None]] = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "name": mask_name,
    "address": mask_address,
}


def apply_mask(kind: str, value: str | None) -> str | None:
    """Mask ``value`` with the named mask; an unknown kind blanks the value (fail closed)."""
    fn = MASKS.get(kind)
    if fn is None:
        return None if value is None else STAR * len(str(value))
    return fn(value)
