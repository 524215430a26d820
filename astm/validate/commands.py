"""A project's own validator commands for a node kind (``[tool.astm.validate.<kind>]``).

Each command runs in the node's sandbox without a shell, its placeholders filled:
``{file}`` (the file, relative to the sandbox), ``{start_line}``/``{end_line}`` (the node's
lines in the new file) and ``{node}`` (its id). A non-zero exit fails the node with the
first line the command printed. Repository files the command names are materialised.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from astm.validate.diagnostic import Diagnostic
from astm.workspace.gitenv import clean_env  # hook-exported GIT_* must not reach validators

TIMEOUT = 300


def argv(template: str, values: dict[str, str]) -> list[str]:
    out = []
    for token in shlex.split(template):
        for k, v in values.items():
            token = token.replace("{" + k + "}", v)
        out.append(token)
    return out


def named_paths(template: str) -> list[str]:
    """Tokens of a command that look like repository paths (to materialise)."""
    return [t for t in shlex.split(template) if "{" not in t and ("/" in t or "." in t) and not t.startswith("-")]


def run(cwd: Path, template: str, values: dict[str, str]) -> Diagnostic | None:
    cmd = argv(template, values)
    try:
        proc = subprocess.run(  # noqa: PLW1510 - the exit code is read below
            cmd, cwd=cwd, capture_output=True, env=clean_env(), text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return Diagnostic(f"validator command not found: {cmd[0]}", "command")
    except subprocess.TimeoutExpired:
        return Diagnostic(f"validator {cmd[0]} timed out after {TIMEOUT}s", "command")
    if proc.returncode == 0:
        return None
    lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    first = lines[0] if lines else f"exit code {proc.returncode}"
    # Name the check by its script, not its interpreter: "no_print.py: ...", not "python: ..."
    interpreters = ("python", "sh", "bash", "node", "uv", "env")
    label = next((Path(t).name for t in cmd if not Path(t).name.startswith(interpreters)), cmd[0])
    return Diagnostic(f"{label}: {first}", "command", raw=(proc.stdout + proc.stderr).strip())
