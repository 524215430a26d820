"""The operation log: what astm did to refs and files it owns, so ``astm undo`` can reverse it.

``<git-common-dir>/astm/oplog.jsonl``, append-only JSON lines (one ``write`` + ``fsync`` per
entry, so a crash loses at most the entry being written; a torn last line is skipped).
Undoing appends an ``undo`` entry naming the entry it reversed; nothing is rewritten.

Kinds of entry (``op``):

* ``branch``  astm created ``ref`` at ``new`` (``astm apply`` landing, a track landing):
  undo deletes the ref, only if it still points at ``new`` and is not checked out.
* ``track``   astm stored track ``track``: undo removes the track file and its result refs,
  only while the branch it landed on (if any) is gone.
* ``write``   astm wrote the file ``path`` (``build --write``, hook installs): ``old`` and
  ``new`` are blob ids of its bytes before (None: it did not exist) and after; undo puts
  ``old`` back only if the file still holds ``new``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from astm.errors import ApplyError
from astm.workspace import git
from astm.workspace.repo import Repo

OPS = ("branch", "track", "write", "hook", "undo")


class UndoRefused(ApplyError):
    """The log's last operation cannot be reversed any more; the message says why."""


@dataclass(frozen=True)
class Entry:
    op: str
    seq: int = 0
    time: float = field(default_factory=time.time)
    what: str = ""  # one line for ``astm undo --list``
    ref: str | None = None
    new: str | None = None
    old: str | None = None
    path: str | None = None
    track: str | None = None
    undoes: int | None = None
    moved: str | None = None  # hook: where install moved the hook it replaced (.astm-chained)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True)


def log_path(common: Path) -> Path:
    return common / "astm" / "oplog.jsonl"


def read(repo: Repo) -> list[Entry]:
    """Every readable entry, oldest first."""
    p = log_path(repo.common)
    out: list[Entry] = []
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        entry = _entry(line.encode("utf-8"))
        if entry is not None:
            out.append(entry)
    return out


def _entry(line: bytes) -> Entry | None:
    try:
        return Entry(**json.loads(line))
    except (ValueError, TypeError):
        return None  # a torn line (a crash mid-write) or a foreign one


def last_seq(p: Path, chunk: int = 1 << 16) -> int:
    """The sequence number of the log's last readable entry (0 if none), read from the
    end: the log only grows, and reading it whole for every entry made a build that
    writes N files cost N times the log (1.5 s at 6,000 entries)."""
    try:
        f = open(p, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return 0
    with f:
        end = f.seek(0, os.SEEK_END)
        tail = b""
        while end > 0:
            start = max(0, end - chunk)
            f.seek(start)
            tail = f.read(end - start) + tail
            end = start
            lines = tail.split(b"\n")
            if end > 0:
                tail = lines.pop(0)  # maybe cut: read again with what comes before it
            else:
                tail = b""
            for line in reversed(lines):
                entry = _entry(line) if line.strip() else None
                if entry is not None:
                    return entry.seq
        return 0


def record(repo: Repo, op: str, **fields: Any) -> Entry:
    """Append one entry; its sequence number follows the last one in the log."""
    assert op in OPS, op
    p = log_path(repo.common)
    p.parent.mkdir(parents=True, exist_ok=True)
    with git.LOCK:
        entry = Entry(op=op, seq=last_seq(p) + 1, **fields)
        fd = os.open(p, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # After a line a crash cut short, a new line: else this entry joins it, unread.
            size = os.lseek(fd, 0, os.SEEK_END)
            torn = size > 0 and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n"
            os.write(fd, (("\n" if torn else "") + entry.to_json() + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    return entry


def record_branch(repo: Repo, ref: str, new: str, what: str) -> Entry:
    return record(repo, "branch", ref=ref, new=new, what=what)


def record_write(repo: Repo, path: Path, old: bytes | None, new: bytes, what: str) -> Entry:
    """Before astm overwrites a file it owns: keep both versions as blobs (not in any tree,
    they live until git's gc prunes unreachable objects, two weeks by default)."""
    with git.LOCK:
        old_id = str(repo.repo.create_blob(old)) if old is not None else None
        new_id = str(repo.repo.create_blob(new))
    return record(repo, "write", path=str(path), old=old_id, new=new_id, what=what)


def record_hook(repo: Repo, hook: Path, old: bytes | None, new: bytes, moved: Path | None) -> Entry:
    """Before ``astm hook install`` writes ``hook``: the bytes it replaces (``old``; None:
    there was none) and, when the previous hook is kept by a rename, where it goes."""
    with git.LOCK:
        old_id = str(repo.repo.create_blob(old)) if old is not None else None
        new_id = str(repo.repo.create_blob(new))
    return record(repo, "hook", path=str(hook), old=old_id, new=new_id,
                  moved=str(moved) if moved is not None else None, what=f"hook install {hook}")


def pending(repo: Repo) -> list[Entry]:
    """Entries not yet undone, oldest first."""
    entries = read(repo)
    undone = {e.undoes for e in entries if e.op == "undo"}
    return [e for e in entries if e.op != "undo" and e.seq not in undone]


def undo_last(repo: Repo, *, skip: bool = False) -> Entry:
    """Reverse the last pending entry (or, with ``skip``, only forget it); the entry.
    UndoRefused (one line) when there is nothing to undo or it is no longer safe."""
    left = pending(repo)
    if not left:
        empty = not read(repo)
        raise UndoRefused("nothing to undo: " + ("the operation log is empty" if empty else
                                                 "every operation in the log is undone already"))
    last = left[-1]
    if not skip:
        _REVERSE[last.op](repo, last)
    record(repo, "undo", undoes=last.seq, what=("forgot: " if skip else "undid: ") + last.what)
    return last


def _branch(repo: Repo, e: Entry) -> None:
    assert e.ref and e.new
    short = e.ref.removeprefix("refs/heads/")
    hint = " (`astm undo --skip` forgets this entry)"
    with git.LOCK:
        at = repo.repo.references.get(e.ref)
        current = str(at.target) if at is not None else None
        head = None if repo.repo.head_is_unborn else repo.repo.references.get("HEAD")
        checked_out = head is not None and head.target == e.ref
    if current is None:
        raise UndoRefused(f"branch {short} no longer exists; nothing to undo{hint}")
    if current != e.new:
        raise UndoRefused(
            f"branch {short} has moved since astm created it ({e.new[:10]} -> {current[:10]}); "
            f"it is yours now, delete it yourself if you wish{hint}"
        )
    if checked_out:
        raise UndoRefused(f"branch {short} is checked out; switch to another branch first")
    proc = git.run_git(["update-ref", "-d", e.ref, e.new], repo.workdir, check=False)
    if proc.returncode != 0:
        raise UndoRefused(f"branch {short} changed while undoing; left as it is{hint}")


def _track(repo: Repo, e: Entry) -> None:
    # Read as plain JSON: the log sits below the conductor and must not import it.
    from astm.workspace.chain import drop_results

    assert e.track
    p = repo.common / "astm" / "tracks" / f"{e.track}.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UndoRefused(f"track {e.track} no longer exists; nothing to undo (`astm undo --skip`)") from None
    except (OSError, ValueError):
        data = {}
    branch = data.get("branch") if isinstance(data, dict) else None
    with git.LOCK:
        landed = bool(branch) and f"refs/heads/{branch}" in repo.repo.references
    if landed:
        raise UndoRefused(f"track {e.track} has landed on {branch}; delete that branch first")
    drop_results(repo, e.track)
    p.unlink(missing_ok=True)


def _write(repo: Repo, e: Entry) -> None:
    assert e.path and e.new
    p = Path(e.path)
    try:
        data: bytes | None = p.read_bytes()
    except FileNotFoundError:
        data = None
    if data is None or str(pygit2.hash(data)) != e.new:
        raise UndoRefused(f"{e.path} has changed since astm wrote it; left as it is (`astm undo --skip`)")
    if e.old is None:
        p.unlink()
        return
    with git.LOCK:
        old = repo.repo[e.old].data  # type: ignore[attr-defined]
    tmp = p.with_name(f".{p.name}.astm-undo")
    tmp.write_bytes(old)
    os.replace(tmp, p)


def _hook(repo: Repo, e: Entry) -> None:
    """Put back the hook ``astm hook install`` replaced, byte for byte (or none)."""
    assert e.path and e.new
    hook = Path(e.path)
    if _hash_of(hook) != e.new:
        raise UndoRefused(f"{hook} has changed since astm installed it; left as it is (`astm undo --skip`)")
    if e.moved is not None:
        moved = Path(e.moved)
        if _hash_of(moved) != e.old:
            raise UndoRefused(f"{moved} (the hook astm replaced) has changed or gone; left as it is")
        os.replace(moved, hook)  # the rename back: bytes and mode as they were
        return
    if e.old is None:
        hook.unlink()
        return
    with git.LOCK:
        old = repo.repo[e.old].data  # type: ignore[attr-defined]
    tmp = hook.with_name(f".{hook.name}.astm-undo")
    tmp.write_bytes(old)
    tmp.chmod(0o755)
    os.replace(tmp, hook)


def _hash_of(p: Path) -> str | None:
    try:
        return str(pygit2.hash(p.read_bytes()))
    except (FileNotFoundError, IsADirectoryError):
        return None


_REVERSE: dict[str, Callable[[Repo, Entry], None]] = {
    "branch": _branch, "track": _track, "write": _write, "hook": _hook,
}
