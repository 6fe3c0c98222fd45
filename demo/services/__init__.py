"""The seven HTTP department services (one starlette app per department)."""
from __future__ import annotations

import importlib
from pathlib import Path

from starlette.applications import Starlette

from demo.services.common import Service

SLUGS: tuple[str, ...] = ("housing", "health", "education", "city_management", "greening", "culture", "hotline")


def service(slug: str) -> Service:
    if slug not in SLUGS:
        raise ValueError(f"unknown HTTP department {slug!r}; expected one of {', '.join(SLUGS)}")
    return importlib.import_module(f"demo.services.{slug}").SERVICE


def create_app(slug: str, data_dir: Path) -> Starlette:
    from demo.services.common import build_app

    return build_app(service(slug), data_dir)
