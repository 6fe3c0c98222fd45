"""The layering of DESIGN.md section 3, checked by import-linter's contracts in pyproject.toml."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_point_downward_only() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run(check=False, args=[str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
