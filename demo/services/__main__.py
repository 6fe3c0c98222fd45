"""python -m demo.services <slug> --port P --data-dir D : run one HTTP department."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from demo.services import SLUGS, create_app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m demo.services")
    ap.add_argument("slug", choices=SLUGS)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args(argv)
    uvicorn.run(create_app(a.slug, a.data_dir), host=a.host, port=a.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
