"""``astm test``: pytest on the generated test modules, by path.

After the build (implementations, then tests), the tests run on what the build produced:
in a sandbox checked out at the landed commit (or at HEAD when nothing was stale), or,
with ``--write``, in the working tree. Exit 4 when tests fail (docs/cli.md).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from astm.errors import AstmError
from astm.specs.checks import import_env
from astm.specs.config import BuildConfig
from astm.specs.engine_bridge import open_sandbox, runs
from astm.workspace.repo import Repo

EXIT_TESTS_FAILED = 4
TIMEOUT = 1800


class TestsFailed(AstmError):
    """The generated tests ran and some failed."""

    __test__ = False  # a name pytest would otherwise collect
    exit_code = EXIT_TESTS_FAILED


@dataclass(frozen=True)
class TestRun:
    __test__ = False

    command: list[str]
    code: int
    output: str
    where: str  # "working tree" or the commit the sandbox held

    @property
    def summary(self) -> str:
        lines = [ln for ln in self.output.splitlines() if ln.strip()]
        return lines[-1].strip("= ") if lines else f"exit {self.code}"


def pytest_command(python: str, files: list[str]) -> list[str]:
    # importlib mode: generated test modules share basenames with their specs' modules.
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
            "-o", "addopts=", *files]


def run_pytest(cwd: Path, files: list[str], conf: BuildConfig, python: str) -> tuple[list[str], int, str]:
    command = pytest_command(python, files)
    roots = tuple(dict.fromkeys(conf.source_roots + conf.test_roots))
    try:
        proc = subprocess.run(command, cwd=cwd, env=import_env(cwd, roots, conf.generated),
                              capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return command, 1, f"the tests did not finish within {TIMEOUT}s"
    return command, proc.returncode, proc.stdout + proc.stderr


def run_tests(repo: Repo, commit: str | None, files: list[str], conf: BuildConfig,
              python: str) -> TestRun:
    """The generated tests on ``commit`` in a sandbox, or in the working tree (None)."""
    if commit is None:
        command, code, out = run_pytest(repo.workdir, files, conf, python)
        return TestRun(command, code, out, "working tree")
    run_id = runs.new_run_id()
    record = runs.RunRecord(run=run_id, intent="astm test", base=commit)
    record.save(repo)
    box = open_sandbox(repo, run_id, 1, repo.repo.revparse_single(commit).id)
    try:
        box.checkout_all()
        command, code, out = run_pytest(box.path, files, conf, python)
        record.status = "nothing" if code in (0, 5) else "failed"
        return TestRun(command, code, out, commit[:10])
    except BaseException:
        record.status = "interrupted"
        raise
    finally:
        box.close()
        record.finished = time.time()
        record.save(repo)
