"""Small helpers shared by the department writers."""
from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path


def open_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def table(
    conn: sqlite3.Connection,
    name: str,
    ddl: str,
    rows: Iterable[Sequence[object]],
    indexes: Sequence[str] = (),
) -> int:
    """Create table `name` (ddl is the column list), insert rows, index the named columns.

    An index entry may be a column name or an expression like "upper(sfzh)".
    """
    conn.execute(f"CREATE TABLE {name} ({ddl})")
    rows = list(rows)
    if rows:
        marks = ",".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
    for i, col in enumerate(indexes):
        conn.execute(f"CREATE INDEX ix_{name}_{i} ON {name} ({col})")
    conn.commit()
    return len(rows)


def src_id(pid: str, rng: random.Random, lower_rate: float) -> str:
    """The ID number as a department wrote it: some X check chars typed as lower-case x."""
    return pid[:17] + "x" if pid[17] == "X" and rng.random() < lower_rate else pid


def flag(value: bool, style: str) -> str | int:
    """Render a boolean in a department's vocabulary: '10' -> 1/0, 'YN' -> Y/N, 'zh' -> 是/否."""
    if style == "10":
        return 1 if value else 0
    if style == "YN":
        return "Y" if value else "N"
    return "是" if value else "否"
