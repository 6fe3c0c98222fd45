"""The canonical demo world: places, houses, persons, households, shops and events.

Built once, deterministically, from (persons, seed); every department writer derives its
own records from it, so the same person/house/shop appears consistently everywhere.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from demo import names
from demo.codes import AS_OF, CREDIT_CHARSET, credit_check_char, id_check_char, org_check_char

DISTRICT_CODE = "310107"
DISTRICT_NAME = "普陀区"
SUBDISTRICT_CODE = "310107005"
SUBDISTRICT_NAME = "曹杨新村街道"
CITY = "上海市"


@dataclass(slots=True)
class Committee:
    code: str
    name: str


@dataclass(slots=True)
class Compound:
    code: str
    name: str
    committee: Committee
    road: str
    lane: int
    property_type: str
    built_year: int


@dataclass(slots=True)
class Building:
    code: str
    number: int
    compound: Compound
    floors: int
    has_elevator: bool
    built_year: int
    street_front: bool

    @property
    def name(self) -> str:
        return f"{self.number}号楼"


@dataclass(slots=True)
class House:
    address_code: str
    building: Building
    floor: int
    room: str
    area: float
    property_type: str
    persons: list[Person] = field(default_factory=list)
    household: str | None = None

    @property
    def address(self) -> str:
        c = self.building.compound
        return f"{CITY}{DISTRICT_NAME}{c.road}{c.lane}弄{self.building.number}号{int(self.room)}室"


@dataclass(slots=True)
class Person:
    id_number: str
    name: str
    male: bool
    birth: dt.date
    phone: str | None
    house: House
    household: str
    registration: str  # LOCAL / NON_LOCAL
    is_head: bool

    @property
    def age(self) -> int:
        b = self.birth
        return AS_OF.year - b.year - ((AS_OF.month, AS_OF.day) < (b.month, b.day))


@dataclass(slots=True)
class Shop:
    credit_code: str
    name: str
    address: str
    building: Building
    category: str
    holder: str
    holder_person: Person | None


@dataclass(slots=True)
class World:
    seed: int
    committees: list[Committee]
    compounds: list[Compound]
    buildings: list[Building]
    houses: list[House]
    persons: list[Person]
    shops: list[Shop]

    def people_of_age(self, lo: int, hi: int = 200) -> list[Person]:
        return [p for p in self.persons if lo <= p.age <= hi]


def build_world(persons: int, seed: int) -> World:
    rng = random.Random(seed)
    committees = [Committee(f"{SUBDISTRICT_CODE}{i + 1:03d}", n) for i, n in enumerate(names.COMMITTEES)]
    compounds, buildings, houses = _build_places(rng, committees, max(1, round(persons / 2.45)))
    people = _populate(rng, houses, persons)
    shops = _build_shops(rng, buildings, people, max(1, round(1500 * persons / 83000)))
    return World(seed, committees, compounds, buildings, houses, people, shops)


def _compound_names(rng: random.Random) -> tuple[list[str], list[str]]:
    old = [f"{p}{n}村" for p in names.OLD_COMPOUND_PREFIX for n in names.NUMERALS]
    new = [a + b for a in names.NEW_COMPOUND_A for b in names.NEW_COMPOUND_B]
    rng.shuffle(old)
    rng.shuffle(new)
    return old, new


def _build_places(
    rng: random.Random, committees: list[Committee], target_houses: int
) -> tuple[list[Compound], list[Building], list[House]]:
    old_names, new_names = _compound_names(rng)
    compounds: list[Compound] = []
    buildings: list[Building] = []
    houses: list[House] = []
    per_committee = [0] * len(committees)
    lanes: set[tuple[str, int]] = set()
    while len(houses) < target_houses:
        ci = len(compounds) % len(committees)
        committee = committees[ci]
        per_committee[ci] += 1
        kind = rng.choices(("OLD_PUBLIC", "COMMERCIAL", "PUBLIC_RENTAL", "RELOCATION"), (60, 25, 7, 8))[0]
        if kind == "OLD_PUBLIC":
            name = old_names.pop() if old_names else f"曹杨新村{len(compounds)}号小区"
            built = rng.randint(1952, 1995)
        else:
            name = new_names.pop() if new_names else f"新建{len(compounds)}号小区"
            built = rng.randint(1998, 2018)
        road = committee.name.removesuffix("居委会") if committee.name.endswith("路居委会") else rng.choice(names.ROADS)
        lane = rng.randrange(10, 1200)
        while (road, lane) in lanes:
            lane = rng.randrange(10, 1200)
        lanes.add((road, lane))
        comp = Compound(f"{committee.code}{per_committee[ci]:03d}", name, committee, road, lane, kind, built)
        compounds.append(comp)
        n_buildings = rng.randint(8, 30) if kind == "OLD_PUBLIC" else rng.randint(4, 12)
        for b in range(1, n_buildings + 1):
            if kind == "OLD_PUBLIC":
                floors, per_floor = rng.choice((4, 5, 6, 6, 6)), rng.choice((4, 4, 6))
                elevator = rng.random() < 0.12  # retrofitted lifts
            else:
                floors, per_floor = rng.randint(7, 28), rng.choice((4, 6, 8))
                elevator = True
            bld = Building(f"{comp.code}{b:03d}", b, comp, floors, elevator,
                           built + rng.randint(0, 2), b <= 2 and rng.random() < 0.55)
            buildings.append(bld)
            for fl in range(1, floors + 1):
                for r in range(1, per_floor + 1):
                    if bld.street_front and fl == 1:
                        continue  # ground floor is shops
                    room = f"{fl:02d}{r:02d}"
                    houses.append(House(f"{bld.code}{room}", bld, fl, room, _area(rng, kind), kind))
    return compounds, buildings, houses


def _area(rng: random.Random, kind: str) -> float:
    lo, hi = {"OLD_PUBLIC": (28, 65), "COMMERCIAL": (60, 160), "PUBLIC_RENTAL": (35, 70),
              "RELOCATION": (50, 95)}[kind]
    return round(rng.uniform(lo, hi), 2)


_HOUSEHOLD_SIZES = ((1, 2, 3, 4, 5), (22, 31, 27, 13, 7))


def _elderly_weights(top: int = 110) -> tuple[list[int], list[float]]:
    """Ages 60..top weighted like a life table: survivors under Gompertz mortality.

    Mortality 0.5 % at 60, rising 11 % a year of age (the Shanghai shape: most deaths in the
    eighties), times a cohort factor for the large post-1950 cohorts now in their sixties. The
    oldest ages thin out smoothly: of 83,000 residents about a dozen are 100 or older and the
    oldest is about 103.
    """
    ages = list(range(60, top + 1))
    mortality, growth = 0.005, 0.11
    weights = []
    for a in ages:
        survivors = math.exp(-(mortality / growth) * (math.exp(growth * (a + 0.5 - 60)) - 1))
        cohort = 1.0 + 0.4 * max(0.0, (75 - a) / 15)
        weights.append(survivors * cohort)
    return ages, weights


_ELDERLY_AGES, _ELDERLY_WEIGHTS = _elderly_weights()


def _ages_for(rng: random.Random, size: int) -> list[int]:
    elderly = lambda: rng.choices(_ELDERLY_AGES, _ELDERLY_WEIGHTS)[0]
    adult = lambda lo=22, hi=59: rng.randint(lo, hi)
    if size == 1:
        return [elderly()] if rng.random() < 0.62 else [adult()]
    if size == 2:
        r = rng.random()
        if r < 0.56:
            a = elderly()
            d = rng.randint(-4, 4)
            return [a, max(60, a + d if a < 95 else a - abs(d))]  # the spouse of the oldest is younger
        if r < 0.8:
            a = adult(24, 59)
            return [a, max(22, a + rng.randint(-5, 5))]
        a = adult(28, 58)
        return [a, rng.randint(0, max(0, a - 22))]
    a = adult(26, 56)
    parents = [a, max(22, a + rng.randint(-4, 4))]
    kids = [rng.randint(0, max(0, a - 22)) for _ in range(size - 2)]
    if size >= 4 and rng.random() < 0.6:
        kids[-1] = min(100, a + rng.randint(22, 35))  # a grandparent
    if size == 5:
        kids[-2] = min(100, a + rng.randint(22, 35))
    return parents + kids


def _populate(rng: random.Random, houses: list[House], total: int) -> list[Person]:
    order = list(range(len(houses)))
    rng.shuffle(order)
    people: list[Person] = []
    used_ids: set[str] = set()
    alone_92 = 0
    for n, hi in enumerate(order):
        if len(people) >= total:
            break
        house = houses[hi]
        size = min(rng.choices(*_HOUSEHOLD_SIZES)[0], total - len(people))
        ages = _ages_for(rng, size)
        if size == 1 and ages[0] >= 80 and alone_92 < max(3, total // 6000):
            ages[0] = 92
            alone_92 += 1
        local = rng.random() < (0.92 if max(ages) >= 60 else 0.62)
        hh = f"{'1' if local else '8'}{n:08d}"
        house.household = hh
        surname = None
        for i, age in enumerate(ages):
            male = rng.random() < 0.5 if i != 1 else not people[-1].male
            birth = _birth(rng, age)
            pid = _id_number(rng, birth, male, local or age < 18 and rng.random() < 0.5, used_ids)
            pname = names.person_name(rng, male, birth.year)
            if i >= 2 and surname and age < 30 and rng.random() < 0.8:
                pname = surname + pname[1:]
            surname = surname or pname[0]
            no_phone = age < 12 or (age > 85 and rng.random() < 0.5) or rng.random() < 0.04
            p = Person(pid, pname, male, birth, None if no_phone else names.mobile(rng), house, hh,
                       "LOCAL" if local else "NON_LOCAL", i == 0)
            house.persons.append(p)
            people.append(p)
    return people


def _birth(rng: random.Random, age: int) -> dt.date:
    last = dt.date(AS_OF.year - age, AS_OF.month, min(AS_OF.day, 28))
    return last - dt.timedelta(days=rng.randint(0, 364))


def _id_number(rng: random.Random, birth: dt.date, male: bool, local: bool, used: set[str]) -> str:
    area = "310107" if local else rng.choice(names.OTHER_PROVINCE_AREAS)
    if local and rng.random() < 0.25:
        area = rng.choice(("310104", "310105", "310106", "310108", "310110", "310230"))
    while True:
        seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
        body = f"{area}{birth:%Y%m%d}{seq:03d}"
        pid = body + id_check_char(body)
        if pid not in used:
            used.add(pid)
            return pid


def random_id_number(rng: random.Random, used: set[str]) -> str:
    """A valid ID number of nobody in the registry (for the 'matches no one' records)."""
    birth = dt.date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28))
    return _id_number(rng, birth, rng.random() < 0.5, False, used)


def new_credit_code(rng: random.Random, used: set[str], individual: bool) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = ("92" if individual else "91") + "310107" + body + org_check_char(body)
    code = first17 + credit_check_char(first17)
    assert all(c in CREDIT_CHARSET for c in code)
    return new_credit_code(rng, used, individual) if code in used else (used.add(code) or code)


def _build_shops(rng: random.Random, buildings: list[Building], people: list[Person], n: int) -> list[Shop]:
    fronts = [b for b in buildings if b.street_front] or buildings[:1]
    adults = [p for p in people if 25 <= p.age <= 70]
    used: set[str] = set()
    numbers: set[tuple[str, int]] = set()
    shops: list[Shop] = []
    cats = ("CATERING", "RETAIL", "SERVICES", "PHARMACY", "OTHER")
    for i in range(n):
        bld = fronts[i % len(fronts)]
        cat = rng.choices(cats, (34, 33, 20, 5, 8))[0]
        road = bld.compound.road
        num = rng.randrange(1, 2000)
        while (road, num) in numbers:
            num = rng.randrange(1, 2000)
        numbers.add((road, num))
        holder_p = rng.choice(adults) if adults and rng.random() < 0.85 else None
        holder = holder_p.name if holder_p else names.person_name(rng, rng.random() < 0.5, 1975)
        prefix = road.removesuffix("路") if rng.random() < 0.5 else holder[0] + "记"
        shops.append(Shop(new_credit_code(rng, used, rng.random() < 0.7), f"{prefix}{rng.choice(names.SHOP_WORDS[cat])}",
                          f"{CITY}{DISTRICT_NAME}{road}{num}号", bld, cat, holder, holder_p))
    return shops
