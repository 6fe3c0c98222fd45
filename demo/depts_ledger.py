"""Ledger departments: files exported the way a department would (CSV / XLSX)."""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from openpyxl import Workbook

from demo import names
from demo.codes import AS_OF, fmt_date
from demo.store import src_id
from demo.world import World, new_credit_code, random_id_number

Counts = dict[str, int]
HR_STATUS = {"EMPLOYED": "在职", "UNEMPLOYED": "失业", "RETIRED": "退休", "STUDENT": "学生", "OTHER": "其他"}
HR_PENSION = {"RECEIVING": "领取", "CONTRIBUTING": "缴纳", "NONE": "无"}
HR_HEADER = ("身份证号", "姓名", "就业状态", "工作单位", "养老保险状态", "居委代码", "登记日期")


def write_hr_social(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:hr_social")
    rows = []
    for p in world.persons:
        age = p.age
        if age < 16:
            continue
        retire_age = 60 if p.male else 55
        if age >= retire_age and rng.random() < 0.95:
            status = "RETIRED"
        elif age <= 22 and rng.random() < 0.8:
            status = "STUDENT"
        else:
            status = rng.choices(("EMPLOYED", "UNEMPLOYED", "OTHER"), (85, 6, 9))[0]
        pension = {"RETIRED": "RECEIVING", "EMPLOYED": "CONTRIBUTING"}.get(status, "NONE")
        work = names.employer(rng) if status == "EMPLOYED" else ""
        rows.append([src_id(p.id_number, rng, 0.6), p.name, HR_STATUS[status], work, HR_PENSION[pension],
                     p.house.building.compound.committee.code[-3:], _reg_date(rng)])
    used = {p.id_number for p in world.persons}
    for _ in range(max(1, len(rows) // 200)):
        rows.append([random_id_number(rng, used), names.person_name(rng, True, 1980), "在职", names.employer(rng),
                     "缴纳", rng.choice(world.committees).code[-3:], _reg_date(rng)])
    rng.shuffle(rows)
    out = data_dir / "hr_social" / "employment.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(HR_HEADER)
        w.writerows(rows)
    return {"hr_social/employment.csv": len(rows)}


def _reg_date(rng: random.Random) -> str:
    d = AS_OF - dt.timedelta(days=rng.randint(1, 3650))
    return fmt_date(d, rng.choices((0, 1, 2), (50, 30, 20))[0])


DIS_CATEGORY = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
DIS_GRADE = ("一级", "二级", "三级", "四级")
DIS_HEADER = ("序号", "姓名", "性别", "身份证号", "残疾证号", "残疾类别", "残疾等级", "发证日期", "所属居委", "联系电话")


def write_disability(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:disability")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名册")
    ws.append(DIS_HEADER)
    chosen = [p for p in world.persons if rng.random() < (0.06 if p.age >= 70 else 0.018)]
    used = {p.id_number for p in world.persons}
    extra = max(1, len(chosen) // 200)
    n = 0
    for i in range(len(chosen) + extra):
        p = chosen[i] if i < len(chosen) else None
        cat = rng.choices(range(7), (10, 14, 3, 42, 10, 14, 7))[0]
        grade = rng.choices(range(4), (12, 24, 30, 34))[0]
        pid = p.id_number if p else random_id_number(rng, used)
        cert = f"{pid}{cat + 1}{grade + 1}"
        issued = AS_OF - dt.timedelta(days=rng.randint(30, 6000))
        ws.append([i + 1, (p.name if p else names.person_name(rng, True, 1970)),
                   ("男" if p.male else "女") if p else "男", src_id(pid, rng, 0.25), cert,
                   DIS_CATEGORY[cat], DIS_GRADE[grade], issued,
                   (p.house.building.compound.committee.code if p else rng.choice(world.committees).code),
                   (p.phone or "") if p else ""])
        n += 1
    out = data_dir / "disability" / "disabled_persons.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return {"disability/disabled_persons.xlsx": n}


VET_HEADER = ("id_no", "name", "category", "branch", "discharge_year", "building_code", "phone")
BRANCHES = ("陆军", "海军", "空军", "火箭军", "武警部队")


def write_veterans(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:veterans")
    rows = []
    for p in world.persons:
        if p.age < 22 or rng.random() > (0.028 if p.male else 0.003):
            continue
        cat = rng.choices(("1", "2", "3"), (86, 9, 5))[0]
        if cat == "3":
            branch, year = "", ""
        else:
            branch = rng.choice(BRANCHES)
            year = str(min(AS_OF.year - 1, p.birth.year + rng.randint(20, 30)))
        rows.append([" " + p.id_number if rng.random() < 0.02 else p.id_number, p.name, cat, branch, year,
                     p.house.building.code, p.phone or ""])
    used = {p.id_number for p in world.persons}
    for _ in range(max(1, len(rows) // 200)):
        rows.append([random_id_number(rng, used), names.person_name(rng, True, 1955), "1", "陆军", "1978",
                     rng.choice(world.buildings).code, ""])
    out = data_dir / "veterans" / "veterans.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(VET_HEADER)
        w.writerows(rows)
    return {"veterans/veterans.csv": len(rows)}


FIRE_HEADER = ("检查编号", "检查对象类型", "统一社会信用代码", "楼栋编码", "检查日期", "检查结果", "隐患描述", "检查人")
HAZARDS = ("灭火器过期", "疏散通道堆物", "电线私拉乱接", "安全出口锁闭", "电动自行车楼道充电", "燃气软管老化")


def write_fire(world: World, data_dir: Path) -> Counts:
    rng = random.Random(f"{world.seed}:fire")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("检查台账")
    ws.append(FIRE_HEADER)
    inspectors = [names.person_name(rng, True, 1990) for _ in range(8)]
    targets = [("单位", s.credit_code, s.building.code) for s in world.shops for _ in range(rng.randint(1, 2))]
    targets += [("楼栋", "", b.code) for b in world.buildings if rng.random() < 0.6]
    used = {s.credit_code for s in world.shops}
    targets += [("单位", new_credit_code(rng, used, True), rng.choice(world.buildings).code)
                for _ in range(max(1, len(targets) // 200))]
    rng.shuffle(targets)
    for i, (kind, cc, bld) in enumerate(targets, 1):
        d = AS_OF - dt.timedelta(days=rng.randint(1, 720))
        hazard = rng.random() < 0.18
        when: dt.date | str = d if rng.random() < 0.7 else fmt_date(d, rng.choice((0, 1, 2)))
        ws.append([f"XF{d:%Y}{i:06d}", kind, cc, bld if kind == "楼栋" or rng.random() < 0.9 else "", when,
                   "有隐患" if hazard else "合格", "；".join(rng.sample(HAZARDS, rng.randint(1, 2))) if hazard else "",
                   rng.choice(inspectors)])
    out = data_dir / "fire" / "fire_checks.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return {"fire/fire_checks.xlsx": len(targets)}
