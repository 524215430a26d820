"""Where a build reads its input: a commit (branch builds) or the working tree (``--write``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from astm.workspace.repo import Repo

if TYPE_CHECKING:
    import pygit2

# Folders no spec lives in (virtual environments, caches, build output).
SKIP_DIRS = frozenset({"__pycache__", ".venv", "venv", "node_modules", "build", "dist",
                       "site-packages", ".git", ".tox", ".nox", ".mypy_cache", ".ruff_cache"})


class Source(Protocol):
    def files(self, roots: tuple[str, ...]) -> list[str]: ...  # regular files under roots

    def read(self, path: str) -> bytes | None: ...  # None: absent

    def is_dir(self, path: str) -> bool: ...


def _skipped(path: str) -> bool:
    parts = path.split("/")[:-1]
    return any(p in SKIP_DIRS or p.startswith(".") for p in parts)


def under(path: str, roots: tuple[str, ...]) -> bool:
    return any(r == "." or path.startswith(r + "/") for r in roots)


@dataclass
class CommitSource:
    """The files of one commit, read with pygit2 (the user's checkout is not looked at)."""

    repo: Repo
    commit: pygit2.Oid
    _files: list[str] | None = field(default=None, init=False)

    def files(self, roots: tuple[str, ...] = (".",)) -> list[str]:
        if self._files is None:
            self._files = [p for p in self.repo.list_files(self.commit) if not _skipped(p)]
        return [p for p in self._files if under(p, roots)]

    def read(self, path: str) -> bytes | None:
        try:
            return self.repo.read_blob(self.commit, path)
        except Exception:  # noqa: BLE001 - absent, a link, a submodule: not an input
            return None

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self.files())


@dataclass
class WorkSource:
    """The working tree as it is on disk (``--write``): what the user is editing.

    Each file is read once per build: discovery, staleness, the prompts and every
    module's sandbox see the same bytes (one snapshot, as a commit is), and a build of
    N modules reads its inputs once, not N times."""

    root: Path
    _walked: dict[str, list[str]] = field(default_factory=dict, init=False)
    _read: dict[str, bytes | None] = field(default_factory=dict, init=False)

    def files(self, roots: tuple[str, ...] = (".",)) -> list[str]:
        out: set[str] = set()
        for r in roots:
            if r not in self._walked:
                self._walked[r] = self._walk(r)
            out.update(self._walked[r])
        return sorted(out)

    def _walk(self, top: str) -> list[str]:
        out: list[str] = []
        start = self.root / top
        if start.is_symlink() or not start.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for f in filenames:
                if not f.endswith(".py"):
                    continue
                full = Path(dirpath) / f
                if full.is_symlink() or not full.is_file():
                    continue
                out.append(f if rel == "." else f"{rel}/{f}")
        return out

    def read(self, path: str) -> bytes | None:
        if path not in self._read:
            self._read[path] = self._read_disk(path)
        return self._read[path]

    def _read_disk(self, path: str) -> bytes | None:
        full = self.root / path
        if full.is_symlink() or not full.is_file():
            return None
        try:
            return full.read_bytes()
        except OSError:
            return None

    def is_dir(self, path: str) -> bool:
        return (self.root / path).is_dir()
