"""DESIGN section 5: the product packages are typed (mypy) and lint-clean (ruff)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = ["gateway", "resolvers", "schema", "policies", "adapters", "common"]


def test_mypy_is_clean() -> None:
    r = subprocess.run([str(BIN / "mypy"), *PACKAGES], check=False, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:]


def test_ruff_is_clean() -> None:
    r = subprocess.run([str(BIN / "ruff"), "check", *PACKAGES, "tests", "bench"], check=False, cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:]
