"""Where the next community canteen should open: demand per planning grid cell (docs/planning.md).

Demand is the residents aged 60 or more per 250 m grid cell, as the protected stats release them
(`stats(subject: PERSONS, groupBy: [GRID_CELL, AGE_BAND])`), so the plan reveals nothing a stats
answer does not. A canteen serves the cells whose centre lies within ``REACH_M`` of it (a walk of
about ten minutes for an elder). The proposed site is the cell whose reach covers the most demand
no existing canteen covers; the next proposals are chosen the same way, counting what the earlier
ones cover as served.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.grid import SIZE_M, centre, position

REACH_M = 500.0
ELDER_BANDS = ("AGE_60_69", "AGE_70_79", "AGE_80_PLUS")


@dataclass(frozen=True)
class Site:
    cell: str
    longitude: float
    latitude: float
    covers: int  # unserved demand within reach


def demand(cells: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """Residents aged 60+ per grid cell, from the stats cells (gridCell, ageBand, count)."""
    out: dict[str, int] = {}
    for c in cells:
        cell, band, n = c.get("gridCell"), c.get("ageBand"), c.get("count")
        if isinstance(cell, str) and cell.startswith("G250-") and band in ELDER_BANDS and isinstance(n, int):
            out[cell] = out.get(cell, 0) + n
    return out


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two (longitude, latitude) points on the local projection."""
    lat = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * 111_320.0 * math.cos(lat), (a[1] - b[1]) * 110_940.0)


def proposals(need: Mapping[str, int], canteens: Sequence[tuple[float, float]], n: int = 3) -> list[Site]:
    """The ``n`` cells that, one after another, cover the most demand no canteen covers yet."""
    centres = {c: centre(c) for c in need}
    served = {c for c, at in centres.items() if any(metres(at, k) <= REACH_M for k in canteens)}
    out: list[Site] = []
    for _ in range(n):
        best: Site | None = None
        for c, at in sorted(centres.items()):
            covers = sum(v for d, v in need.items() if d not in served and metres(at, centres[d]) <= REACH_M)
            if best is None or covers > best.covers:
                best = Site(c, round(at[0], 6), round(at[1], 6), covers)
        if best is None or best.covers == 0:
            break
        out.append(best)
        served |= {d for d in need if metres((best.longitude, best.latitude), centres[d]) <= REACH_M}
    return out


def render(need: Mapping[str, int], canteens: Sequence[tuple[str, float, float]], sites: Sequence[Site],
           out: Path, title: str) -> None:
    """A PNG heat map: demand per cell, existing canteens (triangles), proposed sites (stars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = [position(c)[0] for c in need]
    rows = [position(c)[1] for c in need]
    c0, r0 = min(cols) - 1, min(rows) - 1
    grid = np.full((max(rows) - r0 + 2, max(cols) - c0 + 2), np.nan)
    for c, v in need.items():
        col, row = position(c)
        grid[row - r0, col - c0] = v
    west, south = centre(f"G250-E{c0:04d}-N{r0:04d}")
    step_lon = SIZE_M / (111_320.0 * math.cos(math.radians(south)))
    step_lat = SIZE_M / 110_940.0
    extent = (west - step_lon / 2, west + (grid.shape[1] - 0.5) * step_lon,
              south - step_lat / 2, south + (grid.shape[0] - 0.5) * step_lat)
    fig, ax = plt.subplots(figsize=(10, 7), dpi=120)
    im = ax.imshow(grid, origin="lower", extent=extent, cmap="YlOrRd", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="residents aged 60+ per 250 m cell (protected counts)")
    for name, lon, lat in canteens:
        ax.plot(lon, lat, marker="^", markersize=13, color="#1f4e99", markeredgecolor="white")
        ax.annotate(name, (lon, lat), textcoords="offset points", xytext=(8, 6), fontsize=8, color="#1f4e99")
    for i, s in enumerate(sites, 1):
        ax.plot(s.longitude, s.latitude, marker="*", markersize=20, color="#117733", markeredgecolor="white")
        ax.annotate(f"proposal {i}: {s.covers} unserved", (s.longitude, s.latitude), textcoords="offset points",
                    xytext=(8, -12), fontsize=8, color="#117733")
    ax.ticklabel_format(useOffset=False)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
