#!/usr/bin/env python3
"""One-command setup for newcomers and CI: needs only Python 3.11+.

usage: python3 dev.py {demo,test,setup} [ARGS ...]

    python3 dev.py demo    # create .venv, install pinned deps, serve the demo on :8000
    python3 dev.py test    # create .venv, install pinned deps, run the whole test suite
    python3 dev.py setup   # only create .venv and install the pinned deps

Extra arguments go to `gateway serve --demo` (e.g. --port 9000) or to pytest (e.g. -k access).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed")
    want = hashlib.sha256((ROOT / "requirements.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want and (BIN / "gateway").exists():
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    print("installing pinned dependencies (requirements.lock) ...", flush=True)
    subprocess.run([*pip, "-r", str(ROOT / "requirements.lock")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(want)


# Debian packages the tests drive: Chromium (tests/gateway/test_graphiql.py, the policy matrix page) and
# nginx (tests/deploy: the shipped configuration in front of three replicas)
TEST_PACKAGES = {"chromium": "/usr/bin/chromium", "chromium-driver": "/usr/bin/chromedriver",
                 "nginx-light": "/usr/sbin/nginx"}


def ensure_test_packages() -> None:
    """Installed here with apt-get when running as root, else we say how."""
    missing = [pkg for pkg, path in TEST_PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    if getattr(os, "geteuid", lambda: -1)() == 0 and shutil.which("apt-get"):
        print(f"installing {', '.join(missing)} for the browser and nginx tests (apt-get) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        if subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, check=False).returncode == 0:
            return
    print(f"NOTE: the browser and nginx tests need {', '.join(TEST_PACKAGES)} and fail without them. Install "
          f"them with:\n  sudo apt-get update && sudo apt-get install -y {' '.join(missing)}",
          file=sys.stderr, flush=True)


COMMANDS = ("demo", "test", "setup")


def main() -> int:
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help", "help"):
        print((__doc__ or "").strip())
        return 0
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print((__doc__ or "").strip(), file=sys.stderr)
        if len(sys.argv) >= 2:
            print(f"\ndev.py: unknown command {sys.argv[1]!r} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    ensure_venv()
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        return 0
    os.chdir(ROOT)
    if cmd == "demo":
        return subprocess.call([str(BIN / "gateway"), "serve", "--demo", *rest])
    ensure_test_packages()
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest])


if __name__ == "__main__":
    sys.exit(main())
