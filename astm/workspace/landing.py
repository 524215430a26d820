"""Landing: one squashed commit on a new branch, created with a compare-and-swap."""

from __future__ import annotations

import re

import pygit2

from astm.errors import BranchExistsError, UsageError
from astm.workspace import git
from astm.workspace.repo import Repo

MAX_SLUG = 48


def slugify(intent: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", intent.lower()).split()
    slug = ""
    for w in words:
        if len(slug) + len(w) + 1 > MAX_SLUG:
            break
        slug = f"{slug}-{w}" if slug else w
    slug = slug or (words[0][:MAX_SLUG] if words else "change")
    # ``astm/tmp`` is the namespace of ephemeral branches: a branch of that name would
    # block them (a ref cannot be both a file and a directory).
    return "tmp-change" if slug == "tmp" else slug


# Names git resolves before branches (``git diff HEAD x`` would not mean the branch) or
# writes itself at the top of a git directory: a branch may not shadow them.
_PSEUDO_REF = re.compile(r"[A-Z_]*HEAD|AUTO_MERGE|@", re.IGNORECASE)


def check_branch_name(name: str) -> str:
    """A name ``git check-ref-format --branch`` accepts for a new branch, that shadows no
    HEAD-like name and is not a full ref (``refs/heads/main`` would make
    ``refs/heads/refs/heads/main``). Refused with exit 2, naming the rule."""
    shown = ascii(name)  # a control character in a name is shown escaped, never printed
    if not name or not pygit2.reference_is_valid_name(f"refs/heads/{name}"):
        raise UsageError(f"--branch {shown} is not a valid branch name (see git check-ref-format)")
    if name.startswith("-"):
        raise UsageError(f"--branch {shown}: a branch name may not start with '-' (git would read it as an option)")
    if name.startswith("refs/") or name == "refs":
        raise UsageError(f"--branch {shown}: give the branch name without refs/ (refs/heads/ is added)")
    if _PSEUDO_REF.fullmatch(name):
        raise UsageError(f"--branch {shown}: git keeps this name for itself (HEAD, FETCH_HEAD, ORIG_HEAD ...); choose another")
    if name in ("astm", "astm/tmp") or name.startswith("astm/tmp/"):
        raise UsageError(f"--branch {name!r}: astm and astm/tmp/ are reserved for astm's sandboxes")
    return name


def branch_conflict(repo: Repo, name: str) -> str | None:
    """Why branch ``name`` cannot be created, or None: it exists, or a branch is in the way
    of it as a folder (``main`` blocks ``main/x``; ``x/y`` blocks ``x``)."""
    full = f"refs/heads/{name}"
    with git.LOCK:
        refs = [r for r in repo.repo.references if r.startswith("refs/heads/")]
    for ref in refs:
        if ref == full:
            return f"branch {name} already exists"
        if full.startswith(ref + "/"):
            return f"branch {ref.removeprefix('refs/heads/')} exists, so {name} cannot"
        if ref.startswith(full + "/"):
            return f"branch {ref.removeprefix('refs/heads/')} exists, so {name} cannot"
    return None


def _create(repo: Repo, ref: str, commit: pygit2.Oid) -> str | None:
    """Create ``ref`` at ``commit`` only if it does not exist: None, or git's reason.

    ``git update-ref <ref> <new> 0000...`` checks that the ref is absent *under the ref's
    lock*: a true compare-and-swap. libgit2's ``create_reference(force=False)`` checks
    before it takes the lock, and two processes racing for one name can both "win" (the
    second silently overwrites the first).
    """
    zero = "0" * len(str(commit))
    args = ["update-ref", "-m", "astm: land", ref, str(commit), zero]
    proc = git.run_git(args, repo.workdir, check=False)
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or ["(no output)"])[-1]


def make_commit(repo: Repo, tree: pygit2.Oid, base: pygit2.Oid, message: str) -> pygit2.Oid:
    """The landing commit alone (its base as only parent), referenced by nothing yet."""
    with git.LOCK:
        author = git.signature(repo.repo)
        return repo.repo.create_commit(None, author, author, message, tree, [base])


def _logged(repo: Repo, branch: str, commit: pygit2.Oid, intent: str) -> tuple[str, pygit2.Oid]:
    """Record the new branch in the operation log, so ``astm undo`` can remove it."""
    from astm.workspace import oplog

    oplog.record_branch(repo, f"refs/heads/{branch}", str(commit), f"apply landed {branch}: {intent[:60]}")
    return branch, commit


def land(
    repo: Repo,
    *,
    tree: pygit2.Oid,
    base: pygit2.Oid,
    message: str,
    branch: str | None,
    intent: str,
) -> tuple[str, pygit2.Oid]:
    """Create the landing commit and its branch; returns ``(branch, commit)``.

    With an explicit ``branch`` the ref must not exist; without, ``astm/<slug>`` is made
    unique with ``-2``, ``-3`` ... The ref is created only if absent (compare-and-swap), so
    two runs racing for one name cannot both win.
    """
    with git.LOCK:
        commit = make_commit(repo, tree, base, message)
        if branch is not None:
            failed = _create(repo, f"refs/heads/{branch}", commit)
            if failed is None:
                return _logged(repo, branch, commit, intent)
            why = branch_conflict(repo, branch)
            if why is None and "cannot lock" not in failed:
                raise git.GitError(f"cannot create branch {branch}: {failed}")
            if why is None or why.endswith("already exists"):
                # (a lock held at that instant: another run creating the same name)
                why = f"branch {branch} already exists (another run may have just created it)"
            raise BranchExistsError(f"{why}; choose another with --branch")
        slug = slugify(intent)
        for i in range(1, 1000):
            name = f"astm/{slug}" if i == 1 else f"astm/{slug}-{i}"
            failed = _create(repo, f"refs/heads/{name}", commit)
            if failed is None:
                return _logged(repo, name, commit, intent)
            if branch_conflict(repo, name) is None and "cannot lock" not in failed:
                raise git.GitError(f"cannot create branch {name}: {failed}")
    raise BranchExistsError(f"no free branch name for astm/{slug}; pass --branch")
