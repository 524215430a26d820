"""ruff on staged Python text, while the hook parses (the runners are
``astm.validate.ruff.run`` and ``run_files``, shared with the engine's validators)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from astm.hook.finding import Problem

if TYPE_CHECKING:
    from astm.validate.ruff import Finding

TIMEOUT = 60.0


def find() -> str | None:
    """The ruff executable, as the validators find it."""
    from astm.validate.ruff import ruff_command

    cmd = ruff_command()
    return cmd[0] if cmd and len(cmd) == 1 else None


class Ruff:
    """Started checks; ``result(path)`` waits for one: its problems, or an error line.

    Files staged as they are on disk (the usual ``git add`` then commit) go to one ruff
    process together; the others, one process each with the staged text on stdin. Plain
    threads: a commit stages a handful of files, and ``concurrent.futures`` would bring in
    ``logging`` for nothing."""

    def __init__(self, exe: str, cwd: Path, files: dict[str, bytes]) -> None:
        self.exe, self.cwd = exe, cwd
        self._results: dict[str, list[Problem] | str] = {}
        self._threads: dict[str, threading.Thread] = {}
        on_disk = {p: d for p, d in files.items() if _on_disk(cwd, p, d)}
        if on_disk:
            batch = self._start(self._many, on_disk)
            self._threads.update(dict.fromkeys(on_disk, batch))
        for path, data in files.items():
            if path not in on_disk:
                self._threads[path] = self._start(self._one, path, data)

    def result(self, path: str) -> list[Problem] | str:
        self._threads[path].join()
        return self._results.get(path, f"ruff did not run on {path}")

    @staticmethod
    def _start(target: Callable[..., None], *args: object) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name="ruff", daemon=True)
        t.start()
        return t

    def _one(self, path: str, data: bytes) -> None:
        from astm.validate.ruff import run

        got = run(self.cwd, path, data, [self.exe])
        self._results[path] = got if isinstance(got, str) else _problems(got)

    def _many(self, files: dict[str, bytes]) -> None:
        from astm.validate.ruff import run_files

        got = run_files(self.cwd, files, [self.exe])
        for path in files:
            self._results[path] = got if isinstance(got, str) else _problems(got[path])


def _on_disk(cwd: Path, path: str, data: bytes) -> bool:
    """Whether the work tree holds ``path`` as staged (a regular file, same bytes)."""
    full = cwd / path
    try:
        return not full.is_symlink() and full.stat().st_size == len(data) and full.read_bytes() == data
    except OSError:
        return False


def _problems(found: list[Finding]) -> list[Problem]:
    return [Problem(f.row, f.column, f"{f.code} {f.message}", "ruff") for f in found]
