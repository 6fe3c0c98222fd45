"""Where a side of `gateway policy diff` comes from: a folder, the working tree, or a git revision.

- ``WORKTREE`` or ``.``: the policy folder in use (the ``policy_dir`` setting), as it is on disk;
- an existing folder: that folder (it must hold ``model.conf``);
- anything else: a git revision (``HEAD~3``, ``main``, a tag or a commit) of the repository that
  holds the policy folder; its ``model.conf`` and ``*.csv`` at that revision are read with
  ``git ls-tree`` and ``git show`` into a temporary folder.

Anything that is none of these is a ``PolicySourceError`` (``POLICY_SOURCE_NOT_FOUND``).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common.errors import PolicySourceError
from policies.loader import MODEL_FILE

WORKTREE_MARKERS = frozenset({".", "WORKTREE"})


@dataclass(frozen=True)
class Source:
    """One side: the folder to load and how to name it (the argument, and the commit for a revision)."""

    folder: Path
    name: str


def _git(cwd: Path, *args: str, spec: str) -> bytes:
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PolicySourceError(f"{spec}: git is not available ({e})", source=spec) from e
    if r.returncode != 0:
        why = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PolicySourceError(f"{spec}: not a folder, and git says: {why[-1] if why else r.returncode}",
                                source=spec)
    return r.stdout


def _revision(spec: str, worktree: Path, into: Path) -> Source:
    if not worktree.is_dir():
        raise PolicySourceError(f"{spec}: the policy folder {worktree} does not exist", source=spec)
    top = Path(_git(worktree, "rev-parse", "--show-toplevel", spec=spec).decode().strip())
    rel = worktree.resolve().relative_to(top.resolve()).as_posix()
    try:
        commit = _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}",
                      spec=spec).decode().strip()
    except PolicySourceError as e:
        raise PolicySourceError(f"{spec}: neither a folder nor a git revision of {top}", source=spec) from e
    names = [n for n in _git(top, "ls-tree", "-z", "--name-only", commit, "--", f"{rel}/",
                             spec=spec).decode().split("\0") if n]
    wanted = [n for n in names if n.endswith(".csv") or n.rsplit("/", 1)[-1] == MODEL_FILE]
    if not any(n.rsplit("/", 1)[-1] == MODEL_FILE for n in wanted):
        raise PolicySourceError(f"{spec}: no {rel}/{MODEL_FILE} at that revision", source=spec)
    for name in wanted:
        (into / name.rsplit("/", 1)[-1]).write_bytes(_git(top, "show", f"{commit}:{name}", spec=spec))
    return Source(into, f"{spec} ({commit[:12]})")


@contextmanager
def policy_source(spec: str, worktree: Path) -> Iterator[Source]:
    """The policy folder ``spec`` names (see the module doc); a revision's copy is removed afterwards."""
    if spec in WORKTREE_MARKERS:
        yield Source(worktree, "WORKTREE")
        return
    folder = Path(spec)
    if folder.is_dir():
        if not (folder / MODEL_FILE).is_file():
            raise PolicySourceError(f"{spec}: a folder without {MODEL_FILE}, not a policy folder", source=spec)
        yield Source(folder, spec)
        return
    tmp = Path(tempfile.mkdtemp(prefix="policy-rev-"))
    try:
        yield _revision(spec, worktree, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
