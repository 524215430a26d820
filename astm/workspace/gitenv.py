"""The environment of every subprocess astm starts (git, validators): no pygit2 here, so
the validators and the pre-commit hook use it without loading libgit2 (and its ssl)."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["GIT_ENV_STRIP", "SAFE_CONFIG", "clean_env"]

# Variables git exports to hooks; inherited, they would point astm's own git calls at
# the user's index or repository instead of the sandbox's.
GIT_ENV_STRIP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_EDITOR",
    "GIT_EXTERNAL_DIFF",
    "GIT_EXEC_PATH",
    "GIT_REFLOG_ACTION",
)
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "diff.external=",
    "advice.detachedHead=false",
)


def clean_env(environ: Mapping[str, str] | None = None, *, safe: bool = True) -> dict[str, str]:
    """The environment of a subprocess astm starts (git, and validators in a sandbox).

    Besides stripping the hook-exported variables, it carries ``SAFE_CONFIG`` as
    ``GIT_CONFIG_COUNT`` entries, so a git that a validator runs in a sandbox (a pytest
    plugin calling ``git describe --dirty``, say) runs no hook or fsmonitor of the user's
    either: the sandbox is a worktree of the user's repository and reads its config.
    """
    env = dict(os.environ if environ is None else environ)
    for var in GIT_ENV_STRIP:
        env.pop(var, None)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if not safe:  # reading the user's own settings (where their hooks live), nothing runs
        return env
    try:
        n = max(0, int(env.get("GIT_CONFIG_COUNT", "0")))
    except ValueError:
        n = 0
    for i, item in enumerate(SAFE_CONFIG, start=n):  # appended: the last value wins
        key, _, value = item.partition("=")
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(n + len(SAFE_CONFIG))
    return env
