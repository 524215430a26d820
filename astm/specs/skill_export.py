"""``astm skill export``: the spec-writing guide and examples, for coding assistants."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from astm.errors import UsageError

FILES = ("GUIDE.md", "examples/pricing.py", "examples/test_pricing.py")
DEFAULT_DEST = ".astm/skill"


def _inside_git_dir(dest: Path) -> bool:
    """Whether ``dest`` lies in a ``.git`` folder (or a repository's git directory)."""
    real = Path(os.path.realpath(dest))
    if ".git" in real.parts:
        return True
    try:
        from astm.workspace import git

        repo = git.discover(real if real.exists() else next(p for p in real.parents if p.exists()))
    except Exception:  # noqa: BLE001 - not in a repository: nothing to protect
        return False
    for d in {git.common_dir(repo), Path(repo.path)}:
        gd = Path(os.path.realpath(d))
        if real == gd or gd in real.parents:
            return True
    return False


def export(dest: Path) -> list[Path]:
    if _inside_git_dir(dest):
        raise UsageError(f"--dest {dest}: inside a git directory; choose a folder of the working tree")
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--dest {dest}: exists and is not a folder")
    pkg = resources.files("astm") / "specs" / "skill"
    written = []
    for name in FILES:
        target = dest / name
        if target.is_symlink():
            raise UsageError(f"{target}: is a symbolic link; astm never writes through links")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (pkg / name).read_bytes()
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written.append(target)
    return written
