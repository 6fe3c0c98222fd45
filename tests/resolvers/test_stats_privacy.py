"""Attacks on the stats release with nothing but released answers and an integer programming solver.

The attacker is the district analyst: they may ask every grouping of every dimension with
and without place filters. They know the public method (policies/README.md): every released
count is a sum of protected finest cells, each a multiple of k that a true count n can
produce only if it is in ``support(n)``. For a target (a small cell, a resident's attribute)
the solver (scipy's HiGHS MILP) minimises and maximises the true size over every table of
true counts consistent with all answers; if min == max the answers pin it.

The same solver is pointed at a deliberately weak release (the former one: empty cells left
out, cells flagged suppressed when their TRUE count is under k) to show that it pins cells
there, so a regression that leaks would fail here.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from resolvers.perturbation import cell_key, preimage, protect, support
from tests.helpers import SUBDISTRICT, Api

K = 5
PLACE_LEN = {"COMMITTEE": 12, "COMPOUND": 15, "BUILDING": 18}
VALUES: dict[str, list[Any]] = {
    "AGE_BAND": ["AGE_0_17", "AGE_18_34", "AGE_35_59", "AGE_60_69", "AGE_70_79", "AGE_80_PLUS"],
    "GENDER": ["MALE", "FEMALE"], "LIVING_ALONE": [False, True],
    "PROPERTY_TYPE": ["COMMERCIAL", "PUBLIC_RENTAL", "OLD_PUBLIC", "RELOCATION"],
    "SHOP_CATEGORY": ["CATERING", "RETAIL", "SERVICES", "PHARMACY", "OTHER"],
}
DIMS = {"PERSONS": ["AGE_BAND", "GENDER", "LIVING_ALONE"], "HOUSES": ["PROPERTY_TYPE"], "SHOPS": ["SHOP_CATEGORY"]}
FIELD = {"COMMITTEE": "committee", "COMPOUND": "compound", "BUILDING": "building", "AGE_BAND": "ageBand",
         "GENDER": "gender", "LIVING_ALONE": "livingAlone", "PROPERTY_TYPE": "propertyType",
         "SHOP_CATEGORY": "shopCategory"}
QUERY = """query($s: StatsSubject!, $g: [StatsDimension!]!, $f: PlaceFilter) {
  stats(subject: $s, groupBy: $g, filter: $f) { k total suppressedCells
    cells { committee compound building ageBand gender livingAlone propertyType shopCategory count suppressed } } }"""
Finest = tuple[Any, ...]  # (building, *dimension values)
Answer = tuple[str, tuple[str, ...], dict[str, str] | None, dict[str, Any]]  # subject, groupBy, filter, result


def subsets(xs: Sequence[str]) -> list[tuple[str, ...]]:
    return [c for r in range(len(xs) + 1) for c in itertools.combinations(xs, r)]


def ask(api: Api, tok: str, requests: Iterable[tuple[str, tuple[str, ...], dict[str, str] | None]]) -> list[Answer]:
    def one(req: tuple[str, tuple[str, ...], dict[str, str] | None]) -> Answer:
        s, g, f = req
        body = api.gql(QUERY, tok, {"s": s, "g": list(g), "f": f})
        assert "errors" not in body, body
        return s, g, f, body["data"]["stats"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, requests))


def cell_index(subject: str, group_by: Sequence[str], f: dict[str, str] | None,
               lattice: Sequence[Finest]) -> dict[tuple[Any, ...], frozenset[int]]:
    """Released cell (its dimension values) -> indexes of the finest cells it sums, by the public method."""
    scope = next(iter(f.values())) if f else ""
    dims = DIMS[subject]
    out: dict[tuple[Any, ...], list[int]] = {}
    for i, (b, *vals) in enumerate(lattice):
        if b.startswith(scope):
            of = dict(zip(dims, vals, strict=True))
            out.setdefault(tuple(b[:PLACE_LEN[d]] if d in PLACE_LEN else of[d] for d in group_by), []).append(i)
    return {k: frozenset(v) for k, v in out.items()}


# --------------------------------------------------------------------------- the solver
class Model:
    """Integer unknowns: the true count n_i of every finest cell (plus attacker-side helpers)."""

    def __init__(self, n: int) -> None:
        self.n = n  # the first n variables are the true counts
        self.nvars = n
        self.rows: list[tuple[dict[int, float], float, float]] = []
        self.lower: list[float] = [0.0] * n
        self.upper: list[float] = [np.inf] * n

    def var(self, lo: float, hi: float) -> int:
        self.lower.append(lo)
        self.upper.append(hi)
        self.nvars += 1
        return self.nvars - 1

    def add(self, coefs: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coefs, lo, hi))

    def compile(self) -> tuple[LinearConstraint, Bounds]:
        r, c, v = [], [], []
        for i, (coefs, _, _) in enumerate(self.rows):
            for j, x in coefs.items():
                r.append(i)
                c.append(j)
                v.append(x)
        a = coo_array((v, (r, c)), shape=(len(self.rows), self.nvars)).tocsr()
        return (LinearConstraint(a, np.array([lo for _, lo, _ in self.rows]), np.array([hi for _, _, hi in self.rows])),
                Bounds(np.array(self.lower), np.array(self.upper)))

    def solver(self) -> Callable[..., tuple[float, float]]:
        """min and max of a sum of true counts over every integer solution, solved exactly per
        independent component (variables linked by no constraint do not constrain each other)."""
        cons, bounds = self.compile()
        a = cons.A.tocsr()
        parent = list(range(self.nvars))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for coefs, _, _ in self.rows:
            first, *others = coefs
            for o in others:
                parent[find(o)] = find(first)
        members: dict[int, list[int]] = {}
        for v in range(self.nvars):
            members.setdefault(find(v), []).append(v)
        row_of: dict[int, list[int]] = {}
        for r, (coefs, _, _) in enumerate(self.rows):
            row_of.setdefault(find(next(iter(coefs))), []).append(r)
        cache: dict[tuple[Any, ...], float] = {}

        def optimum(roots: frozenset[int], target: frozenset[int], sign: float, extra: tuple[int, ...]) -> float:
            key = (roots, target, sign, extra)
            if key not in cache:
                cols = sorted(v for r in roots for v in members[r])
                rows = sorted(x for r in roots for x in row_of.get(r, []))
                where = {v: j for j, v in enumerate(cols)}
                sub = [LinearConstraint(a[rows][:, cols], cons.lb[rows], cons.ub[rows])] if rows else []
                if extra:
                    row = np.zeros((1, len(cols)))
                    row[0, [where[v] for v in extra]] = 1
                    sub.append(LinearConstraint(row, 1, np.inf))
                cost = np.zeros(len(cols))
                cost[[where[v] for v in target]] = sign
                res = milp(cost, constraints=sub, integrality=np.ones(len(cols)),
                           bounds=Bounds(bounds.lb[cols], bounds.ub[cols]))
                assert res.status == 0, res.message  # the true table is always feasible
                cache[key] = sign * res.fun
            return cache[key]

        def extremes(target: Sequence[int], at_least_one_of: Sequence[int] = ()) -> tuple[float, float]:
            """min and max of the target's true size; optionally knowing the cells at_least_one_of hold someone."""
            joined = frozenset(find(v) for v in at_least_one_of)
            parts: dict[frozenset[int], set[int]] = {}
            for v in target:
                roots = joined if find(v) in joined else frozenset([find(v)])
                parts.setdefault(roots, set()).add(v)
            extra = tuple(sorted(at_least_one_of))
            lo = sum(optimum(r, frozenset(t), 1.0, extra if r == joined else ()) for r, t in parts.items())
            hi = sum(optimum(r, frozenset(t), -1.0, extra if r == joined else ()) for r, t in parts.items())
            return lo, hi

        return extremes


def protected_model(lattice_size: int, released: dict[frozenset[int], int], base: int) -> Model:
    """What the released answers imply under the public method: each finest cell i has a protected
    value p_i = base*y_i in support(n_i), and each released count is the sum of its p_i.

    Protected values that an answer gives alone (a released cell of one finest cell) are
    substituted into every other answer once, exactly as a presolve would on every solve: answers
    left with no unknown must then hold (they are checked), the others stay as constraints."""
    m = Model(lattice_size)
    fixed = {next(iter(c)): r // base for c, r in released.items() if len(c) == 1}
    big = max(released.values(), default=0) + 2 * base
    ys = [m.var(fixed.get(i, 0), fixed.get(i, np.inf)) for i in range(lattice_size)]
    for i, y in enumerate(ys):
        z = m.var(0, 1)  # z = 1 only for an empty cell, the one whose support is {0, base}
        m.add({y: base, i: -1}, -base, np.inf)  # p >= n - base
        m.add({y: base, i: -1, z: -1}, -np.inf, base - 1)  # p <= n + base - 1 (+1 when empty)
        m.add({i: 1, z: big}, -np.inf, big)  # z = 1 forces n = 0
    for cells, r in released.items():
        free = [i for i in cells if i not in fixed]
        rest = r - base * sum(fixed[i] for i in cells if i in fixed)
        if free:
            m.add({ys[i]: base for i in free}, rest, rest)
        else:
            assert rest == 0, (sorted(cells), r)  # the answers agree with each other
    return m


def weak_model(lattice_size: int, listed: dict[frozenset[int], bool]) -> Model:
    """The former release: a cell listed iff its true count > 0, flagged suppressed iff under k."""
    m = Model(lattice_size)
    for cells, suppressed in listed.items():
        m.add(dict.fromkeys(cells, 1.0), *((1, K - 1) if suppressed else (K, np.inf)))
    return m


def pinned_by(extremes: tuple[float, float]) -> bool:
    return extremes[0] == extremes[1]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def analyst(api: Api) -> str:
    return api.token("district_analyst")


@pytest.fixture(scope="module")
def places(api: Api, analyst: str) -> dict[str, list[str]]:
    got = {d: [c[FIELD[d]] for c in ask(api, analyst, [("PERSONS", (d,), None)])[0][3]["cells"]] for d in PLACE_LEN}
    assert len(got["BUILDING"]) > 20, got
    return got


@pytest.fixture(scope="module")
def answers(api: Api, analyst: str, places: dict[str, list[str]]) -> dict[str, list[Answer]]:
    """Every grouping without a filter; with every place filter (committee, compound, building) that
    holds buildings, and one that holds none, the groupings of the subject's dimensions, alone and by
    building (place dimensions under a place filter only repeat the filter)."""
    out = {}
    for subject, dims in DIMS.items():
        reqs: list[tuple[str, tuple[str, ...], dict[str, str] | None]] = [
            (subject, g, None) for g in subsets([*PLACE_LEN, *dims])]
        for level, codes in places.items():
            inhabited = [c for c in codes if any(b.startswith(c) for b in places["BUILDING"])]
            empty = [c for c in codes if c not in inhabited][:1]  # one place with no building is enough
            for code in inhabited + empty:
                for g in subsets(dims):
                    reqs.append((subject, g, {level.lower(): code}))
                    if level != "BUILDING":
                        reqs.append((subject, ("BUILDING", *g), {level.lower(): code}))
        out[subject] = ask(api, analyst, reqs)
    return out


@pytest.fixture(scope="module")
def lattices(places: dict[str, list[str]]) -> dict[str, list[Finest]]:
    return {s: [(b, *v) for b in places["BUILDING"] for v in itertools.product(*(VALUES[d] for d in dims))]
            for s, dims in DIMS.items()}


@pytest.fixture(scope="module")
def truth(api: Api, lattices: dict[str, list[Finest]]) -> list[int]:
    """True finest person counts, read by a role that sees rows (the attacker never has these)."""
    tok = api.token("subdistrict_officer")
    people: list[dict[str, Any]] = []
    after = None
    while True:
        body = api.gql("""query($a: String) { persons(first: 1000, after: $a) { pageInfo { hasNextPage endCursor }
            edges { node { age gender jurisdictionCode welfare { livingAlone } } } } }""", tok, {"a": after})
        conn = body["data"]["persons"]
        people += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    bands = [(0, 17), (18, 34), (35, 59), (60, 69), (70, 79), (80, 10_000)]
    counts: Counter[Finest] = Counter()
    for p in people:
        band = next(VALUES["AGE_BAND"][i] for i, (lo, hi) in enumerate(bands) if lo <= p["age"] <= hi)
        alone = bool((p["welfare"] or {}).get("livingAlone"))
        counts[(p["jurisdictionCode"][:18], band, p["gender"], alone)] += 1
    lattice = lattices["PERSONS"]
    assert sum(counts[c] for c in lattice) == len(people) == 3000
    return [counts[c] for c in lattice]


def released_cells(subject: str, answers: list[Answer], lattice: Sequence[Finest]) -> dict[frozenset[int], int]:
    """Every released count keyed by the finest cells it sums; one set of cells has one value."""
    out: dict[frozenset[int], int] = {}
    for _, g, f, res in answers:
        index = cell_index(subject, g, f, lattice)
        for c in res["cells"]:
            cells = index.get(tuple(c[FIELD[d]] for d in g), frozenset())
            assert out.setdefault(cells, c["count"]) == c["count"], (g, f, c)  # consistent across queries
    return out


# --------------------------------------------------------------------------- tests
def test_the_solver_encodes_the_public_method() -> None:
    """The MILP's link between a true count and its protected value admits exactly support(n)."""
    for n in range(80):
        allowed = {p for p in range(0, 100, K) if n - K <= p <= n + K - 1 + (n == 0)}
        assert allowed == set(support(n, K)), n
        assert all(n in preimage(p, K) for p in support(n, K))
        assert {protect(n, u / 1000, K) for u in range(1000)} == set(support(n, K))  # both outcomes occur


@pytest.mark.parametrize("subject", list(DIMS))
def test_answers_are_dense_and_consistent(subject: str, answers: dict[str, list[Answer]],
                                          places: dict[str, list[str]], lattices: dict[str, list[Finest]]) -> None:
    """No cell is ever absent: each grouping lists every combination in scope; and each set of
    finest cells has one released value whichever query releases it."""
    for _, g, f, res in answers[subject]:
        scope = next(iter(f.values())) if f else SUBDISTRICT
        place_dims = [d for d in g if d in PLACE_LEN]
        finest = max(place_dims, key=PLACE_LEN.__getitem__, default=None)
        rows = 1 if finest is None else len({p for p in places[finest] if p.startswith(scope) or
                                             scope.startswith(p)})
        want = rows * int(np.prod([len(VALUES[d]) for d in g if d not in PLACE_LEN]))
        assert len(res["cells"]) == want, (g, f)
        assert res["suppressedCells"] == 0 and all(c["count"] % K == 0 for c in res["cells"]), (g, f)
        assert res["total"] == sum(c["count"] for c in res["cells"])
    released_cells(subject, answers[subject], lattices[subject])


def test_no_small_cell_or_attribute_is_pinned(answers: dict[str, list[Answer]], lattices: dict[str, list[Finest]],
                                              truth: list[int]) -> None:
    lattice = lattices["PERSONS"]
    released = released_cells("PERSONS", answers["PERSONS"], lattice)
    truth_of = {cells: sum(truth[i] for i in cells) for cells in released}
    extremes = protected_model(len(lattice), released, K).solver()
    small = [cells for cells, t in truth_of.items() if t < K and cells]
    # a resident known to be in (building, band, gender): can their living alone be decided?
    groups = [(i, i + 1) for i in range(0, len(lattice), 2) if truth[i] + truth[i + 1] > 0]
    assert [c[3] for c in lattice[:2]] == [False, True]
    pinned = [sorted(c) for c in small if pinned_by(extremes(sorted(c)))]
    decided = []
    for not_alone, alone in groups:
        known = (not_alone, alone)
        if min(extremes([alone], known)[1], extremes([not_alone], known)[1]) == 0:
            decided.append(lattice[alone][:3])
    print(f"\nprotected release: {len(answers['PERSONS'])} queries, {len(released)} distinct released cells, "
          f"{len(small)} of them under k checked: {len(pinned)} pinned; {len(groups)} resident groups: "
          f"{len(decided)} with living alone decided")
    assert not pinned and not decided
    assert len(small) > 400


@pytest.mark.parametrize("subject", ["HOUSES", "SHOPS"])
def test_no_finest_house_or_shop_cell_is_pinned(subject: str, answers: dict[str, list[Answer]],
                                                lattices: dict[str, list[Finest]]) -> None:
    lattice = lattices[subject]
    released = released_cells(subject, answers[subject], lattice)
    extremes = protected_model(len(lattice), released, K).solver()
    pinned = [lattice[i] for i in range(len(lattice)) if pinned_by(extremes([i]))]
    assert not pinned


def test_the_solver_pins_cells_of_the_weak_release(answers: dict[str, list[Answer]],
                                                   lattices: dict[str, list[Finest]], truth: list[int]) -> None:
    """The same queries answered the former way (listing and suppression decided on true counts):
    the solver recovers exact sizes of suppressed cells from which cells are listed/suppressed."""
    lattice = lattices["PERSONS"]
    every = {c for c in released_cells("PERSONS", answers["PERSONS"], lattice) if c}
    truth_of = {cells: sum(truth[i] for i in cells) for cells in every}
    listed = {cells: t < K for cells, t in truth_of.items() if t > 0}  # listed -> flagged suppressed
    m = weak_model(len(lattice), listed)
    for cells in every - set(listed):  # left out: empty
        m.add(dict.fromkeys(cells, 1.0), 0, 0)
    extremes = m.solver()
    suppressed = [c for c, s in listed.items() if s and len(c) == 1]  # every suppressed finest cell
    pinned = [c for c in suppressed if pinned_by(extremes(sorted(c)))]
    print(f"\nweak release: {len(suppressed)} suppressed cells checked, {len(pinned)} pinned exactly")
    assert pinned


def test_utility_cost_by_true_cell_size(answers: dict[str, list[Answer]], lattices: dict[str, list[Finest]],
                                        truth: list[int]) -> None:
    """Mean absolute error of released person counts by true size (the figures in policies/README.md):
    of this release, and averaged over 200 other keys (the expected cost, whatever the key)."""
    lattice = lattices["PERSONS"]
    released = released_cells("PERSONS", [a for a in answers["PERSONS"] if a[2] is None], lattice)
    assert all(released[frozenset([i])] in support(t, K) for i, t in enumerate(truth))  # same lattice, same ages
    sets = list(released)
    incidence = coo_array((np.ones(sum(map(len, sets))), ([r for r, c in enumerate(sets) for _ in c],
                                                          [i for c in sets for i in c])),
                          shape=(len(sets), len(lattice))).tocsr()
    true = incidence @ np.array(truth)
    finest = np.array([len(c) == 1 for c in sets])
    buckets = [(0, 0, "0"), (1, 4, "1-4"), (5, 9, "5-9"), (10, 19, "10-19"), (20, 49, "20-49"), (50, 10**9, "50+")]
    this = np.abs(np.array([released[c] for c in sets]) - true)
    keys = [bytes([s]) * 32 for s in range(200)]
    expected = np.mean([np.abs(incidence @ np.array([perturbed(key, i, t) for i, t in enumerate(truth)]) - true)
                        for key in keys], axis=0)
    lines = []
    for name, errs in (("this key", this), ("expected", expected)):
        for scope, rows in (("finest cells", finest), ("all released cells", np.ones(len(sets), bool))):
            cols = [f"{b} {errs[rows & (true >= lo) & (true <= hi)].mean():.2f} "
                    f"(n={int((rows & (true >= lo) & (true <= hi)).sum())})" for lo, hi, b in buckets]
            lines.append(f"{name}, {scope}: " + ", ".join(cols))
    for lo, hi, _ in buckets[:3]:
        assert expected[finest & (true >= lo) & (true <= hi)].mean() < K / 2
    total = released[frozenset(range(len(lattice)))]
    lines.append(f"total {total} vs true {sum(truth)}")
    print("\n" + "\n".join(lines))
    assert abs(total - sum(truth)) < 0.05 * sum(truth)


def perturbed(key: bytes, i: int, n: int) -> int:
    return protect(n, cell_key(key, f"PERSONS|{i}", n), K)


def test_same_figures_on_every_call_other_figures_under_another_key(make_api: Callable[..., Api]) -> None:
    q = ("{ stats(subject: PERSONS, groupBy: [BUILDING, AGE_BAND, GENDER, LIVING_ALONE]) "
         "{ total cells { building ageBand gender livingAlone count } } }")
    a = make_api(stats_secret="a" * 40, id_secret="a" * 40)
    b = make_api(stats_secret="b" * 40, id_secret="b" * 40)
    first, again = (a.gql(q, a.token("district_analyst")) for _ in range(2))
    other = b.gql(q, b.token("district_analyst"))
    assert "errors" not in first and first == again
    cells = [c for c in first["data"]["stats"]["cells"]]
    assert [c["count"] for c in cells] != [c["count"] for c in other["data"]["stats"]["cells"]]
    assert [{k: v for k, v in c.items() if k != "count"} for c in cells] == \
        [{k: v for k, v in c.items() if k != "count"} for c in other["data"]["stats"]["cells"]]


def test_the_cell_key_depends_on_the_secret_and_the_cell() -> None:
    keys = [cell_key(s, f"PERSONS|{b}", n) for s in (b"x" * 32, b"y" * 32) for b in "ab" for n in range(3)]
    assert len(set(keys)) == len(keys) and all(0 <= u < 1 for u in keys)
    assert cell_key(b"x" * 32, "PERSONS|a", 0) == keys[0]


def test_a_dimension_named_twice_is_bad_input(api: Api, analyst: str) -> None:
    body = api.gql(QUERY, analyst, {"s": "PERSONS", "g": ["GENDER", "GENDER"], "f": None})
    assert body["data"]["stats"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
