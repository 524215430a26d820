"""ruff as a validator: only diagnostics that are new and inside the node count.

ruff runs as a subprocess in the node's sandbox (its working directory, where the file and
the project's ruff configuration are materialised). The content is passed on stdin with
``--stdin-filename`` so the base and the new version are checked under the same
configuration; pre-existing problems never block an edit.
"""

from __future__ import annotations

import json
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


def ruff_command() -> list[str] | None:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


def findings(cwd: Path, relpath: str, data: bytes) -> list[Finding] | None:
    """ruff's findings for ``data`` as ``relpath`` under ``cwd``; None if ruff is absent."""
    cmd = ruff_command()
    if cmd is None:
        return None
    proc = subprocess.run(  # noqa: PLW1510 - the exit code is read below
        [*cmd, "check", "--output-format=json", "--no-cache", "--exit-zero", "--no-fix",
         "--stdin-filename", relpath, "-"],
        cwd=cwd, input=data, capture_output=True, env=clean_env(), timeout=TIMEOUT,
    )
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        return None  # a broken ruff config is the project's business, not the node's
    return [
        Finding(str(i.get("code") or "E"), str(i.get("message", "")), int(i["location"]["row"]))
        for i in items
    ]


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
) -> Diagnostic | None:
    """The first new ruff finding inside the node, as a Diagnostic (line relative to it)."""
    after = findings(cwd, relpath, patched)
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
        f"ruff {f.code}: {f.message}{more}", "ruff", f.row - new_rows.start + 1, True, snippet
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
