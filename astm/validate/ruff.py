"""ruff as a validator: only diagnostics that are new and inside the node count.

ruff runs as a subprocess in the node's sandbox (its working directory, where the file and
the project's ruff configuration are materialised). The content is passed on stdin with
``--stdin-filename`` so the base and the new version are checked under the same
configuration; pre-existing problems never block an edit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from astm.validate.diagnostic import Diagnostic
from astm.workspace.git import clean_env  # hook-exported GIT_* must not reach validators

CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
TIMEOUT = 60


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    row: int  # 1-based, in the file checked
    column: int = 0


def ruff_command() -> list[str] | None:
    """ruff beside this Python first (a virtual environment), then on PATH, then -m ruff."""
    here = os.path.dirname(sys.executable)
    exe = shutil.which("ruff", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


def run(cwd: Path, relpath: str, data: bytes, cmd: list[str] | None = None) -> list[Finding] | str:
    """ruff's findings for ``data`` checked as ``relpath`` under ``cwd``, or an error line.

    The text goes in on stdin, so the project's configuration (and its excludes, with
    ``--force-exclude``) applies as if the file were on disk; nothing is written. Syntax
    errors are left to ``compile()``, which reports them better.
    """
    cmd = cmd or ruff_command()
    if cmd is None:
        return "ruff is not installed"
    try:
        proc = subprocess.run(
            [*cmd, "check", "--output-format=json", "--no-cache", "--exit-zero", "--no-fix",
             "--force-exclude", "--stdin-filename", relpath, "-"],
            cwd=cwd, input=data, capture_output=True, env=clean_env(), timeout=TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ruff could not run: {exc}"
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"ruff failed on {relpath}: {err[-1] if err else f'exit {proc.returncode}'}"
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        return f"ruff gave unreadable output on {relpath}"
    out = []
    for item in items:
        if not item.get("code"):
            continue  # a syntax error
        loc = item.get("location") or {}
        out.append(Finding(str(item["code"]), str(item.get("message", "")), int(loc.get("row") or 0),
                           int(loc.get("column") or 0)))
    return out


def findings(cwd: Path, relpath: str, data: bytes) -> list[Finding] | None:
    """ruff's findings, or None when ruff cannot tell (absent, or a broken configuration:
    the project's business, not the node's)."""
    got = run(cwd, relpath, data)
    return None if isinstance(got, str) else got


def new_inside(
    before: list[Finding], after: list[Finding], old_rows: range, new_rows: range
) -> list[Finding]:
    """Findings in ``new_rows`` of ``after`` that ``old_rows`` of ``before`` did not have."""
    baseline = Counter((f.code, f.message) for f in before if f.row in old_rows)
    out = []
    for f in sorted(after, key=lambda f: f.row):
        if f.row not in new_rows:
            continue
        key = (f.code, f.message)
        if baseline[key]:
            baseline[key] -= 1
        else:
            out.append(f)
    return out


def check(
    cwd: Path,
    relpath: str,
    base: bytes,
    patched: bytes,
    old_range: tuple[int, int],
    new_range: tuple[int, int],
    baseline: list[Finding] | None = None,
    after: list[Finding] | None = None,
) -> Diagnostic | None:
    """The first new ruff finding inside the node, as a Diagnostic (line relative to it).

    ``baseline`` and ``after`` are the findings on ``base`` and ``patched`` when the caller
    has them already (computed once per content); missing ones are computed here."""
    after = after if after is not None else findings(cwd, relpath, patched)
    if after is None:
        return None
    before = baseline if baseline is not None else findings(cwd, relpath, base) or []
    old_rows = _rows(base, *old_range)
    new_rows = _rows(patched, *new_range)
    fresh = new_inside(before, after, old_rows, new_rows)
    if not fresh:
        return None
    f = fresh[0]
    lines = patched.split(b"\n")
    snippet = lines[f.row - 1].decode("utf-8", "replace") if f.row <= len(lines) else ""
    more = f" (+{len(fresh) - 1} more)" if len(fresh) > 1 else ""
    return Diagnostic(
        f"ruff {f.code}: {f.message}{more}", "ruff", f.row - new_rows.start + 1, True, snippet,
        raw="\n".join(f"{relpath}:{x.row}: {x.code} {x.message}" for x in fresh),
    )


def _rows(data: bytes, start: int, end: int) -> range:
    first = data.count(b"\n", 0, start) + 1
    last = first + data.count(b"\n", start, max(start, end - 1))
    return range(first, last + 1) if end > start else range(first, first)


def sort_imports(cwd: Path, relpath: str, original: bytes | None, new: bytes) -> bytes:
    """``new`` (an import block) in the project's import order, by ruff's isort rules.

    Left as it is when ruff is absent or when the ``original`` block was not sorted to
    begin with: a project that does not sort its imports keeps its order.
    """
    cmd = ruff_command()
    if cmd is None:
        return new
    base = [*cmd, "check", "--select", "I", "--no-cache", "--exit-zero", "--stdin-filename", relpath]
    if original is not None:
        probe = subprocess.run(  # noqa: PLW1510 - the output is read, not the exit code
            [*base, "--output-format=json", "-"], cwd=cwd, input=original, capture_output=True, env=clean_env(),
            timeout=TIMEOUT,
        )
        try:
            if json.loads(probe.stdout or b"[]"):
                return new
        except ValueError:
            return new
    fixed = subprocess.run(  # noqa: PLW1510
        [*base, "--fix", "-"], cwd=cwd, input=new, capture_output=True, env=clean_env(), timeout=TIMEOUT
    )
    out = fixed.stdout
    return out if out.strip() and fixed.returncode == 0 else new
