"""Shared fixtures: real git repositories in tmp dirs, pinned identity, guarded edges.

* Git identity and configuration are pinned; the user's global config is never read.
* ``$HOME`` points at a directory that does not exist, so any write there fails.
* Sockets may only connect to loopback: a test that reaches for the network fails.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
# No astm subprocess of the suite starts a command server (astm/server/): it would outlive
# the run. Session-wide, for fixtures that run before ``_guard``; tests/test_server.py
# turns it on for itself.
os.environ["ASTM_SERVER"] = "0"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


@pytest.fixture(autouse=True)
def _guard(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    missing_home = tmp_path_factory.getbasetemp() / "no-home" / "missing"
    monkeypatch.setenv("HOME", str(missing_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(missing_home / ".config"))
    # Every astm subprocess runs in its own process: a command server (astm/server/) would
    # outlive the test. tests/test_server.py turns it on for itself.
    monkeypatch.setenv("ASTM_SERVER", "0")
    for var in (
        "ASTM_MODEL", "ASTM_BASE_URL", "ASTM_ROUTER_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY",
        "ASTM_MODEL_JOBS", "ASTM_TIMEOUT", "ASTM_JSON_MODE", "ASTM_MAX_TOKENS", "ASTM_TEMPERATURE",
    ):
        monkeypatch.delenv(var, raising=False)

    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1", "::1", "localhost"
        ):
            raise OSError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def make_repo(path: Path, files: dict[str, bytes | str], *, message: str = "init") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for rel, data in files.items():
        f = path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data.encode() if isinstance(data, str) else data)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return path


@dataclass(frozen=True)
class Snapshot:
    """Everything of the user's that astm must never change."""

    head: str
    head_ref: bytes
    index: bytes
    files: dict[str, str]
    refs: dict[str, str]
    worktrees: str
    config: bytes

    @classmethod
    def take(cls, repo: Path) -> Snapshot:
        gitdir = repo / ".git"
        files = {}
        # Prune .git while walking: astm's sandboxes under .git/astm come and go while a
        # snapshot is taken mid-run, and a vanished directory must not fail the walk.
        for top, dirs, names in os.walk(repo):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in names:
                p = Path(top) / name
                if p.is_file():
                    files[p.relative_to(repo).as_posix()] = hashlib.sha1(p.read_bytes()).hexdigest()
        files = dict(sorted(files.items()))
        refs = {}
        for line in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines():
            name, oid = line.split()
            refs[name] = oid
        index = gitdir / "index"
        return cls(
            head=git(repo, "rev-parse", "HEAD", check=False),
            head_ref=(gitdir / "HEAD").read_bytes(),
            index=index.read_bytes() if index.exists() else b"",
            files=files,
            refs=refs,
            worktrees=git(repo, "worktree", "list", "--porcelain"),
            config=(gitdir / "config").read_bytes(),
        )

    def assert_unchanged(self, repo: Path, *, new_branch: str | None = None) -> None:
        """The user's state is as it was; only astm's own refs (and ``new_branch``) were added."""
        after = Snapshot.take(repo)
        assert after.head == self.head
        assert after.head_ref == self.head_ref
        assert after.index == self.index, "the index changed"
        assert after.files == self.files, "the working tree changed"
        assert after.config == self.config, "the git config changed"
        assert after.worktrees == self.worktrees, "a worktree was left behind"
        added = {k: v for k, v in after.refs.items() if k not in self.refs}
        for name in added:
            assert name.startswith("refs/astm/runs/") or name == f"refs/heads/{new_branch}", (
                f"unexpected ref left behind: {name}"
            )
        assert not [n for n in added if n.startswith("refs/heads/astm/tmp/")]
        for name, oid in self.refs.items():
            assert after.refs.get(name) == oid, f"ref {name} changed"


@pytest.fixture
def repo_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(1000))

    def factory(files: dict[str, bytes | str], name: str | None = None) -> Path:
        return make_repo(tmp_path / (name or f"repo{next(counter)}"), files)

    return factory


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def astm(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the astm CLI in-process in ``cwd``; returns exit code, stdout, stderr."""
    from astm.cli import main

    def run(*args: str, cwd: Path) -> CliResult:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        cap = capsys.readouterr()
        return CliResult(code, cap.out, cap.err)

    return run


def run_subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    proc = subprocess.run(
        [sys.executable, "-m", "astm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_case(astm, case: Path, source: str, expected: str, tmp_path: Path, *paths: str) -> None:  # type: ignore[no-untyped-def]
    """One data-driven case: ``source`` and ``plan.json`` in, ``expected`` (the landed
    bytes) or ``expected.err`` (exit code, then a piece of the one-line error) out."""
    import shutil

    repo = make_repo(tmp_path / "repo", {source: (case / source).read_bytes()})
    plan = tmp_path / "plan.json"
    shutil.copy(case / "plan.json", plan)
    before = Snapshot.take(repo)
    res = astm("apply", "test intent", *paths, "--plan", str(plan), "--branch", "astm/case",
               "--retries", "1", cwd=repo)
    if (case / "expected.err").exists():
        code, fragment = (case / "expected.err").read_text().split("\n", 1)
        assert res.code == int(code), res.err
        assert fragment.strip() in res.err
        error_lines = [ln for ln in res.err.splitlines() if ln.startswith("astm: error")]
        assert len(error_lines) == 1, res.err
        before.assert_unchanged(repo)
        assert "refs/heads/astm/case" not in Snapshot.take(repo).refs
        return
    assert res.code == 0, res.err
    before.assert_unchanged(repo, new_branch="astm/case")
    landed = subprocess.run(["git", "show", f"astm/case:{source}"], cwd=repo, capture_output=True,
                            check=True).stdout
    assert landed == (case / expected).read_bytes(), landed.decode(errors="replace")
    parents = git(repo, "rev-list", "--parents", "-n1", "astm/case").split()
    assert parents[1:] == [before.head], "the landed commit's only parent is the base"
