"""Dates the whole gateway computes the same way."""
from __future__ import annotations

import datetime as dt
from typing import Any


def age_on(born: Any, today: dt.date) -> int | None:
    """Age in whole years on ``today`` (a birthday not yet reached this year does not count); None
    when the date of birth is not a date."""
    if not isinstance(born, dt.date):
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def years_ago(today: dt.date, n: int) -> dt.date:
    """The same day ``n`` years before ``today`` (28 February for a 29th)."""
    try:
        return today.replace(year=today.year - n)
    except ValueError:
        return today.replace(year=today.year - n, day=28)
