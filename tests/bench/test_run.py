"""bench/run.py --tiny runs end to end and writes its report and chart (timings are never judged here)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("floor", "naive", "reference", "compiled")


def test_tiny_run_writes_every_table(tmp_path: Path) -> None:
    out = tmp_path / "tiny.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--out", str(out)], check=False,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = out.read_text()
    assert (tmp_path / "tiny.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "compiled vs naive on W1:" in report and "`--workers 2` / `--workers 1`" in report
    for w in ("W0", "W1", "W2", "W3"):
        for name in SERVERS:
            assert f"| {w} | {name} |" in report
    for name, workers in (("floor", 1), ("naive", 1), ("reference", 1), ("compiled", 1), ("compiled", 2)):
        for conns in (1, 8, 32, 64):
            assert f"| {name} | {workers} | {conns} |" in report
        assert f"| {name} | {workers} |" in report.split("## Resident memory")[1]
    rows = [ln.split("|") for ln in report.splitlines() if ln.startswith("| ") and "---" not in ln]
    latency = [c for c in rows if c[1].startswith(" W") and len(c) == 11]
    sweep = [c for c in rows if c[1].strip() in SERVERS and len(c) == 11]
    open_loop = [c for c in rows if c[1].strip() == "compiled" and len(c) == 10]
    assert len(latency) == 16 and len(sweep) == 20 and len(open_loop) == 2, report
    assert [c[7].strip() for c in latency] == ["0"] * 16, report  # every answer was 200
    assert [c[8].strip() for c in sweep + open_loop] == ["0"] * 22, report
