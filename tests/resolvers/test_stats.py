"""Units of the stats release: the ptable, the keyed protected table, age bands by exact age."""
from __future__ import annotations

import datetime as dt

import pytest

from adapters.base import Range
from resolvers.perturbation import BETA, cell_key, preimage, protect, released, support
from resolvers.stats import protected_table
from resolvers.stats_lattice import BANDS, band_of, band_range, cells_of
from schema.enums import AgeBand, Gender
from schema.inputs import StatsSubject

K = 5
DRAWS = [i / 10_000 for i in range(10_000)]  # the cell key is uniform: a fine grid stands for it


@pytest.mark.parametrize("n", range(23))
def test_ptable_releases_two_adjacent_multiples_of_k_and_is_nearly_unbiased(n: int) -> None:
    out = [protect(n, u, K) for u in DRAWS]
    assert set(out) == set(support(n, K)) and all(r % K == 0 and abs(r - n) <= K for r in out)
    assert sum(out) / len(out) == pytest.approx(max(n, 1) - BETA, abs=1e-3)
    assert all(n in preimage(r, K) for r in out)


def test_an_empty_cell_is_released_exactly_like_a_cell_of_one() -> None:
    assert [protect(0, u, K) for u in DRAWS] == [protect(1, u, K) for u in DRAWS]
    assert 0 < sum(protect(0, u, K) == K for u in DRAWS) < len(DRAWS)  # 0 shows as k sometimes
    assert 0 in preimage(K, K) and set(range(1, K)) <= set(preimage(0, K))


def test_every_released_value_leaves_several_true_counts() -> None:
    for r in range(0, 200, K):
        candidates = [n for n in range(220) if r in support(n, K)]
        assert candidates == list(preimage(r, K)) and len(candidates) >= K


def test_the_protected_table_is_keyed_and_deterministic() -> None:
    cells = cells_of(StatsSubject.PERSONS, ["310107005001001001", "310107005001001002"])
    assert len(cells) == 2 * 6 * 2 * 2
    true = {c: i % 7 for i, c in enumerate(cells)}
    a = protected_table(b"a" * 32, StatsSubject.PERSONS, cells, true, K)
    assert a == protected_table(b"a" * 32, StatsSubject.PERSONS, cells, true, K)
    assert a != protected_table(b"b" * 32, StatsSubject.PERSONS, cells, true, K)
    assert set(a) == set(cells) and all(v in support(true[c], K) for c, v in a.items())
    assert released(b"a" * 32, "PERSONS|x", 3, K) == protect(3, cell_key(b"a" * 32, "PERSONS|x", 3), K)


@pytest.mark.parametrize("today", [dt.date(2028, 2, 29), dt.date(2027, 2, 28), dt.date(2026, 3, 1),
                                   dt.date(2026, 11, 22), dt.date(2026, 12, 31), dt.date(2027, 1, 1)])
def test_age_bands_are_by_exact_age_and_match_the_pushed_down_ranges(today: dt.date) -> None:
    edges = [dt.date(today.year - a, 1, 1) for a in (0, 18, 35, 60, 70, 80)]
    days = sorted({e + dt.timedelta(days=d) for e in edges for d in range(-400, 400)
                   if e + dt.timedelta(days=d) <= today})  # two years around each band's edge
    for day in days:
        band = band_of(day, today)
        age = today.year - day.year - ((today.month, today.day) < (day.month, day.day))
        lo, hi = BANDS[band]  # type: ignore[index]
        assert lo <= age and (hi is None or age <= hi), (day, today, band)
        within = [b for b in AgeBand if _contains(band_range(b, today), day)]
        assert within == [band], (day, today, within)
    assert band_of(today + dt.timedelta(days=1), today) is None  # born tomorrow: in no band
    assert band_of(None, today) is None


def test_the_lattice_covers_every_enum_value() -> None:
    cells = cells_of(StatsSubject.PERSONS, ["b"])
    assert {c[1] for c in cells} == set(AgeBand) and {c[2] for c in cells} == set(Gender)
    assert {c[3] for c in cells} == {False, True}


def _contains(r: Range, day: dt.date) -> bool:
    lo, hi = r.lo, r.hi
    return (lo is None or lo <= day) and (hi is None or day <= hi)
