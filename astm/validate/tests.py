"""Root-level validation: the project's tests, run in the root worktree.

Default (``tests = "auto"``): pytest on the test files that import a changed module,
falling back to the whole suite when none does; nothing when the project has no tests.
The root worktree is fully checked out at the composed commit, and its source folders
come first on ``PYTHONPATH`` so the code under test is the composed one, not the user's
working tree (which an editable install would otherwise point at).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from astm.lang import find
from astm.validate.diagnostic import Diagnostic

_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")


def module_names(path: str) -> list[str]:
    """Import names a changed file may be imported by: ``src/pkg/mod.py`` -> pkg.mod, mod.
    Its language says (``Language.module_names``); none for a file nothing imports."""
    lang = find(path)
    return lang.module_names(path) if lang is not None else []


def select(
    files: list[str], changed: list[str], read: Callable[[str], bytes]
) -> list[str] | None:
    """Test files importing a changed module; None means the whole suite; [] no tests."""
    tests = [f for f in files if _TEST_FILE.search(f)]
    if not tests:
        return []
    names = {n for c in changed for n in module_names(c)}
    if not names:
        return None
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(
        rf"^\s*(from\s+({alt})(\s|\.)|import\s+({alt})(\s|,|$|\.)|from\s+\S+\s+import\s+.*\b({alt})\b)",
        re.MULTILINE,
    )
    picked = [t for t in tests if pattern.search(read(t).decode("utf-8", "replace"))]
    return picked or None


def python_of(workdir: Path) -> str:
    """The user's own interpreter: the project's .venv, the active venv, or ours."""
    for venv in (workdir / ".venv", workdir / "venv"):
        exe = venv / "bin" / "python"
        if exe.exists():
            return str(exe)
    active = os.environ.get("VIRTUAL_ENV")
    if active and (Path(active) / "bin" / "python").exists():
        return str(Path(active) / "bin" / "python")
    return sys.executable


def run(
    cwd: Path,
    command: list[str],
    *,
    timeout: float,
    env: dict[str, str],
    unavailable: str = "fail",
) -> tuple[Diagnostic | None, str | None]:
    """``(failure, warning)``: a failure blocks landing; a warning lands with the run.

    Tests that exist but cannot be run (the command or pytest is missing) are a failed
    check, never a quiet note: ``unavailable = "warn"`` ([tool.astm.validate]
    tests_unavailable) turns that one case into a warning the summary and --json show.
    """
    why = _run(cwd, command, timeout=timeout, env=env)
    if not isinstance(why, str):
        return why, None
    if unavailable == "warn":
        return None, f"tests not run: {why}"
    return Diagnostic(
        f"tests could not run: {why}; install it, or set [tool.astm.validate] "
        'tests_unavailable = "warn" (or tests = "off")',
        "tests",
    ), None


def _run(cwd: Path, command: list[str], *, timeout: float, env: dict[str, str]) -> Diagnostic | str | None:
    """The failure, why the tests could not run (a str), or None: they passed."""
    paths = [str(cwd / "src"), str(cwd)]
    env = {**env, "PYTHONPATH": os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(  # noqa: PLW1510 - the exit code is read below
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return f"{command[0]} not found"
    except subprocess.TimeoutExpired:
        return Diagnostic(f"the tests did not finish within {timeout:.0f}s", "tests")
    out = proc.stdout + proc.stderr
    if "No module named pytest" in out:
        return f"pytest is not installed for {command[0]}"
    if proc.returncode in (0, 5):  # 5: pytest collected nothing
        return None
    failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    summary = [ln for ln in out.splitlines() if ln.strip()][-1:] or [f"exit {proc.returncode}"]
    first = failed[0] if failed else summary[0].strip("= ")
    return Diagnostic(f"tests failed: {first} (command: {shlex.join(command)})", "tests", raw=out.strip())
