"""ruff on staged Python text, one process per file, all at once.

The text goes in on stdin with ``--stdin-filename``, so the project's ruff configuration
(and its excludes, with ``--force-exclude``) applies as if the file were on disk; nothing
is written (``--no-fix --no-cache``). Syntax errors are left to ``compile()``.

This runner belongs with the validators in ``astm/validate/`` (the house rule for
validator subprocesses); it lives here until the Python validators (issue 3) land there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from astm.hook.finding import Problem

TIMEOUT = 60.0


def find() -> str | None:
    """The ruff executable: beside this Python first (a venv), then on PATH."""
    here = os.path.dirname(sys.executable)
    return shutil.which("ruff", path=os.pathsep.join([here, os.environ.get("PATH", "")]))


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
        cmd = [
            self.exe,
            "check",
            "--no-fix",
            "--no-cache",
            "--exit-zero",
            "--force-exclude",
            "--output-format=json",
            "--stdin-filename",
            path,
            "-",
        ]
        try:
            proc = subprocess.run(
                cmd, cwd=self.cwd, input=data, capture_output=True, timeout=TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"ruff could not run: {exc}"
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            return f"ruff failed on {path}: {err[-1] if err else f'exit {proc.returncode}'}"
        try:
            items = json.loads(proc.stdout or b"[]")
        except ValueError:
            return f"ruff gave unreadable output on {path}"
        out = []
        for item in items:
            code = item.get("code")
            if not code:  # a syntax error: compile() reports it
                continue
            loc = item.get("location") or {}
            out.append(
                Problem(
                    loc.get("row"), loc.get("column"), f"{code} {item.get('message', '')}", "ruff"
                )
            )
        return out
