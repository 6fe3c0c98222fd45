"""Check-digit algorithms and the fixed reference date of the demo world."""
from __future__ import annotations

import datetime as dt

AS_OF = dt.date(2026, 11, 22)
"""The demo's "today": ages, 'last 90 days' of readings and event dates are relative to it."""

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number (upper-case X)."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def id_number_valid(value: str) -> bool:
    v = value.strip().upper()
    return len(v) == 18 and v[:17].isdigit() and id_check_char(v[:17]) == v[17]


CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_check_char(body8: str) -> str:
    """GB 11714 organisation-code check character for an 8-character body."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS))
    r = 11 - total % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def credit_check_char(first17: str) -> str:
    """GB 32100 check character of an 18-character unified social credit code."""
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def credit_code_valid(value: str) -> bool:
    v = value.strip().upper()
    return (
        len(v) == 18
        and all(c in CREDIT_CHARSET for c in v)
        and credit_check_char(v[:17]) == v[17]
    )


def fmt_date(d: dt.date, style: int) -> str:
    """0: 2021-03-05, 1: 2021/3/5, 2: 20210305."""
    if style == 0:
        return d.isoformat()
    if style == 1:
        return f"{d.year}/{d.month}/{d.day}"
    return d.strftime("%Y%m%d")
