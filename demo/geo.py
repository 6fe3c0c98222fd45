"""Where the demo's buildings stand, and its elderly-service facilities (canteens, day care).

The subdistrict is laid out west to east by committee, 2.4 km by 1.5 km around Changshou Road
(WGS84 degrees). Within a committee's block the old walk-up estates stand to the west and the
newer estates (built from 1998) to the east. The three community canteens opened years ago in
the old estates of the west; the newer east has aged since, and has none. Positions come from
the codes alone (a hash), so the rest of the demo data is unchanged by them.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

from demo.world import Building, Compound, World

LON0, LAT0 = 121.418, 31.236  # the subdistrict's south-west corner
WIDTH_M, HEIGHT_M = 2400.0, 1500.0
M_PER_DEG_LAT = 110_940.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def _degrees(x_m: float, y_m: float) -> tuple[float, float]:
    return round(LON0 + x_m / M_PER_DEG_LON, 6), round(LAT0 + y_m / M_PER_DEG_LAT, 6)


def compound_xy(world: World, c: Compound) -> tuple[float, float]:
    """The compound's centre in metres from the south-west corner."""
    committees = sorted(x.code for x in world.committees)
    i = committees.index(c.committee.code)
    block = WIDTH_M / len(committees)
    rng = random.Random(f"geo:{c.code}")
    east = 0.55 if c.built_year >= 1998 else 0.0  # newer estates in the east half of the block
    x = block * (i + east + rng.uniform(0.05, 0.4))
    return x, rng.uniform(120.0, HEIGHT_M - 120.0)


def building_position(world: World, b: Building, centres: dict[str, tuple[float, float]]) -> tuple[float, float]:
    cx, cy = centres[b.compound.code]
    rng = random.Random(f"geo:{b.code}")
    return _degrees(cx + rng.uniform(-70.0, 70.0), cy + rng.uniform(-70.0, 70.0))


def centres(world: World) -> dict[str, tuple[float, float]]:
    return {c.code: compound_xy(world, c) for c in world.compounds}


def facilities(world: World) -> Sequence[tuple[str, str, str, str, float, float, str]]:
    """(id, name, kind, address, longitude, latitude, committee code): three canteens (长者食堂) in old
    estates of the west third, and a day-care centre (日间照料中心) per committee."""
    at = centres(world)
    old = sorted((c for c in world.compounds if c.built_year < 1998), key=lambda c: at[c.code][0]) or \
        sorted(world.compounds, key=lambda c: at[c.code][0])  # a small demo may have no old estate
    west = old[: max(3, len(old) // 3)]
    spots = sorted({round(j * (len(west) - 1) / 2) for j in range(3)}) if west else []
    picks = [west[i] for i in spots]
    out = []
    for j, c in enumerate(picks, 1):
        lon, lat = _degrees(*at[c.code])
        out.append((f"F{j:03d}", f"{c.road}长者食堂", "长者食堂", f"{c.road}{c.lane}弄", lon, lat, c.committee.code))
    for j, committee in enumerate(sorted(world.committees, key=lambda x: x.code), 1):
        mine = [c for c in world.compounds if c.committee.code == committee.code]
        if mine:
            c = mine[0]
            lon, lat = _degrees(*at[c.code])
            out.append((f"D{j:03d}", f"{committee.name.removesuffix('居委会')}日间照料中心", "日间照料中心",
                        f"{c.road}{c.lane}弄", lon, lat, committee.code))
    return out
