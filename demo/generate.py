"""Deterministic generator of the sixteen demo department stores.

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

from demo import depts_http, depts_ledger, depts_records, depts_sql
from demo.codes import AS_OF
from demo.world import World, build_world

GENERATOR_VERSION = "8"  # bump whenever the output changes: cached demo data is then regenerated
MANIFEST = "manifest.json"

Writer = Callable[[World, pathlib.Path], dict[str, int]]
Progress = Callable[[str], None]
WRITERS: dict[str, Writer] = {
    "population": depts_sql.write_population,
    "civil_affairs": depts_sql.write_civil_affairs,
    "market": depts_sql.write_market,
    "water": depts_sql.write_water,
    "committee_records": depts_records.write_committee_records,
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


def to_stderr(line: str) -> None:
    """The default progress reporter of the command-line entry points."""
    print(line, file=sys.stderr, flush=True)


def ensure_demo_data(data_dir: pathlib.Path, persons: int = 83000, seed: int = 20261122,
                     progress: Progress | None = None) -> pathlib.Path:
    """Generate the demo department data into data_dir unless its manifest already matches.

    Generation happens in a temporary sibling directory that is renamed into place; the
    manifest is written last, so an interrupted run is detected and regenerated.
    ``progress`` receives one line per step (the world, then each department).
    """
    report = progress or (lambda line: None)
    data_dir = pathlib.Path(data_dir).resolve()
    if _is_current(data_dir, persons, seed):
        return data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = data_dir.with_name(f".{data_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        started = time.monotonic()
        report(f"generating demo data in {data_dir} ({persons} residents, seed {seed})")
        world = build_world(persons, seed)
        report(f"  world: {len(world.persons)} residents in {len(world.houses)} houses, "
               f"{len(world.shops)} shops ({time.monotonic() - started:.1f} s)")
        counts: dict[str, dict[str, int]] = {}
        for i, (slug, write) in enumerate(WRITERS.items(), 1):
            t0 = time.monotonic()
            counts[slug] = write(world, tmp)
            report(f"  [{i:2}/{len(WRITERS)}] {slug}: {sum(counts[slug].values())} records "
                   f"({time.monotonic() - t0:.1f} s)")
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
    out = ensure_demo_data(a.dir, a.persons, a.seed, progress=to_stderr)
    m = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    print(json.dumps(m, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
