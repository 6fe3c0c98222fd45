"""The cell key method with a keyed draw: how one finest stats cell's count is protected.

This is the cell key method of statistical disclosure control (ABS TableBuilder: Fraser &
Wooton 2005, "A proposed method for confidentialising tabular output to protect against
differencing"; ONS Census 2021, "Cell key perturbation"): every cell gets a fixed uniform
*cell key* u in [0, 1), and a public perturbation table (ptable) indexed by (true count,
cell key) gives the released value. Two choices differ from the textbook:

* The cell key is a keyed pseudo-random function (BLAKE2b in keyed mode, i.e. a MAC) of the
  cell's identity and true count, instead of the sum of per-record keys mod 1: it has the
  same distribution, needs only counts (so counting stays pushed down), and without the
  secret it is unpredictable.
* It is applied once, to the cells of one fixed finest lattice per subject; every coarser
  figure is a sum of protected finest cells (see resolvers/stats.py). Zeros are perturbed
  too: an empty cell is released exactly like a cell of one.

The ptable, for base B (= k) and shift BETA: the true count n is moved to
x = max(n, 1) - BETA and released as a multiple of B by unbiased random rounding of x:
B*ceil(x/B) with probability frac(x/B), else B*floor(x/B); the draw is u < frac(x/B).

    n = 0 or 1      0: 0.88    5: 0.12
    n = 5q + 2      5q: 0.68   5q+5: 0.32
    n = 5q + 3      5q: 0.48   5q+5: 0.52
    n = 5q + 4      5q: 0.28   5q+5: 0.72
    n = 5q + 1      5q: 0.88   5q+5: 0.12     (q >= 1)
    n = 5q          5q-5: 0.08 5q: 0.92       (q >= 1)

Every true count can be released as exactly two adjacent multiples of B, both with positive
probability, and every released value r can come from any true count in
[max(r - B + 1, 0), r + B] (with 0 in it whenever r = B): the release never pins a count.
E[released] = n - BETA for n >= 1 and 1 - BETA for n = 0; BETA is the share of empty
finest cells in the demo lattices (0.40 - 0.42), so totals stay unbiased on such data.
"""
from __future__ import annotations

import functools
import hashlib
import math

BETA = 0.4  # downward shift of non-empty cells that pays for lifting empty ones


def cell_key(secret: bytes, identity: str, n: int) -> float:
    """The cell key: uniform in [0, 1), fixed for the cell's identity, its true count and the secret."""
    key = secret if len(secret) <= 64 else hashlib.sha512(secret).digest()  # BLAKE2b takes at most 64 bytes
    digest = hashlib.blake2b(f"{identity}|{n}".encode(), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@functools.lru_cache(maxsize=1 << 18)  # the lattice of a district; a cell's value changes only with its count
def released(secret: bytes, identity: str, n: int, base: int) -> int:
    """The protected value of the finest cell ``identity`` holding n units."""
    return protect(n, cell_key(secret, identity, n), base)


def shifted(n: int) -> float:
    return max(n, 1) - BETA


def protect(n: int, u: float, base: int) -> int:
    """The ptable: the released value of a finest cell of true count n with cell key u."""
    x = shifted(n)
    low = base * math.floor(x / base)
    return low + base if u < (x - low) / base else low


def support(n: int, base: int) -> tuple[int, int]:
    """The two values a true count n can be released as (public: it does not need the key)."""
    low = base * math.floor(shifted(n) / base)
    return low, low + base


def preimage(released: int, base: int) -> range:
    """Every true count that can be released as the given value (public)."""
    lo = 0 if released <= base else released - base + 1
    return range(lo, released + base + 1)
