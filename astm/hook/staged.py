"""The staged state a commit is made from, read with git's own plumbing.

Check mode runs on every commit, so it reads only what the commit stages and imports
nothing heavy: ``git rev-parse`` (where the repository is, and HEAD), one ``git diff-index
--cached`` (what the index adds or changes against HEAD, renames found as git finds
them) and one ``git cat-file --batch`` (those blobs and their versions in the parents),
whatever the size of the repository. pygit2 (and its ``ssl``) loads only for what needs
objects written or the whole index: ``full()``, for ``--fix`` and for a repository that
holds generated modules (``spec-freshness``).

git runs with the environment a hook has (``GIT_DIR``, ``GIT_INDEX_FILE``, ...): the
index it names is the one the commit is made from. Nothing here writes.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from astm.errors import AstmError, NotARepository, UsageError

if TYPE_CHECKING:
    from astm.workspace.index import StagedView

MODE_BLOB = 0o100644
MODE_LINK = 0o120000
MODE_COMMIT = 0o160000  # a submodule (gitlink)
BINARY_SNIFF = 8000  # git's own heuristic: a NUL in the first 8000 bytes means binary
MAX_BYTES = 5 * 1024 * 1024
_NULL = "0" * 40
# Where libgit2 (and so pygit2's ``state()``) finds an operation in progress, in its order.
_STATES = (
    ("rebase-merge/interactive", "rebase interactive"),
    ("rebase-merge", "rebase merge"),
    ("rebase-apply/rebasing", "rebase"),
    ("rebase-apply/applying", "apply mailbox"),
    ("rebase-apply", "apply mailbox or rebase"),
    ("MERGE_HEAD", "merge"),
    ("REVERT_HEAD", "revert"),
    ("CHERRY_PICK_HEAD", "cherrypick"),
    ("BISECT_LOG", "bisect"),
)


class StagedReadError(AstmError):
    """A git plumbing command failed while reading the staged state (exit 70)."""


@dataclass(frozen=True)
class StagedFile:
    """One file the commit adds or changes, as staged.

    ``bases`` holds the file in each parent the commit will have (HEAD, and each
    MERGE_HEAD during a merge); ``None`` where the parent lacks it. A renamed file's HEAD
    version is read from ``old_path``. An empty ``bases`` means the first commit.
    """

    path: str
    data: bytes
    bases: tuple[bytes | None, ...]
    old_path: str | None = None
    mode: int = MODE_BLOB


@dataclass
class Changes:
    files: list[StagedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


@dataclass(frozen=True)
class _Entry:
    """One line of ``git diff-index --raw``: what the index holds against HEAD."""

    path: str
    old_path: str | None
    new_sha: str
    old_sha: str | None  # None: HEAD lacks it (or it was no regular file there)
    mode: int


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_OPTIONAL_LOCKS="0")
    return env


def _git(cwd: Path, args: list[str], stdin: bytes | None = None, *, check: bool = True) -> bytes:
    # No hook, fsmonitor or pager can run from these read-only plumbing commands; the
    # fsmonitor is switched off all the same (it would start a daemon of the user's).
    proc = subprocess.run(
        ["git", "-c", "core.fsmonitor=false", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=_git_env(),
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )
    if check and proc.returncode != 0:
        err = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no output)"])[-1]
        raise StagedReadError(f"git {args[0]} failed: {err}")
    return proc.stdout if proc.returncode == 0 else b""


PREFETCH = ("pyproject.toml",)  # staged files the registered checks read (``staged_blob``)


class Staged:
    """The repository at ``cwd`` as a hook sees it: work tree, git directory, the index
    the commit is made from, HEAD and any merge heads. Read-only."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        # HEAD's commit in the same process (each git process is a few ms of a hook run):
        # before the first commit it is the one argument git refuses, after the four answers.
        out = subprocess.run(
            ["git", "rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
             "--show-toplevel", "HEAD^{commit}", "--"],
            cwd=cwd, capture_output=True, env=_git_env(), stdin=subprocess.DEVNULL, check=False,
        )
        lines = out.stdout.decode("utf-8", "surrogateescape").splitlines()
        if out.returncode != 0 and not lines:
            gitdir = os.environ.get("GIT_DIR")
            raise NotARepository(
                f"GIT_DIR={gitdir} is not a git repository" if gitdir else f"not a git repository: {cwd}"
            )
        if lines and lines[0] == "true" or len(lines) < 4:
            raise UsageError("astm hook needs a repository with a working tree, not a bare one")
        self.gitdir = Path(lines[1])
        self.common = Path(cwd, lines[2]).resolve()
        self.workdir = Path(lines[3]).resolve()
        index_env = os.environ.get("GIT_INDEX_FILE")
        # A relative GIT_INDEX_FILE is relative to the hook's cwd, the top of the work tree.
        self.index_path = Path(cwd, index_env) if index_env else self.gitdir / "index"
        self.head: str | None = lines[4] if out.returncode == 0 and len(lines) > 4 else None
        self._staged: dict[str, bytes | None] = {}  # ``staged_blob``s read with the changes

    @cached_property
    def merge_heads(self) -> tuple[str, ...]:
        if self.head is None or self.state != "merge":
            return ()
        try:
            text = (self.gitdir / "MERGE_HEAD").read_text("utf-8")
        except OSError:
            return ()
        return tuple(line.strip() for line in text.splitlines() if line.strip())

    @cached_property
    def state(self) -> str | None:
        """``'merge'`` (or another operation) in progress, else None."""
        for marker, name in _STATES:
            if (self.gitdir / marker).exists():
                if name in ("revert", "cherrypick") and (self.gitdir / "sequencer" / "todo").exists():
                    return f"{name} sequence"
                return name
        return None

    def relpath(self, path: str, cwd: Path) -> str:
        """A user-given path as a repository-relative POSIX path; refuses escapes (as
        ``Repo.relpath``)."""
        p = Path(path)
        full = Path(posixpath.normpath(str(p if p.is_absolute() else cwd / p)))
        try:
            rel = PurePosixPath(*full.relative_to(self.workdir).parts).as_posix()
        except ValueError:
            raise UsageError(f"{path}: outside the repository {self.workdir}") from None
        parts = rel.split("/")
        if not rel or "\\" in rel or "\0" in rel or any(x in ("", ".", "..") or x.lower() == ".git" for x in parts):
            raise UsageError(f"{rel}: not a path inside the repository")
        return rel

    # ---- reading ------------------------------------------------------------------

    def at_head(self, path: str) -> bytes | None:
        """``path`` as HEAD has it (None: no HEAD, no such file, or not a regular file)."""
        if self.head is None:
            return None
        listing = _git(self.cwd, ["ls-tree", "-z", "--full-tree", self.head, "--", path], check=False)
        mode, _, rest = listing.partition(b" ")
        if not listing or mode not in (b"100644", b"100755"):
            return None
        sha = rest.split(b" ", 1)[1].split(b"\t", 1)[0].decode()
        return self.blobs([sha]).get(sha)

    def staged_blob(self, path: str) -> bytes | None:
        """``path`` as the index holds it (stage 0), or None."""
        if path not in self._staged:
            self._staged[path] = self.blobs([f":{path}"]).get(f":{path}")
        return self._staged[path]

    def blobs(self, names: Iterable[str]) -> dict[str, bytes]:
        """The blobs ``names`` name (ids, ``rev:path``, ``:path``), read in one
        ``git cat-file --batch``; a name that names no blob is left out."""
        wanted = list(dict.fromkeys(n for n in names if "\n" not in n))
        if not wanted:
            return {}
        raw = _git(self.cwd, ["cat-file", "--batch"], "".join(f"{n}\n" for n in wanted).encode())
        out: dict[str, bytes] = {}
        pos = 0
        for name in wanted:
            eol = raw.index(b"\n", pos)
            header = raw[pos:eol].split(b" ")
            pos = eol + 1
            if len(header) != 3:  # "<name> missing" / "ambiguous"
                continue
            size = int(header[2])
            if header[1] == b"blob":
                out[name] = raw[pos : pos + size]
            pos += size + 1
        return out

    def _entries(self) -> tuple[list[_Entry], set[str]]:
        """The index's added and changed entries against HEAD, and its conflicted paths."""
        conflicted: set[str] = set()
        entries: list[_Entry] = []
        if self.head is None:  # the first commit: every entry is added
            raw = _git(self.cwd, ["ls-files", "-s", "-z", "--full-name", "--", ":/"])  # all, from any folder
            for item in raw.split(b"\0"):
                if not item:
                    continue
                info, _, name = item.partition(b"\t")
                mode, sha, stage = info.decode().split()
                path = name.decode("utf-8", "surrogateescape")
                if stage != "0":
                    conflicted.add(path)
                else:
                    entries.append(_Entry(path, None, sha, None, int(mode, 8)))
            return entries, conflicted
        raw = _git(self.cwd, ["diff-index", "--cached", "-z", "--raw", "-M", "--no-abbrev", self.head, "--"])
        parts = raw.split(b"\0")
        i = 0
        while i < len(parts) - 1:
            info = parts[i].decode()
            if not info.startswith(":"):
                i += 1
                continue
            old_mode, new_mode, old_sha, new_sha, status = info[1:].split()
            kind = status[0]
            if kind in "RC":
                old_path = parts[i + 1].decode("utf-8", "surrogateescape")
                path = parts[i + 2].decode("utf-8", "surrogateescape")
                i += 3
            else:
                old_path, path = None, parts[i + 1].decode("utf-8", "surrogateescape")
                i += 2
            if kind == "U":
                conflicted.add(path)
                continue
            if kind not in "AMTRC":
                continue  # deleted: nothing to check
            regular = old_sha != _NULL and int(old_mode, 8) not in (MODE_LINK, MODE_COMMIT, 0)
            entries.append(_Entry(
                path,
                old_path if kind == "R" else None,
                new_sha,
                old_sha if regular and kind != "C" else None,
                int(new_mode, 8),
            ))
        return entries, conflicted

    def changes(self, wanted: Callable[[str], bool]) -> Changes:
        """The staged files whose path ``wanted`` accepts that the commit adds or changes.

        Deletions are not changes to check; conflicted, binary, oversized, symlinked and
        submodule entries are reported in ``skipped``.
        """
        out = Changes()
        entries, conflicted = self._entries()
        for path in sorted(conflicted):
            if wanted(path):
                out.skipped.append((path, "unmerged (conflicted) path"))
        todo: list[_Entry] = []
        for e in entries:
            if e.path in conflicted or not wanted(e.path):
                continue
            if e.mode == MODE_LINK:
                out.skipped.append((e.path, "symbolic link"))
            elif e.mode == MODE_COMMIT:
                out.skipped.append((e.path, "submodule"))
            else:
                todo.append(e)
        names = [e.new_sha for e in todo]
        names += [e.old_sha for e in todo if e.old_sha is not None]
        names += [f"{mh}:{e.path}" for e in todo for mh in self.merge_heads]
        # The checks read the project's configuration (checks.py): in the same git process.
        ahead = [p for p in PREFETCH if p not in self._staged] if todo else []
        got = self.blobs(names + [f":{p}" for p in ahead])
        self._staged.update({p: got.get(f":{p}") for p in ahead})
        for e in todo:
            data = got.get(e.new_sha)
            if data is None:
                raise StagedReadError(f"the staged blob of {e.path} cannot be read")
            if len(data) > MAX_BYTES:
                out.skipped.append((e.path, f"larger than {MAX_BYTES // (1024 * 1024)} MB"))
                continue
            if b"\0" in data[:BINARY_SNIFF]:
                out.skipped.append((e.path, "binary"))
                continue
            bases: list[bytes | None] = []
            if self.head is not None:
                bases.append(got.get(e.old_sha) if e.old_sha is not None else None)
            bases.extend(got.get(f"{mh}:{e.path}") for mh in self.merge_heads)
            out.files.append(StagedFile(e.path, data, tuple(bases), e.old_path, e.mode))
        return out

    # ---- what needs pygit2 -------------------------------------------------------------

    @cached_property
    def view(self) -> StagedView:
        """The full read-only view (pygit2): objects, the whole index, repair's writes."""
        from astm.workspace.index import open_staged

        return open_staged(self.cwd)
