"""ruff on staged Python text, one process per file, all at once (the runner itself is
``astm.validate.ruff.run``, shared with the engine's validators)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from astm.hook.finding import Problem

TIMEOUT = 60.0


def find() -> str | None:
    """The ruff executable, as the validators find it."""
    from astm.validate.ruff import ruff_command

    cmd = ruff_command()
    return cmd[0] if cmd and len(cmd) == 1 else None


class Ruff:
    """Started checks; ``result(path)`` waits for one: its problems, or an error line."""

    def __init__(self, exe: str, cwd: Path, files: dict[str, bytes]) -> None:
        self.exe, self.cwd = exe, cwd
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, min(8, len(files))), thread_name_prefix="ruff"
        )
        self.futures: dict[str, Future[list[Problem] | str]] = {
            path: self.pool.submit(self._one, path, data) for path, data in files.items()
        }
        self.pool.shutdown(wait=False)

    def result(self, path: str) -> list[Problem] | str:
        return self.futures[path].result()

    def _one(self, path: str, data: bytes) -> list[Problem] | str:
        from astm.validate.ruff import run

        got = run(self.cwd, path, data, [self.exe])
        if isinstance(got, str):
            return got
        return [Problem(f.row, f.column, f"{f.code} {f.message}", "ruff") for f in got]
