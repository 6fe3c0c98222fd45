"""The planning grid: fixed 250 m squares over Shanghai, named by column and row.

Cell ``G250-E{col}-N{row}`` holds the points ``col * 250 <= x < (col + 1) * 250`` metres east and
``row * 250 <= y < (row + 1) * 250`` metres north of the origin (120.85 E, 30.67 N, south-west of
the city), on a local projection (a degree of longitude is 111,320 m times the cosine of the
origin's latitude). The same building is always in the same cell, whoever asks and whenever.
"""
from __future__ import annotations

import math
import re

SIZE_M = 250
LON0, LAT0 = 120.85, 30.67
M_PER_DEG_LAT = 110_940.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
NAME = re.compile(r"G250-E(\d{4})-N(\d{4})")


def cell_of(lon: float | None, lat: float | None) -> str | None:
    """The cell of a point (None outside the grid's 2,500 km square, or for a missing coordinate)."""
    if not (isinstance(lon, int | float) and isinstance(lat, int | float)):
        return None
    col = math.floor((lon - LON0) * M_PER_DEG_LON / SIZE_M)
    row = math.floor((lat - LAT0) * M_PER_DEG_LAT / SIZE_M)
    if not (0 <= col < 10_000 and 0 <= row < 10_000):
        return None
    return f"G250-E{col:04d}-N{row:04d}"


def centre(cell: str) -> tuple[float, float]:
    """(longitude, latitude) of a cell's centre."""
    m = NAME.fullmatch(cell)
    if m is None:
        raise ValueError(f"not a grid cell: {cell!r}")
    col, row = int(m.group(1)), int(m.group(2))
    return (LON0 + (col + 0.5) * SIZE_M / M_PER_DEG_LON, LAT0 + (row + 0.5) * SIZE_M / M_PER_DEG_LAT)


def position(cell: str) -> tuple[int, int]:
    """(column, row) of a cell."""
    m = NAME.fullmatch(cell)
    if m is None:
        raise ValueError(f"not a grid cell: {cell!r}")
    return int(m.group(1)), int(m.group(2))
