"""Writers for the four SQL departments: population, civil_affairs, market, water."""
from __future__ import annotations

import datetime as dt
import random
import zlib
from pathlib import Path

from demo import geo
from demo.codes import AS_OF, fmt_date
from demo.store import open_db, src_id, table
from demo.world import World, random_id_number

Counts = dict[str, int]


def write_population(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:population")
    conn = open_db(data_dir / "population.db")
    persons = []
    for i, p in enumerate(world.persons, 1):
        name = p.name
        if rng.random() < 0.02:
            name = rng.choice((f" {name}", f"{name} ", f"{name}  "))
        phone = p.phone if p.phone is not None else rng.choice((None, ""))
        persons.append((i, src_id(p.id_number, rng, 0.5), name, "1" if p.male else "2",
                        p.birth.strftime("%Y%m%d"), phone, p.household, p.house.address_code,
                        p.house.building.code, "户籍" if p.registration == "LOCAL" else "来沪"))
    n = {"rk_jbxx": table(
        conn, "rk_jbxx",
        "rkid INTEGER PRIMARY KEY, sfzh TEXT NOT NULL, xm TEXT, xb TEXT, csrq TEXT, lxdh TEXT, hh TEXT,"
        " fwbm TEXT, jzdm TEXT, hjlx TEXT",
        persons, ("sfzh", "upper(sfzh)", "hh", "fwbm", "jzdm"))}
    heads = []
    for h in world.houses:
        if h.persons:
            head = h.persons[0]
            heads.append((h.household, h.address_code, src_id(head.id_number, rng, 0.5), h.building.code,
                          len(h.persons)))
    n["hj_hxx"] = table(conn, "hj_hxx", "hh TEXT PRIMARY KEY, fwbm TEXT, hzsfzh TEXT, jzdm TEXT, hrs INTEGER",
                        heads, ("fwbm", "hzsfzh", "upper(hzsfzh)", "jzdm"))
    conn.close()
    return n


def write_civil_affairs(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:civil_affairs")
    rows = []
    for p in world.persons:
        age = p.age
        alone = age >= 60 and len(p.house.persons) == 1
        minimum = rng.random() < 0.012
        if not (age >= 80 or alone or minimum or (age >= 65 and rng.random() < 0.3)):
            continue
        weights = (50, 25, 15, 10) if age >= 80 else (80, 12, 6, 2) if age >= 65 else (95, 3, 1, 1)
        care = rng.choices((0, 1, 2, 3), weights)[0]
        rows.append([src_id(p.id_number, rng, 0.1), p.name, p.house.building.compound.committee.code,
                     int(age >= 65 and p.registration == "LOCAL" and not never_applied(p.id_number)), int(minimum),
                     int(alone), care,
                     _stamp(rng)])
    used = {p.id_number for p in world.persons}
    for _ in range(max(1, len(rows) // 200)):  # ~0.5 % match no one
        c = rng.choice(world.committees)
        rows.append([random_id_number(rng, used), "未知", c.code, 1, 0, 0, 0, _stamp(rng)])
    rng.shuffle(rows)
    conn = open_db(data_dir / "civil_affairs.db")
    n = {"welfare_recipient": table(
        conn, "welfare_recipient",
        "id_card TEXT NOT NULL, full_name TEXT, committee_code TEXT, elderly_allowance INTEGER,"
        " minimum_living INTEGER, lives_alone INTEGER, care_level INTEGER, updated_at TEXT",
        rows, ("id_card", "upper(id_card)", "committee_code")),
        "service_facility": table(  # elderly-service facilities: canteens, day care (demo/geo.py)
            conn, "service_facility", "facility_id TEXT PRIMARY KEY, facility_name TEXT, facility_type TEXT,"
            " address TEXT, lng REAL, lat REAL, committee_code TEXT",
            [list(f) for f in geo.facilities(world)], ("committee_code",))}
    conn.close()
    return n


def never_applied(id_number: str) -> bool:
    """About 1 in 20 entitled to the elderly allowance never applied (the residents Query.eligible finds);
    from the ID number, so the rest of the department's data stays as it was."""
    return zlib.crc32(id_number.encode()) % 20 == 0


def _stamp(rng: random.Random) -> str:
    d = AS_OF - dt.timedelta(days=rng.randint(1, 900), seconds=rng.randint(0, 86399))
    return f"{d:%Y-%m-%d} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


MARKET_CATEGORY = {"CATERING": "餐饮", "RETAIL": "零售", "SERVICES": "服务", "PHARMACY": "药店", "OTHER": "其他"}


def write_market(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:market")
    rows = []
    for i, s in enumerate(world.shops, 1):
        food = s.category == "CATERING" or (s.category == "RETAIL" and rng.random() < 0.4)
        licence = f"JY1310107{i:07d}" if food else f"310107{600000000 + i:09d}"
        expiry = AS_OF + dt.timedelta(days=rng.randint(-200, 5 * 365))
        address = s.address.replace("普陀区", "普陀区 ") if rng.random() < 0.05 else s.address
        grade = rng.choices("ABC", (55, 35, 10))[0] if food else None
        rows.append((s.credit_code, s.name + (" " if rng.random() < 0.03 else ""), address, s.building.code,
                     MARKET_CATEGORY[s.category], licence, s.holder, fmt_date(expiry, rng.choice((0, 0, 1, 2))),
                     grade, fmt_date(AS_OF - dt.timedelta(days=rng.randint(200, 7000)), 0)))
    conn = open_db(data_dir / "market.db")
    n = {"shop_info": table(
        conn, "shop_info",
        "TYSHXYDM TEXT PRIMARY KEY, shop_name TEXT, jydz TEXT, ssjdbm TEXT, hylb TEXT, licence_no TEXT,"
        " fddbr TEXT, yxqz TEXT, spaqdj TEXT, clrq TEXT",
        rows, ("ssjdbm", "hylb", "licence_no"))}
    conn.close()
    return n


def water_address(house_address: str, style: int) -> str:
    short = house_address.removeprefix("上海市")
    if style == 1:
        return short.removeprefix("普陀区").replace("号", "号-", 1).removesuffix("室")
    if style == 2:
        return house_address.replace("区", "区 ").replace("弄", "弄 ").replace("路", "路 ", 1)
    return short


def write_water(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:water")
    accounts, xwalk, readings = [], [], []
    days = [AS_OF - dt.timedelta(days=d) for d in range(90, 0, -1)]
    day_text = [d.isoformat() for d in days]
    order = list(range(len(world.houses)))
    rng.shuffle(order)
    gauss, rand = rng.gauss, rng.random
    extra = max(1, len(world.houses) // 300)
    for seq, hi in enumerate(order + [-1] * extra):
        acct = f"31{1000000 + seq * 7:08d}"
        if hi >= 0:
            house = world.houses[hi]
            addr, comm = house.address, house.building.compound.committee.code
            xwalk.append((acct, house.address_code))
            people = len(house.persons)
        else:  # demolished building: account matches no house
            c = rng.choice(world.compounds)
            addr, comm, people = f"上海市普陀区{c.road}{c.lane}弄{rng.randint(80, 99)}号101室", c.committee.code, 1
        accounts.append((acct, f"M{rng.randrange(10**9):010d}", water_address(addr, rng.choices((0, 1, 2), (70, 20, 10))[0]),
                         comm[-3:], fmt_date(dt.date(rng.randint(1995, 2024), rng.randint(1, 12), rng.randint(1, 28)), 0),
                         "1"))
        cum = round(rng.uniform(50, 4000), 2)
        mean = 0.11 * people if people else 0.004
        stop = 90 if rand() > 0.01 else rng.randint(40, 85)  # a few meters went silent
        for d in range(stop):
            use = max(0.0, round(gauss(mean, mean * 0.3), 3))
            cum = round(cum + use, 3)
            readings.append((acct, day_text[d], cum, use))
    conn = open_db(data_dir / "water.db")
    n = {
        "yh_account": table(conn, "yh_account",
                            "account_no TEXT PRIMARY KEY, meter_no TEXT, yhdz TEXT, committee_no TEXT,"
                            " open_date TEXT, status TEXT", accounts, ("committee_no", "meter_no")),
        "addr_xwalk": table(conn, "addr_xwalk", "account_no TEXT PRIMARY KEY, std_addr_code TEXT", xwalk,
                            ("std_addr_code",)),
    }
    conn.execute("CREATE TABLE yh_reading (account_no TEXT NOT NULL, read_date TEXT NOT NULL, reading REAL,"
                 " usage REAL, PRIMARY KEY (account_no, read_date)) WITHOUT ROWID")
    conn.executemany("INSERT INTO yh_reading VALUES (?,?,?,?)", readings)
    conn.commit()
    n["yh_reading"] = len(readings)
    conn.close()
    return n
