"""Writer for the residents' committees' own records (committee_records, SQL): visits and house status.

The one demo department the gateway writes back to: every row has a request key column
(``qqh``, UNIQUE), null for the rows the committees typed in before the gateway existed.
"""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from demo.codes import AS_OF
from demo.store import open_db, src_id, table
from demo.world import World

Counts = dict[str, int]
VISIT_KINDS = (("上门", 60), ("电话", 30), ("其他", 10))
NOTES = ("在家，身体尚好", "在家休息，血压偏高，已提醒按时服药", "电话联系，本人称一切正常", "不在家，邻居称外出买菜",
         "独居，冰箱食物充足", "家属在场，已告知助餐点开放时间", "行动不便，需协助申请居家照护", "水电费已代为缴纳",
         "已告知社区健康讲座时间", "精神状态一般，建议下周再访")
HOUSE_STATUS = {"OCCUPIED": "自住", "RENTED": "出租", "VACANT": "空置", "UNDER_RENOVATION": "装修"}


def worker_of(committee: str, n: int) -> str:
    """A committee worker's user id as the committees' system keeps it (``w`` + committee digits + n)."""
    return f"w{committee[-3:]}{n:02d}"


def write_committee_records(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:committee_records")
    kinds, weights = zip(*VISIT_KINDS, strict=True)
    visits = []
    for p in world.persons:
        age = p.age
        if not (age >= 80 or (age >= 60 and len(p.house.persons) == 1)):
            continue
        committee = p.house.building.compound.committee.code
        for _ in range(rng.choice((0, 1, 1, 2, 3, 4, 6))):
            day = AS_OF - dt.timedelta(days=rng.randint(1, 365))
            visits.append((len(visits) + 1, src_id(p.id_number, rng, 0.2), committee, f"{day:%Y-%m-%d}",
                           rng.choices(kinds, weights)[0], rng.choice(NOTES), int(rng.random() < 0.12),
                           worker_of(committee, rng.randint(1, 4)),
                           f"{day:%Y-%m-%d} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00", None))
    statuses = []
    for h in world.houses:
        if h.persons and rng.random() > 0.04:
            continue
        status = "VACANT" if not h.persons else rng.choice(("RENTED", "UNDER_RENOVATION", "OCCUPIED"))
        committee = h.building.compound.committee.code
        day = AS_OF - dt.timedelta(days=rng.randint(30, 1500))
        statuses.append((len(statuses) + 1, h.address_code, committee, HOUSE_STATUS[status], f"{day:%Y-%m-%d}",
                         worker_of(committee, rng.randint(1, 4)), None))
    conn = open_db(data_dir / "committee_records.db")
    n = {"visit_record": table(
        conn, "visit_record",
        "id INTEGER PRIMARY KEY, sfzh TEXT NOT NULL, jwh TEXT NOT NULL, zfrq TEXT NOT NULL, zflx TEXT NOT NULL,"
        " qk TEXT NOT NULL, xygz INTEGER NOT NULL, zfr TEXT NOT NULL,"
        " djsj TEXT NOT NULL DEFAULT (datetime('now', 'localtime')), qqh TEXT UNIQUE",
        visits, ("sfzh", "upper(sfzh)", "jwh")),
        "house_status": table(
        conn, "house_status",
        "id INTEGER PRIMARY KEY, fwbm TEXT NOT NULL, jwh TEXT NOT NULL, zt TEXT NOT NULL, ksrq TEXT NOT NULL,"
        " djr TEXT NOT NULL, qqh TEXT UNIQUE",
        statuses, ("fwbm", "jwh"))}
    conn.close()
    return n
