"""bench/run.py --tiny runs end to end and writes its report (timings are never judged here)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_run_writes_every_table(tmp_path: Path) -> None:
    out = tmp_path / "tiny.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--out", str(out)], check=False,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = out.read_text()
    for w in ("W0", "W1", "W2", "W3"):
        assert f"| {w} | floor |" in report and f"| {w} | gateway |" in report
    assert "| gateway | 2 | 32 |" in report and "| floor | 1 | 32 |" in report
    assert "| gateway | 2 |" in report.split("## Resident memory")[1]
    lines = report.splitlines()
    latency = [ln.split("|") for ln in lines if ln.startswith("| W")]
    sweep = [ln.split("|") for ln in lines if ln.startswith(("| floor", "| gateway")) and ln.count("|") == 9]
    assert len(latency) == 8 and len(sweep) == 9
    assert [c[7].strip() for c in latency] == ["0"] * 8, report  # every answer was 200
    assert [c[8].strip() for c in sweep] == ["0"] * 9, report
