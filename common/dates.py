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
