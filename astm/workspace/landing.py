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


def check_branch_name(name: str) -> str:
    if not pygit2.reference_is_valid_name(f"refs/heads/{name}"):
        raise UsageError(f"--branch {name!r} is not a valid branch name")
    if name == "astm/tmp" or name.startswith("astm/tmp/"):
        raise UsageError(f"--branch {name!r}: astm/tmp/ is reserved for astm's own sandboxes")
    return name


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
        r = repo.repo
        author = git.signature(r)
        commit = r.create_commit(None, author, author, message, tree, [base])
        if branch is not None:
            try:
                r.create_reference(f"refs/heads/{branch}", commit, force=False)
            except (pygit2.AlreadyExistsError, ValueError):
                raise BranchExistsError(
                    f"branch {branch} already exists (another run may have just created it); "
                    "choose another with --branch"
                ) from None
            return branch, commit
        slug = slugify(intent)
        for i in range(1, 1000):
            name = f"astm/{slug}" if i == 1 else f"astm/{slug}-{i}"
            try:
                r.create_reference(f"refs/heads/{name}", commit, force=False)
                return name, commit
            except (pygit2.AlreadyExistsError, ValueError):
                continue
    raise BranchExistsError(f"no free branch name for astm/{slug}; pass --branch")
