"""The README and docs/ stand alone: no link or path leaves the repository, every relative link resolves."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
UP = re.compile(r"(?<![\w.])(?:\.\./)+[\w.\-/]*")
# Absolute paths into a file system (an endpoint such as /graphql is not one), file: URLs, home folders.
ABSOLUTE = re.compile(r"(?<![\w.:/])(?:/(?:home|work|tmp|usr|etc|opt|root|mnt|srv|Users|var/(?:lib|tmp|log))/"
                      r"|file:/|~/)")
EXTERNAL = ("http://", "https://", "mailto:")


def links(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in LINK.finditer(text)]


def inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_leaves_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    escaping = [m.group(0) for m in UP.finditer(text) if not inside(doc.parent / m.group(0))]
    assert not escaping, escaping
    absolute = [text[max(0, m.start() - 20):m.end() + 20] for m in ABSOLUTE.finditer(text)]
    assert not absolute, absolute


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+\s+(.+)$", text, re.MULTILINE)}
    for target in links(text):
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        if not path:
            assert anchor in anchors, (doc.name, target)
            continue
        resolved = doc.parent / path
        assert inside(resolved), (doc.name, target)
        assert resolved.exists(), (doc.name, target)


def test_the_readme_points_to_the_architecture() -> None:
    assert "docs/architecture.md" in links((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    text = "see [design](../shared/DESIGN.md) and `/work/shared/x.md` and [ok](docs/architecture.md)"
    assert links(text) == ["../shared/DESIGN.md", "docs/architecture.md"]
    assert [m.group(0) for m in UP.finditer(text) if not inside(ROOT / m.group(0))] == ["../shared/DESIGN.md"]
    assert ABSOLUTE.search(text) and not ABSOLUTE.search("`/graphql`, `/readyz`, GET /cg/inspections")
