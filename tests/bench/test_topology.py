"""bench/topology.py runs end to end (nginx, gateway processes, Redis) and writes its table."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_topology_bench_runs(tmp_path: Path) -> None:
    out = tmp_path / "topology.md"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "topology.py"), "--seconds", "2", "--clients", "4",
                        "--persons", "3000", "--out", str(out)], capture_output=True, text=True, timeout=600,
                       check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [ln for ln in out.read_text(encoding="utf-8").splitlines() if ln.startswith(("| 1 |", "| 3 |"))]
    assert len(rows) == 2 and all("200:" in r for r in rows), out.read_text()
