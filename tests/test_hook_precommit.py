"""Integration: astm's hooks run through the pre-commit framework (`pre-commit try-repo`).

pre-commit is installed from PyPI into a venv this test creates; `try-repo`, and then a
config naming the same snapshot of this checkout, build environments for astm
(`language: python`: pip installs astm into a virtualenv), so the test needs PyPI and takes
tens of seconds. It is marked
``integration`` (deselect with ``-m "not integration"``) and runs in the normal suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import openai_server as loopback
import pytest
from conftest import GIT_ENV, ROOT, git, make_repo

openai_server = loopback.openai_server

with warnings.catch_warnings():
    # Until ``integration`` is registered under [tool.pytest.ini_options] markers.
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PYPROJECT = '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100\n'
SHOP = "def total(items):\n    return sum(i.price for i in items)\n\n\ndef count(items):\n    return len(items)\n"
SNAPSHOT = ("astm", "hooks", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml")


@pytest.fixture(scope="module")
def pre_commit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the pre-commit package, installed from PyPI; its python."""
    venv = tmp_path_factory.mktemp("pre-commit-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "pre-commit"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return python


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a git repository of its own (try-repo clones a commit of it)."""
    dest = tmp_path_factory.mktemp("astm-checkout")
    for name in SNAPSHOT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)
    return dest


def framework_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(home),
        # The hook environment takes astm's dependencies from this interpreter's site
        # packages when it can (much faster); astm itself is pip-installed from the snapshot.
        "VIRTUALENV_SYSTEM_SITE_PACKAGES": "1",
        "PRE_COMMIT_COLOR": "never",
    }


def run(args: list[str], repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=repo,
        env=framework_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_pre_commit_framework_runs_astm_check_and_fix(
    pre_commit: Path,
    checkout: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    openai_server: loopback.LoopbackServer,
) -> None:
    home = tmp_path / "pre-commit-home"
    repo = make_repo(tmp_path / "shop", {"pyproject.toml": PYPROJECT, "shop.py": SHOP})
    broken_toml = PYPROJECT.replace("= 100", "= = 100")
    # A broken TOML table and a broken Python function, staged.
    (repo / "pyproject.toml").write_text(broken_toml)
    (repo / "shop.py").write_text(SHOP.replace("for i in items)", "for i in items"))
    git(repo, "add", "-A")

    # 1. `pre-commit try-repo` on this checkout: astm-check fails with astm's message.
    proc = run(
        [str(pre_commit), "-m", "pre_commit", "try-repo", str(checkout), "astm-check"], repo, home
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "astm check (changed nodes)" in out and "Failed" in out
    assert "pyproject.toml::tool.ruff (line 5): Invalid value [tomllib]" in out
    assert "shop.py::total (line 2): '(' was never closed [compile]" in out

    # 2. Installed as a git hook from a config: both hooks run on `git commit`.
    rev = git(checkout, "rev-parse", "HEAD")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n-   repo: {checkout}\n    rev: {rev}\n    hooks:\n"
        "    -   id: astm-check\n    -   id: astm-fix\n"
    )
    (repo / "shop.py").write_text(SHOP)  # fixed by hand: only the TOML table is left
    git(repo, "add", "-A")
    proc = run([str(pre_commit), "-m", "pre_commit", "install"], repo, home)
    assert proc.returncode == 0, proc.stderr
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai_server.responder = lambda body: "[tool.ruff]\nline-length = 100\n"
    head = git(repo, "rev-parse", "HEAD")
    proc = run(["git", "commit", "-q", "-m", "broken"], repo, home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert git(repo, "rev-parse", "HEAD") == head
    assert "pyproject.toml::tool.ruff (line 5): Invalid value [tomllib]" in out
    # astm-fix (serial): the repair lands in the working tree only, for review.
    assert "files were modified by this hook" in out
    assert (repo / "pyproject.toml").read_text() == PYPROJECT
    assert git(repo, "show", ":pyproject.toml") + "\n" == broken_toml
    # The hooks ran the astm pip installed from the snapshot, not this checkout.
    pythons = list(home.glob("repo*/py_env-*/bin/python"))
    assert len(pythons) == 1
    where = subprocess.run(
        [str(pythons[0]), "-c", "import astm; print(astm.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert str(ROOT) not in where and "py_env-" in where

    # 3. Staged clean: the commit passes.
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "clean"], repo, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(repo, "rev-parse", "HEAD^") == head


LOCAL_CONFIG = """repos:
-   repo: local
    hooks:
    -   id: no-forbidden
        name: no FORBIDDEN word
        entry: FORBIDDEN
        language: pygrep
        types: [python]
"""


def test_astm_hook_chains_with_the_frameworks_own_hook(pre_commit: Path, tmp_path: Path) -> None:
    """Issue 11.3: `astm hook install` over pre-commit's hook kept it as
    `pre-commit.legacy`, which the framework reads as its migration mode: every commit
    failed. Now both run, a good commit passes, and uninstall restores it byte for byte."""
    from conftest import run_subprocess

    home = tmp_path / "pre-commit-home"
    repo = make_repo(
        tmp_path / "shop", {"pyproject.toml": PYPROJECT, "shop.py": SHOP, ".pre-commit-config.yaml": LOCAL_CONFIG}
    )
    proc = run([str(pre_commit), "-m", "pre_commit", "install"], repo, home)
    assert proc.returncode == 0, proc.stderr
    hook = repo / ".git" / "hooks" / "pre-commit"
    theirs, mode = hook.read_bytes(), hook.stat().st_mode
    assert b"File generated by pre-commit" in theirs

    res = run_subprocess("hook", "install", cwd=repo, env=GIT_ENV)
    assert res.code == 0, res.err
    assert not (repo / ".git" / "hooks" / "pre-commit.legacy").exists()
    assert (repo / ".git" / "hooks" / "pre-commit.astm-chained").read_bytes() == theirs

    # A good commit passes, and both hooks ran on it.
    (repo / "shop.py").write_text(SHOP + "\n\ndef clear(items):\n    items.clear()\n")
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "good"], repo, home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "no FORBIDDEN word" in out and "Passed" in out
    assert "migration mode" not in out
    # The framework's hook still blocks what it should ...
    (repo / "shop.py").write_text(SHOP + "# FORBIDDEN\n")
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "forbidden"], repo, home)
    assert proc.returncode == 1 and "no FORBIDDEN word" in proc.stdout + proc.stderr
    # ... and so does astm's.
    (repo / "shop.py").write_text(SHOP)
    (repo / "pyproject.toml").write_text(PYPROJECT.replace("= 100", "= = 100"))
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "broken toml"], repo, home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "pyproject.toml::tool.ruff (line 5): Invalid value [tomllib]" in out

    res = run_subprocess("hook", "uninstall", cwd=repo, env=GIT_ENV)
    assert res.code == 0, res.err
    assert hook.read_bytes() == theirs and hook.stat().st_mode == mode
    assert sorted(p.name for p in hook.parent.iterdir() if not p.name.endswith(".sample")) == ["pre-commit"]
    (repo / "pyproject.toml").write_text(PYPROJECT)
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "framework alone"], repo, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_framework_installed_over_astm_still_runs_both(pre_commit: Path, tmp_path: Path) -> None:
    """The other order: `pre-commit install` moves astm's shim to pre-commit.legacy and runs
    it from there; astm's shim, run as the framework's legacy hook, checks and passes."""
    from conftest import run_subprocess

    home = tmp_path / "pre-commit-home"
    repo = make_repo(
        tmp_path / "shop", {"pyproject.toml": PYPROJECT, "shop.py": SHOP, ".pre-commit-config.yaml": LOCAL_CONFIG}
    )
    assert run_subprocess("hook", "install", cwd=repo, env=GIT_ENV).code == 0
    proc = run([str(pre_commit), "-m", "pre_commit", "install"], repo, home)
    assert proc.returncode == 0, proc.stderr
    (repo / "shop.py").write_text(SHOP + "\n\ndef clear(items):\n    items.clear()\n")
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "good"], repo, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repo / "pyproject.toml").write_text(PYPROJECT.replace("= 100", "= = 100"))
    git(repo, "add", "-A")
    proc = run(["git", "commit", "-q", "-m", "broken toml"], repo, home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Invalid value [tomllib]" in out, out
