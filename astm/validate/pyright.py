"""pyright or basedpyright at the file level, when the project configures it.

"Configures" means ``[tool.pyright]`` or ``[tool.basedpyright]`` in pyproject.toml, or a
``pyrightconfig.json`` (``validate.pyright = "auto"``); ``"on"`` forces it. Only new
*errors* inside the changed range count, against a baseline of the file at base. It runs
once per changed file after composition (which covers every class inside it): a type
checker run costs seconds, so it does not run per method.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from astm.validate.diagnostic import Diagnostic
from astm.validate.ruff import Finding, _rows, new_inside, source_line
from astm.workspace.gitenv import clean_env  # hook-exported GIT_* must not reach validators

CONFIG_FILES = ("pyproject.toml", "pyrightconfig.json")
TIMEOUT = 300


def command() -> list[str] | None:
    for exe in ("basedpyright", "pyright"):
        found = shutil.which(exe)
        if found:
            return [found]
    return None


def configured(pyproject: bytes | None, has_config_json: bool) -> bool:
    if has_config_json:
        return True
    if not pyproject:
        return False
    return b"[tool.pyright" in pyproject or b"[tool.basedpyright" in pyproject


def findings(cwd: Path, relpath: str, data: bytes) -> list[Finding] | None:
    """Errors pyright reports for ``data`` written at ``cwd/relpath``; None if absent."""
    cmd = command()
    if cmd is None:
        return None
    target = cwd / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    proc = subprocess.run(  # noqa: PLW1510 - the exit code is read below
        [*cmd, "--outputjson", relpath], cwd=cwd, capture_output=True, env=clean_env(), timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        report = json.loads(proc.stdout or b"{}")
    except ValueError:
        return None
    out = []
    lines = data.split(b"\n")
    for d in report.get("generalDiagnostics", []):
        if d.get("severity") != "error":
            continue
        row = int(d.get("range", {}).get("start", {}).get("line", 0)) + 1
        message = str(d.get("message", "")).split("\n")[0]
        out.append(Finding(str(d.get("rule") or "pyright"), message, row, 0, source_line(lines, row)))
    return out


def check(
    cwd: Path, relpath: str, base: bytes, patched: bytes,
    old_range: tuple[int, int], new_range: tuple[int, int],
) -> Diagnostic | None:
    before = findings(cwd, relpath, base)
    if before is None:
        return None
    after = findings(cwd, relpath, patched) or []
    fresh = new_inside(before, after, _rows(base, *old_range), _rows(patched, *new_range))
    if not fresh:
        return None
    f = fresh[0]
    raw = "\n".join(f"{relpath}:{x.row}: {x.code} {x.message}" for x in fresh)  # tier-4 hints
    return Diagnostic(f"pyright {f.code}: {f.message}", "pyright", f.row, False, f.text, raw=raw)
