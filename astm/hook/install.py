"""Install and uninstall the git ``pre-commit`` hook (the shim in ``hooks/pre-commit``).

The hook goes where git runs hooks from: the common git directory's ``hooks/`` (so linked
worktrees share it) or, when ``core.hooksPath`` is set, there on request. A hook that was
there before is kept, byte for byte, as ``pre-commit.astm-chained``; the shim runs it first,
and uninstall puts it back. Installing again only refreshes astm's own shim.

Not ``pre-commit.legacy``: that name belongs to the pre-commit framework, whose hook runs
``pre-commit.legacy`` itself and reads finding its own script there as "installed in
migration mode" (every commit then fails). astm before template 2 used it; a refresh
moves such a hook to the new name, and uninstall restores it from either.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from astm.errors import AstmError, UsageError
from astm.workspace.index import hooks_dir

HOOK = "pre-commit"
CHAINED = "pre-commit.astm-chained"  # the hook astm's shim runs first (the one it replaced)
LEGACY = "pre-commit.legacy"  # what astm used before template 2 (and the framework uses)
MARKER = b"# astm-hook-template: "
PLACEHOLDER = "@INSTALL_PYTHON@"


@dataclass(frozen=True)
class Installed:
    path: Path
    legacy: Path | None  # the previous hook, kept and run first
    refreshed: bool  # astm's hook was already there


@dataclass(frozen=True)
class Uninstalled:
    path: Path | None  # the hook removed (None: there was none of astm's)
    restored: Path | None  # the previous hook put back


def template_path() -> Path:
    """The shim template: ``astm/hook/pre-commit`` (a link to ``hooks/pre-commit``, shipped
    as package data), else ``hooks/pre-commit`` of the source tree astm runs from."""
    here = Path(__file__).with_name(HOOK)
    return here if here.is_file() else Path(__file__).resolve().parents[2] / "hooks" / HOOK


def render(python: str) -> bytes:
    try:
        text = template_path().read_text()
    except OSError:
        raise AstmError(
            f"the hook template {template_path()} is missing from this astm installation"
        ) from None
    return text.replace(PLACEHOLDER, shlex.quote(python)).encode()


def is_ours(path: Path) -> bool:
    try:
        return path.is_file() and MARKER in path.read_bytes()
    except OSError:
        return False


def _target(cwd: Path, use_hooks_path: bool) -> Path:
    where = hooks_dir(cwd)
    if where.configured is None:
        return where.path
    if not use_hooks_path:
        scope = f"--{where.scope} " if where.scope and where.scope != "local" else ""
        raise UsageError(
            f"core.hooksPath is set ({where.configured!r}), so git runs hooks from {where.path}. "
            f"Run `astm hook install --hooks-path` to install there, or "
            f"`git config {scope}--unset core.hooksPath` and `astm hook install` again"
        )
    if os.path.realpath(where.path) == os.devnull:
        raise UsageError(f"core.hooksPath is {where.configured!r}: hooks are switched off")
    return where.path


def template_version(path: Path) -> int | None:
    """The template version of astm's hook at ``path`` (None: not astm's)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    at = data.find(MARKER)
    if at < 0:
        return None
    digits = data[at + len(MARKER) :].split(b"\n", 1)[0].strip()
    return int(digits) if digits.isdigit() else 0


def install(cwd: Path, *, use_hooks_path: bool = False, python: str | None = None) -> Installed:
    directory = _target(cwd, use_hooks_path)
    script = render(python or sys.executable)
    directory.mkdir(parents=True, exist_ok=True)
    hook, chained, legacy = directory / HOOK, directory / CHAINED, directory / LEGACY
    version = template_version(hook)
    refreshed = version is not None
    if refreshed and version is not None and version < 2 and os.path.lexists(legacy) and not os.path.lexists(chained):
        os.replace(legacy, chained)  # an older astm kept the previous hook under .legacy
    replaces = os.path.lexists(hook) and not refreshed
    if replaces and os.path.lexists(chained):
        raise UsageError(
            f"{hook} and {chained} both exist and neither is astm's; "
            "move one of them away, then install again"
        )
    _log(cwd, hook, script, chained if replaces else None)  # for `astm undo`
    if replaces:
        os.replace(hook, chained)  # a rename: the old hook is kept byte for byte
    tmp = directory / f".{HOOK}.astm-tmp"
    tmp.write_bytes(script)
    tmp.chmod(0o755)
    os.replace(tmp, hook)
    return Installed(hook, chained if os.path.lexists(chained) else None, refreshed)


def _log(cwd: Path, hook: Path, script: bytes, moved: Path | None) -> None:
    """Record the install in the operation log before anything moves (a crash after it
    leaves an entry `astm undo` refuses, never a change it cannot name)."""
    from astm.workspace import oplog
    from astm.workspace.repo import Repo

    old = hook.read_bytes() if hook.is_file() else None
    oplog.record_hook(Repo.open(cwd), hook, old, script, moved)


def uninstall(cwd: Path) -> Uninstalled:
    where = hooks_dir(cwd)
    candidates = [where.path]
    if where.configured is not None:
        from astm.workspace.repo import Repo

        candidates.append(Repo.open(cwd).common / "hooks")
    for directory in candidates:
        hook = directory / HOOK
        version = template_version(hook)
        if version is None:
            continue
        # Template 1 kept the previous hook as .legacy; from 2 on, as .astm-chained (a
        # .legacy next to it then is the pre-commit framework's, not astm's to move).
        kept = directory / (LEGACY if version < 2 else CHAINED)
        hook.unlink()
        if os.path.lexists(kept):
            os.replace(kept, hook)
            return Uninstalled(hook, hook)
        return Uninstalled(hook, None)
    if os.path.lexists(where.path / HOOK):
        raise UsageError(f"{where.path / HOOK} is not astm's hook; it was left alone")
    return Uninstalled(None, None)
