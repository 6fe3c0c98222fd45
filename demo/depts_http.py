"""Private stores of the seven HTTP departments (column names = the JSON field names served)."""
from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from pathlib import Path

from demo import geo, names
from demo.codes import AS_OF, fmt_date
from demo.store import flag, open_db, src_id, table
from demo.world import (
    DISTRICT_CODE,
    SUBDISTRICT_CODE,
    SUBDISTRICT_NAME,
    Person,
    World,
    new_credit_code,
    random_id_number,
)

Counts = dict[str, int]
NOCASE = "TEXT COLLATE NOCASE"
HOUSE_NATURE = {"COMMERCIAL": "01", "PUBLIC_RENTAL": "02", "OLD_PUBLIC": "03", "RELOCATION": "04"}


def _days_ago(rng: random.Random, lo: int, hi: int) -> dt.date:
    return AS_OF - dt.timedelta(days=rng.randint(lo, hi))


def write_housing(world: World, data_dir: Path) -> Counts:
    conn = open_db(data_dir / "housing.db")
    at = geo.centres(world)
    n = {
        "subdistrict": table(conn, "subdistrict", "streetCode TEXT PRIMARY KEY, streetName TEXT, districtCode TEXT",
                             [(SUBDISTRICT_CODE, SUBDISTRICT_NAME, DISTRICT_CODE)]),
        "committee": table(conn, "committee", "committeeCode TEXT PRIMARY KEY, committeeName TEXT, streetCode TEXT",
                           [(c.code, c.name, SUBDISTRICT_CODE) for c in world.committees]),
        "compound": table(conn, "compound", "compoundCode TEXT PRIMARY KEY, compoundName TEXT, committeeCode TEXT,"
                          " roadName TEXT, laneNo TEXT",
                          [(c.code, c.name, c.committee.code, c.road, f"{c.lane}弄") for c in world.compounds],
                          ("committeeCode",)),
        "building": table(conn, "building", "buildingCode TEXT PRIMARY KEY, buildingName TEXT, compoundCode TEXT,"
                          " floorCount INTEGER, elevator TEXT, builtYear INTEGER, lng REAL, lat REAL",
                          [(b.code, b.name, b.compound.code, b.floors, "有" if b.has_elevator else "无", b.built_year,
                            *geo.building_position(world, b, at)) for b in world.buildings],
                          ("compoundCode", "elevator")),
        "house": table(conn, "house", "houseCode TEXT PRIMARY KEY, houseAddress TEXT, buildingCode TEXT,"
                       " buildArea REAL, houseNature TEXT, floorNo INTEGER, roomNo TEXT",
                       [(h.address_code, h.address, h.building.code, h.area, HOUSE_NATURE[h.property_type],
                         h.floor, h.room) for h in world.houses], ("buildingCode", "houseNature")),
    }
    conn.close()
    return n


def write_health(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:health")
    doctors = {c.code: [names.person_name(rng, rng.random() < 0.4, 1980) for _ in range(3)] for c in world.committees}
    rows = []
    for p in world.persons:
        age = p.age
        contract = rng.random() < (0.78 if age >= 60 else 0.35 if age >= 40 else 0.2)
        htn = age >= 35 and rng.random() < min(0.6, (age - 30) / 80)
        dm = age >= 35 and rng.random() < min(0.25, (age - 30) / 200)
        if not (contract or htn or dm):
            continue
        area = p.house.building.compound.committee.code
        sign = fmt_date(_days_ago(rng, 10, 2500), 1) if contract else None
        rows.append([src_id(p.id_number, rng, 0.3), p.name, rng.choice(doctors[area]) if contract else None,
                     sign, flag(htn, "YN"), flag(dm, "YN"), area])
    used = {p.id_number for p in world.persons}
    for _ in range(max(1, len(rows) // 200)):
        area = rng.choice(world.committees).code
        rows.append([random_id_number(rng, used), names.person_name(rng, True, 1960), rng.choice(doctors[area]),
                     fmt_date(_days_ago(rng, 10, 2500), 1), "N", "N", area])
    conn = open_db(data_dir / "health.db")
    n = {"health_record": table(conn, "health_record", f"idCard {NOCASE}, name TEXT, doctorName TEXT, signDate TEXT,"
                                " htn TEXT, dm TEXT, areaCode TEXT", rows, ("idCard", "areaCode", "htn", "dm"))}
    conn.close()
    return n


SCHOOLS = {
    "01": ("曹杨社区托育点", "枣阳路宝宝屋", "兰溪路托育园"),
    "02": ("曹杨新村幼儿园", "兰溪路幼儿园", "桂巷幼儿园", "杏山路幼儿园"),
    "03": ("曹杨新村第一小学", "曹杨新村第二小学", "曹杨新村第六小学", "朝春中心小学"),
    "04": ("兰溪中学", "梅陇中学", "曹杨中学初中部"),
    "05": ("上海市曹杨第二中学", "上海市曹杨中学", "上海市宜川中学", "上海市晋元高级中学"),
}


def _stage(age: int) -> tuple[str, int] | None:
    if age <= 2:
        return ("01", 0)
    if age <= 5:
        return ("02", age - 2)
    if age <= 10:
        return ("03", age - 5)
    if age <= 14:
        return ("04", age - 5)
    if age <= 17:
        return ("05", age - 5)
    return None


def write_education(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:education")
    rows = []
    for p in world.persons:
        st = _stage(p.age) if p.age < 18 else None
        if st is None or (st[0] == "01" and rng.random() < 0.7) or rng.random() < 0.03:
            continue
        enrol = dt.date(AS_OF.year - (st[1] - 1 if st[1] > 0 else 0) if st[0] != "01" else AS_OF.year, 9, 1)
        rows.append([src_id(p.id_number, rng, 0.05), p.name, st[0], rng.choice(SCHOOLS[st[0]]), st[1],
                     p.house.building.compound.committee.code, min(enrol, AS_OF).strftime("%Y%m%d")])
    used = {p.id_number for p in world.persons}
    for _ in range(max(1, len(rows) // 200)):
        rows.append([random_id_number(rng, used), names.person_name(rng, True, 2015), "03", SCHOOLS["03"][0], 3,
                     rng.choice(world.committees).code, "20240901"])
    conn = open_db(data_dir / "education.db")
    n = {"student": table(conn, "student", f"student_id_card {NOCASE}, student_name TEXT, stage_code TEXT,"
                          " school_name TEXT, grade INTEGER, area_code TEXT, enrol_date TEXT",
                          rows, ("student_id_card", "area_code", "stage_code"))}
    conn.close()
    return n


VIOLATION_TYPES = ("跨门营业", "占道经营", "乱设广告牌", "油烟直排", "噪声扰民", "乱堆物")


FINDINGS = (("门前堆物，已责令整改", "店招破损，限期修复", "占道经营，已教育"), ("无异常", "经营规范", "门责落实"))


def write_city_management(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:city_management")
    qr, insp, viol = [], [], []
    inspectors = [names.person_name(rng, True, 1985) for _ in range(12)]
    used_cc = {s.credit_code for s in world.shops}
    shops = [(s.credit_code, s.name, s.building.code) for s in world.shops]
    shops += [(new_credit_code(rng, used_cc, True), "无名小店", rng.choice(world.buildings).code)
              for _ in range(max(1, len(shops) // 200))]  # unknown to market supervision
    for i, (cc, name, grid) in enumerate(shops):
        qid = f"CG{rng.randrange(16**10):010X}"
        qr.append((qid, cc, name, grid))
        for _ in range(rng.randint(0, 4)):
            ok = rng.random() < 0.85
            insp.append((f"XJ{len(insp) + 1:07d}", qid, _days_ago(rng, 1, 730).strftime("%Y%m%d"),
                         "合格" if ok else "不合格", rng.choice(inspectors), grid))
        if rng.random() < 0.25:
            d = _days_ago(rng, 1, 730)
            viol.append((f"PT{d:%Y}{len(viol) + 1:06d}", qid, d.strftime("%Y%m%d"), rng.choice(VIOLATION_TYPES),
                         "在办" if (AS_OF - d).days < 60 and rng.random() < 0.6 else "办结", grid))
    cases = []
    tops = [h for h in world.houses if h.floor == h.building.floors and h.property_type == "OLD_PUBLIC"]
    for h in rng.sample(tops, min(len(tops), max(1, len(world.houses) // 250))):
        d = _days_ago(rng, 1, 1000)
        cases.append((f"WJ{d:%Y}{len(cases) + 1:05d}", h.address_code, h.address.removeprefix("上海市"),
                      d.strftime("%Y%m%d"), rng.choice(("屋顶违章搭建", "阳台外扩", "擅自改变房屋结构")),
                      "在办" if rng.random() < 0.3 else "办结", h.building.code))
    conn = open_db(data_dir / "city_management.db")
    n = {
        "shop_qr": table(conn, "shop_qr", "qrId TEXT PRIMARY KEY, creditCode TEXT, shopName TEXT, gridCode TEXT",
                         qr, ("creditCode", "gridCode")),
        "inspection": table(conn, "inspection", "inspectionId TEXT PRIMARY KEY, qrId TEXT, checkDate TEXT,"
                            " result TEXT, inspector TEXT, gridCode TEXT, dept TEXT, remark TEXT, request_key TEXT UNIQUE",
                            [(*r, "城管", FINDINGS[r[3] == "合格"][i % 3], None) for i, r in enumerate(insp)],
                            ("qrId", "gridCode", "result")),
        "violation": table(conn, "violation", "caseNo TEXT PRIMARY KEY, qrId TEXT, occurDate TEXT,"
                           " violationType TEXT, status TEXT, gridCode TEXT", viol, ("qrId", "gridCode", "status")),
        "construction_case": table(conn, "construction_case", "caseNo TEXT PRIMARY KEY, addressCode TEXT,"
                                   " addressText TEXT, foundDate TEXT, description TEXT, status TEXT, gridCode TEXT",
                                   cases, ("addressCode", "gridCode", "status")),
    }
    conn.close()
    return n


def write_greening(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:greening")
    rows = [[s.credit_code, s.name, flag(rng.random() < 0.88, "zh"), flag(rng.random() < 0.9, "zh"),
             fmt_date(_days_ago(rng, 1, 400), 1), s.building.compound.committee.code] for s in world.shops]
    used = {s.credit_code for s in world.shops}
    rows += [[new_credit_code(rng, used, True), "无照摊点", "否", "否", fmt_date(_days_ago(rng, 1, 400), 1),
              rng.choice(world.committees).code] for _ in range(max(1, len(rows) // 200))]
    conn = open_db(data_dir / "greening.db")
    n = {"appearance": table(conn, "appearance", "creditCode TEXT PRIMARY KEY, shopName TEXT, shopFront TEXT,"
                             " wasteSorting TEXT, lastCheck TEXT, areaCode TEXT", rows,
                             ("areaCode", "shopFront", "wasteSorting"))}
    conn.close()
    return n


EVENT_KINDS = {
    "lecture": ("防诈骗讲座", "养老政策宣讲", "垃圾分类知识讲座"),
    "health": ("社区义诊", "老年人健康体检", "中医养生课堂"),
    "arts": ("书法沙龙", "沪剧欣赏会", "合唱团排练"),
    "sports": ("太极拳培训", "广场舞比赛", "亲子运动会"),
    "volunteer": ("助老志愿服务", "社区清洁日", "敬老院慰问"),
}


def write_culture(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:culture")
    by_comm: dict[str, list[Person]] = defaultdict(list)
    for p in world.persons:
        if p.age >= 6:
            by_comm[p.house.building.compound.committee.code].append(p)
    elders = [p for p in world.persons if p.age >= 60]
    adults = [p for p in world.persons if p.age >= 6]
    events, regs = [], []
    for i in range(max(1, round(300 * len(world.persons) / 83000))):
        cat = rng.choice(tuple(EVENT_KINDS))
        wide = rng.random() < 0.2
        comm = rng.choice(world.committees)
        area = SUBDISTRICT_CODE if wide else comm.code
        when = dt.datetime.combine(AS_OF, dt.time(rng.choice((9, 10, 14, 15, 19)))) + dt.timedelta(days=rng.randint(-330, 30))
        cap = rng.choice((20, 30, 50, 80, 120, 200)) if wide else rng.choice((20, 30, 40, 60))
        eid = f"EV{when:%Y}{i + 1:04d}"
        venue = "曹杨新村街道社区文化活动中心" if wide else f"{comm.name.removesuffix('居委会')}睦邻点"
        events.append((eid, rng.choice(EVENT_KINDS[cat]), cat, when.strftime("%Y-%m-%d %H:%M"), venue, cap, area))
        local = by_comm[comm.code] or adults
        chosen: set[str] = set()
        for _ in range(int(cap * rng.uniform(0.4, 1.0))):
            r = rng.random()
            p = rng.choice(elders if r < 0.6 and elders else local if not wide and r < 0.9 else adults)
            if p.id_number in chosen:
                continue
            chosen.add(p.id_number)
            reg = when - dt.timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 600))
            attended = when.date() < AS_OF and rng.random() < 0.82
            regs.append((f"R{len(regs) + 1:07d}", eid, src_id(p.id_number, rng, 0.2),
                         reg.strftime("%Y-%m-%dT%H:%M:%S"), int(attended), area,
                         p.house.building.compound.committee.code))
    conn = open_db(data_dir / "culture.db")
    n = {
        "event": table(conn, "event", "eventId TEXT PRIMARY KEY, title TEXT, category TEXT, eventDate TEXT,"
                       " venue TEXT, capacity INTEGER, areaCode TEXT", events, ("areaCode", "category")),
        "registration": table(conn, "registration", f"regId TEXT PRIMARY KEY, eventId TEXT, idCard {NOCASE},"
                              " regTime TEXT, attended INTEGER, areaCode TEXT, residentArea TEXT,"
                              " request_key TEXT UNIQUE", [(*r, None) for r in regs],
                              ("eventId", "idCard", "areaCode", "residentArea")),
    }
    conn.close()
    return n


COMPLAINTS = {
    "噪音扰民": "楼上装修噪音严重，影响休息", "房屋漏水": "卫生间漏水至楼下，要求维修",
    "垃圾分类": "小区垃圾桶满溢未及时清运", "违章搭建": "邻居在屋顶搭建违章建筑",
    "油烟污染": "店铺油烟直排，影响居民", "占道经营": "商户在人行道上摆放货物",
    "食品安全": "购买的食品疑似过期", "其他": "咨询相关政策",
}


def write_hotline(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:hotline")
    rows = []
    shop_cats = ("油烟污染", "占道经营", "食品安全")
    for i in range(max(1, round(2500 * len(world.persons) / 83000))):
        when = dt.datetime.combine(AS_OF, dt.time(0)) - dt.timedelta(seconds=rng.randint(3600, 86400 * 400))
        r = rng.random()
        addr = cc = None
        if r < 0.7:
            h = rng.choice(world.houses)
            cat = rng.choice([c for c in COMPLAINTS if c not in shop_cats])
            addr, area = h.address_code, h.building.compound.committee.code
            summary = f"{h.address.removeprefix('上海市普陀区')}：{COMPLAINTS[cat]}"
        elif r < 0.95:
            s = rng.choice(world.shops)
            cat = rng.choice(shop_cats)
            cc, area = s.credit_code, s.building.compound.committee.code
            summary = f"{s.name}（{s.address.removeprefix('上海市')}）：{COMPLAINTS[cat]}"
        else:
            cat, area = "其他", rng.choice(world.committees).code
            summary = COMPLAINTS[cat]
        age = (AS_OF - when.date()).days
        status = "2" if age > 20 or rng.random() < 0.3 else rng.choice("01")
        rows.append((f"{when:%Y%m%d}{i + 1:05d}", when.strftime("%Y-%m-%d %H:%M:%S"), cat, status, summary,
                     addr, cc, area))
    conn = open_db(data_dir / "hotline.db")
    n = {"complaint": table(conn, "complaint", "case_no TEXT PRIMARY KEY, received_at TEXT, category TEXT,"
                            " status TEXT, summary TEXT, address_code TEXT, credit_code TEXT, area_code TEXT,"
                            " request_key TEXT UNIQUE", [(*r, None) for r in rows],
                            ("address_code", "credit_code", "area_code", "status", "category"))}
    conn.close()
    return n
