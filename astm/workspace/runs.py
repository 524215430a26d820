"""Run records under ``<git-common-dir>/astm/runs/``, run refs, and garbage collection.

Everything a run creates is namespaced by its id: worktrees ``astm-<run>-<n>`` (marked by
``astm-sandbox.json`` in their admin directory, their HEAD detached; an astm before that put
them on branches ``refs/heads/astm/tmp/<run>/<n>``), the provenance ref
``refs/astm/runs/<run>`` and the record ``astm/runs/<run>.json``. ``gc`` removes only those,
only for runs that are no longer alive (nor, for a sandbox, the process that made it: it
may have kept it for a later run), and only what it can prove astm made: names alone prove
nothing (a user may call a branch ``astm/tmp/mine/1``).
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

from astm.workspace import git, loose
from astm.workspace.repo import Repo
from astm.workspace.sandbox import STAGING, read_marker, remove_folder, remove_worktree

RUN_REF_PREFIX = "refs/astm/runs/"
# The branches an astm before detached HEADs put each sandbox on: gc still recognises
# (and removes) what such a run left.
TMP_PREFIX = "astm/tmp"


def tmp_branch(run: str, n: int) -> str:
    return f"refs/heads/{TMP_PREFIX}/{run}/{n}"


def delete_ref(repo: Repo, name: str) -> None:
    with git.LOCK:
        try:
            repo.repo.references.delete(name)
        except (KeyError, pygit2.GitError):
            pass
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")  # see new_run_id
OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a detached HEAD (SHA-1 or SHA-256)
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
    temporaries: list[str] = field(default_factory=list)  # object files a killed write left
    # What looks like astm's but cannot be proven to be: listed, never removed.
    left: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.worktrees or self.branches or self.run_refs or self.records or self.temporaries)


def _alive(pid: object, host: object) -> bool:
    if host != socket.gethostname() or not isinstance(pid, int):
        return True  # cannot tell; leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def parse_tmp_branch(name: str) -> tuple[str, int] | None:
    """``refs/heads/astm/tmp/<run>/<n>`` with a well-formed run id and number, else None."""
    prefix = f"refs/heads/{TMP_PREFIX}/"
    if not name.startswith(prefix):
        return None
    parts = name[len(prefix) :].split("/")
    if len(parts) != 2 or not RUN_ID.fullmatch(parts[0]) or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def parse_sandbox_name(name: str) -> tuple[str, int] | None:
    """``astm-<run>-<n>`` with a well-formed run id and number, else None."""
    if not name.startswith("astm-"):
        return None
    run, _, n = name[5:].rpartition("-")
    if not RUN_ID.fullmatch(run) or not n.isdigit():
        return None
    return run, int(n)


def _checked_out(repo: Repo) -> set[str]:
    """Branches some worktree (the main one or a linked one) has checked out."""
    heads = {repo.common / "HEAD"}
    wt_root = repo.common / "worktrees"
    if wt_root.is_dir():
        heads |= {a / "HEAD" for a in wt_root.iterdir()}
    out = set()
    for head in heads:
        try:
            text = head.read_text().strip()
        except OSError:
            continue
        if text.startswith("ref: "):
            out.add(text[5:])
    return out


def gc(repo: Repo, *, max_age_days: float, now: float | None = None) -> GcReport:
    """Remove what dead or finished runs left; keep run refs younger than ``max_age_days``.

    Only what astm provably made goes: a worktree whose admin directory holds astm's
    marker (or, from an astm before the marker, a run record and the exact sandbox name
    and branch), a folder whose ``.git`` names that admin directory, an ``astm/tmp/<run>/<n>``
    branch of a well-formed run id that astm recorded. Anything else that merely looks
    like astm's (a name under ``astm/tmp/``, a folder named ``astm-...``) is listed in
    ``left`` and kept: a user's worktree or branch is never removed, whatever its name.
    """
    now = time.time() if now is None else now
    records = {r.run: r for r in load_runs(repo)}
    alive = {r.run for r in records.values() if r.alive}
    ours = set(records)  # runs astm provably made (by a record or a marker)
    report = GcReport()

    wt_root = repo.common / "worktrees"
    if wt_root.is_dir():
        for admin in sorted(wt_root.iterdir()):
            _gc_admin(repo, admin, records, alive, ours, report)

    # Admin directories a killed run was still building or removing (astm's own staging
    # area: never published to git, never made by anyone else).
    staging = repo.common / STAGING
    if staging.is_dir():
        for admin in sorted(staging.iterdir()):
            named = parse_sandbox_name(admin.name)
            marker = read_marker(admin)
            if named is None:
                report.left.append(f"{admin}: not an astm sandbox name")
                continue
            run = named[0]
            if run in alive or (run not in records and marker is not None and _alive(marker.get("pid"), marker.get("host"))):
                continue
            ours.add(run)
            try:
                path: Path | None = Path(os.path.dirname((admin / "gitdir").read_text().strip()))
            except OSError:
                path = None
            if path is not None and path.name == admin.name:
                if remove_folder(repo, path):
                    report.worktrees.append(str(path))
                else:
                    report.left.append(f"{path}: not made by astm (its .git does not point to astm's sandbox)")
            shutil.rmtree(admin, ignore_errors=True)

    checked_out = _checked_out(repo)
    with git.LOCK:
        names = [n for n in repo.repo.references if n.startswith(f"refs/heads/{TMP_PREFIX}/")]
    for name in sorted(names):
        parsed = parse_tmp_branch(name)
        if parsed is None or parsed[0] not in ours:
            report.left.append(f"branch {name}: not made by astm (no run record or sandbox of astm names it)")
            continue
        if parsed[0] in alive:
            continue
        if name in checked_out:
            report.left.append(f"branch {name}: checked out in a worktree")
            continue
        delete_ref(repo, name)
        report.branches.append(name)

    with git.LOCK:
        run_refs = [n for n in repo.repo.references if n.startswith(RUN_REF_PREFIX)]
    for name in run_refs:
        run = name[len(RUN_REF_PREFIX) :]
        if run in alive:
            continue
        if not RUN_ID.fullmatch(run):
            report.left.append(f"run ref {name}: not a run id of astm")
            continue
        rec = records.get(run)
        when = (rec.finished or rec.started) if rec else _commit_time(repo, name)
        if now - when >= max_age_days * 86400:
            delete_ref(repo, name)
            report.run_refs.append(name)

    # A record a killed run was writing (``save`` writes a temp file, then renames it).
    if runs_dir(repo).is_dir():
        for tmp in runs_dir(repo).glob(".*.json.tmp"):
            run = tmp.name[1 : -len(".json.tmp")]
            if RUN_ID.fullmatch(run) and run not in alive:
                tmp.unlink(missing_ok=True)

    for tmp_file in loose.stale_temporaries(git.objects_of(repo.repo), now):
        try:
            os.unlink(tmp_file)
            report.temporaries.append(tmp_file)
        except OSError:
            pass

    kept_refs = {n[len(RUN_REF_PREFIX) :] for n in run_refs if n not in report.run_refs}
    for run, rec in records.items():
        if run in alive or run in kept_refs or not RUN_ID.fullmatch(run):
            continue
        if now - (rec.finished or rec.started) >= max_age_days * 86400:
            try:
                (runs_dir(repo) / f"{run}.json").unlink()
                report.records.append(run)
            except OSError:
                pass
    return report


def _gc_admin(
    repo: Repo,
    admin: Path,
    records: dict[str, RunRecord],
    alive: set[str],
    ours: set[str],
    report: GcReport,
) -> None:
    """One linked worktree's admin directory: remove it (and its folder) only if astm made it."""
    named = parse_sandbox_name(admin.name)
    try:
        head = (admin / "HEAD").read_text().strip().removeprefix("ref: ")
    except OSError:
        head = ""
    looks_ours = admin.name.startswith("astm-") or head.startswith(f"refs/heads/{TMP_PREFIX}/")
    try:
        gitdir = (admin / "gitdir").read_text().strip()
    except OSError:
        # Half removed in place by a run killed in an older astm: no folder is named any
        # more (git cannot use it either); its exact name and branch say it was a sandbox.
        if named is not None and head == tmp_branch(*named) and named[0] not in alive:
            shutil.rmtree(admin, ignore_errors=True)
            report.worktrees.append(str(admin))
        elif looks_ours:
            report.left.append(f"{admin}: not made by astm")
        return
    marker = read_marker(admin)
    marked = marker is not None and named is not None and marker["run"] == named[0]
    # A sandbox's HEAD is detached at a commit; one of an astm before that, its branch.
    proven = named is not None and (
        (head == tmp_branch(*named) and (marked or named[0] in records))
        or (marked and OID.fullmatch(head) is not None)
    )
    if not proven or named is None:
        if looks_ours:
            why = "no astm marker" if marker is None else "its marker does not match its name and HEAD"
            report.left.append(f"worktree {os.path.dirname(gitdir)} ({head or 'detached'}): not made by astm ({why})")
        return
    run = named[0]
    # A process that kept the sandbox after its run (workspace/depot.py) may be using it
    # for another: its marker's process must be gone too.
    if run in alive or (marker is not None and _alive(marker.get("pid"), marker.get("host"))
                        and (run not in records or marker.get("host") == socket.gethostname())):
        return
    ours.add(run)
    path = Path(os.path.dirname(gitdir))
    remove_worktree(repo, path)
    if os.path.lexists(path):
        report.left.append(f"{path}: not made by astm (its .git does not point to astm's sandbox)")
    else:
        report.worktrees.append(str(path))


def _commit_time(repo: Repo, ref: str) -> float:
    with git.LOCK:
        try:
            return float(repo.repo.references[ref].peel(pygit2.Commit).commit_time)
        except (KeyError, pygit2.GitError, ValueError):
            return 0.0
