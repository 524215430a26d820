"""``--write``: generated files into the working tree, all or nothing, never elsewhere."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from astm.errors import ApplyError, UsageError
from astm.specs.stale import ModuleState
from astm.workspace import oplog
from astm.workspace.repo import Repo


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Ctrl-C waits until the block ends: the files are all written or none."""
    got: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda n, f: got.append(n))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if got:
            raise KeyboardInterrupt


def write_files(repo: Repo, states: dict[str, ModuleState], files: dict[str, bytes],
                generated: str) -> list[str]:
    """Write ``files`` into the working tree: each must lie in a generated folder and be
    unchanged on disk since the build read it; temp files first, then renames."""
    root = repo.workdir
    plan: list[tuple[Path, Path, bytes]] = []
    for rel, data in sorted(files.items()):
        parts = rel.split("/")
        if generated not in parts[:-1] or ".." in parts or rel.startswith("/"):
            raise UsageError(f"{rel}: not under a {generated} folder; astm writes nowhere else")
        target = root / rel
        if any(p.is_symlink() for p in [target, *target.parents] if p != root and root in p.parents):
            raise UsageError(f"{rel}: goes through a symbolic link; astm never writes through links")
        st = states[rel]
        now = target.read_bytes() if target.is_file() else None
        if now != st.existing:
            raise ApplyError(f"{rel}: changed on disk during the build; not overwritten")
        plan.append((target, target.with_name(f".{target.name}.{os.getpid()}.astm-tmp"), data))
    written: list[str] = []
    try:
        for target, tmp, data in plan:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        with _deferred_interrupt():
            for target, tmp, data in plan:
                # for `astm undo` (one entry per file): logged before the file changes
                oplog.record_write(repo, target, states[target.relative_to(root).as_posix()].existing,
                                   data, f"build --write {target.relative_to(root).as_posix()}")
                os.replace(tmp, target)
                written.append(target.relative_to(root).as_posix())
    finally:
        for _, tmp, _ in plan:
            tmp.unlink(missing_ok=True)
    return written

