"""bench/scale.py --tiny runs both sizes end to end and writes its table (timings are never judged here)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_scale_run_reports_every_query_at_both_sizes(tmp_path: Path) -> None:
    out = tmp_path / "scale.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--tiny", "--out", str(out)], check=False,
                       cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "BENCH_SCALE_DIR": str(tmp_path)})  # it rewrites a ledger file: its own data
    assert r.returncode == 0, r.stderr[-2000:]
    report = out.read_text()
    assert ("| query | cold 3,000 | warm 3,000 | cold 6,000 | warm 6,000 | rows 3,000 | rows 6,000 | growth "
            "| growth per row | target | errors |") in report
    rows = [ln.split("|") for ln in report.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(rows) == 7
    for row in rows:
        assert all(float(v) > 0 for v in row[2:6] + row[8:9]), row  # every query timed at both sizes
        assert row[11].strip() == "-", row  # no query answered with an error
    for row in rows[:2]:  # the row queries, traced (developer): their rows and the growth per row
        assert int(row[6]) > 0 and int(row[7]) > 0 and float(row[9]) > 0, row
    assert "not up" not in report
    swaps = [ln for ln in report.splitlines() if ln.startswith("- a new version of hr_social's ledger")]
    assert len(swaps) == 2 and all("after the rename" in ln and ln.endswith("errors: none") for ln in swaps), swaps
