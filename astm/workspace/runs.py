"""Run records under ``<git-common-dir>/astm/runs/``, run refs, and garbage collection.

Everything a run creates is namespaced by its id: worktrees ``astm-<run>-<n>`` on branches
``refs/heads/astm/tmp/<run>/<n>``, the provenance ref ``refs/astm/runs/<run>`` and the
record ``astm/runs/<run>.json``. ``gc`` removes only those, and only for runs that are no
longer alive.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2

from astm.workspace import git
from astm.workspace.repo import Repo
from astm.workspace.sandbox import STAGING, TMP_PREFIX, delete_ref, remove_worktree

RUN_REF_PREFIX = "refs/astm/runs/"
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")  # see new_run_id
FINAL = ("landed", "failed", "interrupted", "nothing")


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def runs_dir(repo: Repo) -> Path:
    return repo.common / "astm" / "runs"


@dataclass
class RunRecord:
    run: str
    intent: str
    base: str
    status: str = "running"
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    branch: str | None = None
    commit: str | None = None
    error: str | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)

    def save(self, repo: Repo) -> None:
        d = runs_dir(repo)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{self.run}.json.tmp"
        tmp.write_text(json.dumps(self.__dict__, indent=1, sort_keys=True))
        os.replace(tmp, d / f"{self.run}.json")

    @property
    def shown_status(self) -> str:
        """The status, with a dead process's 'running' shown as 'abandoned'."""
        return "abandoned" if self.status == "running" and not self.alive else self.status

    @property
    def alive(self) -> bool:
        if self.status in FINAL:
            return False
        if self.host != socket.gethostname():
            return True  # cannot tell; leave it alone
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def load_runs(repo: Repo) -> list[RunRecord]:
    d = runs_dir(repo)
    out = []
    if d.is_dir():
        for f in sorted(d.glob("*.json")):
            try:
                data = json.loads(f.read_text())
                out.append(RunRecord(**data))
            except (OSError, ValueError, TypeError):
                continue  # a torn or foreign file: gc leaves it, list skips it
    return out


def set_run_ref(repo: Repo, run: str, oid: pygit2.Oid) -> None:
    with git.LOCK:
        repo.repo.create_reference(RUN_REF_PREFIX + run, oid, force=True)


@dataclass
class GcReport:
    worktrees: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    run_refs: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.worktrees or self.branches or self.run_refs or self.records)


def _run_of_branch(name: str) -> str | None:
    prefix = f"refs/heads/{TMP_PREFIX}/"
    if name.startswith(prefix):
        return name[len(prefix) :].split("/", 1)[0]
    return None


def _run_of_sandbox(name: str) -> str | None:
    """``astm-<run>-<n>`` -> ``<run>``."""
    if not name.startswith("astm-") or "-" not in name[5:]:
        return None
    return name[5:].rsplit("-", 1)[0]


def gc(repo: Repo, *, max_age_days: float, now: float | None = None) -> GcReport:
    """Remove what dead or finished runs left; keep run refs younger than ``max_age_days``."""
    now = time.time() if now is None else now
    records = {r.run: r for r in load_runs(repo)}
    alive = {r.run for r in records.values() if r.alive}
    report = GcReport()

    wt_root = repo.common / "worktrees"
    if wt_root.is_dir():
        for admin in sorted(wt_root.iterdir()):
            try:
                head = (admin / "HEAD").read_text().strip()
                gitdir = (admin / "gitdir").read_text().strip()
            except OSError:
                # Half removed by a run killed in an older astm (which removed it in
                # place): only its name is left to go by.
                run = _run_of_sandbox(admin.name)
                if run is not None and RUN_ID.fullmatch(run) and run not in alive:
                    shutil.rmtree(admin, ignore_errors=True)
                    report.worktrees.append(str(admin))
                continue
            run = _run_of_branch(head.removeprefix("ref: "))
            if run is None or run in alive:
                continue
            path = Path(os.path.dirname(gitdir))
            remove_worktree(repo, path)
            report.worktrees.append(str(path))

    # Admin directories a killed run was still building (never published to git).
    staging = repo.common / STAGING
    if staging.is_dir():
        for admin in sorted(staging.iterdir()):
            run = _run_of_sandbox(admin.name)
            if run is None or run in alive:
                continue
            try:
                path: Path | None = Path(os.path.dirname((admin / "gitdir").read_text().strip()))
            except OSError:
                path = None
            if path is not None and path.name == admin.name:
                shutil.rmtree(path, ignore_errors=True)
                report.worktrees.append(str(path))
            shutil.rmtree(admin, ignore_errors=True)

    with git.LOCK:
        names = [n for n in repo.repo.references if n.startswith(f"refs/heads/{TMP_PREFIX}/")]
    for name in names:
        run = _run_of_branch(name)
        if run is not None and run not in alive:
            delete_ref(repo, name)
            report.branches.append(name)

    with git.LOCK:
        run_refs = [n for n in repo.repo.references if n.startswith(RUN_REF_PREFIX)]
    for name in run_refs:
        run = name[len(RUN_REF_PREFIX) :]
        if run in alive:
            continue
        rec = records.get(run)
        when = (rec.finished or rec.started) if rec else _commit_time(repo, name)
        if now - when >= max_age_days * 86400:
            delete_ref(repo, name)
            report.run_refs.append(name)

    # A record a killed run was writing (``save`` writes a temp file, then renames it).
    if runs_dir(repo).is_dir():
        for tmp in runs_dir(repo).glob(".*.json.tmp"):
            if tmp.name[1 : -len(".json.tmp")] not in alive:
                tmp.unlink(missing_ok=True)

    kept_refs = {n[len(RUN_REF_PREFIX) :] for n in run_refs if n not in report.run_refs}
    for run, rec in records.items():
        if run in alive or run in kept_refs:
            continue
        if now - (rec.finished or rec.started) >= max_age_days * 86400:
            try:
                (runs_dir(repo) / f"{run}.json").unlink()
                report.records.append(run)
            except OSError:
                pass
    return report


def _commit_time(repo: Repo, ref: str) -> float:
    with git.LOCK:
        try:
            return float(repo.repo.references[ref].peel(pygit2.Commit).commit_time)
        except (KeyError, pygit2.GitError, ValueError):
            return 0.0
