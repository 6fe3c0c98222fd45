"""Deterministic generator of the fifteen demo department stores.

    python -m demo.generate --dir /tmp/demo --persons 83000 --seed 20261122
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import time
from collections.abc import Callable

from demo import depts_http, depts_ledger, depts_sql
from demo.codes import AS_OF
from demo.world import World, build_world

GENERATOR_VERSION = "1"
MANIFEST = "manifest.json"

Writer = Callable[[World, pathlib.Path], dict[str, int]]
WRITERS: dict[str, Writer] = {
    "population": depts_sql.write_population,
    "civil_affairs": depts_sql.write_civil_affairs,
    "market": depts_sql.write_market,
    "water": depts_sql.write_water,
    "housing": depts_http.write_housing,
    "health": depts_http.write_health,
    "education": depts_http.write_education,
    "city_management": depts_http.write_city_management,
    "greening": depts_http.write_greening,
    "culture": depts_http.write_culture,
    "hotline": depts_http.write_hotline,
    "hr_social": depts_ledger.write_hr_social,
    "disability": depts_ledger.write_disability,
    "veterans": depts_ledger.write_veterans,
    "fire": depts_ledger.write_fire,
}


def _is_current(data_dir: pathlib.Path, persons: int, seed: int) -> bool:
    try:
        m = json.loads((data_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        m.get("seed") == seed
        and m.get("persons") == persons
        and m.get("generator_version") == GENERATOR_VERSION
        and m.get("complete") is True
        and set(m.get("departments", {})) == set(WRITERS)
    )


def ensure_demo_data(data_dir: pathlib.Path, persons: int = 83000, seed: int = 20261122) -> pathlib.Path:
    """Generate the demo department data into data_dir unless its manifest already matches.

    Generation happens in a temporary sibling directory that is renamed into place; the
    manifest is written last, so an interrupted run is detected and regenerated.
    """
    data_dir = pathlib.Path(data_dir).resolve()
    if _is_current(data_dir, persons, seed):
        return data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = data_dir.with_name(f".{data_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        started = time.monotonic()
        world = build_world(persons, seed)
        counts = {slug: write(world, tmp) for slug, write in WRITERS.items()}
        manifest = {
            "generator_version": GENERATOR_VERSION, "seed": seed, "persons": persons,
            "as_of": AS_OF.isoformat(), "seconds": round(time.monotonic() - started, 2),
            "departments": counts, "complete": True,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        if data_dir.exists():
            old = data_dir.with_name(f".{data_dir.name}.old-{os.getpid()}")
            data_dir.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(data_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return data_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m demo.generate", description=__doc__)
    ap.add_argument("--dir", type=pathlib.Path, required=True)
    ap.add_argument("--persons", type=int, default=83000)
    ap.add_argument("--seed", type=int, default=20261122)
    a = ap.parse_args(argv)
    out = ensure_demo_data(a.dir, a.persons, a.seed)
    m = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    print(json.dumps(m, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
