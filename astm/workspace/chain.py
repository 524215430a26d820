"""Git work of tracks: merged bases, ticket result refs, and the linear landing chain.

A ticket's result is a commit whose parent is its base; several dependencies give a base
that merges their results (a conflict names both tickets). Results stay reachable from
``refs/astm/tracks/<track>/<ticket>`` so a crash or a resume loses nothing. The track
lands as one branch holding one commit per ticket: each commit's tree is the cumulative
result of the tickets before it, rebuilt by three-way merges in dependency order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pygit2

from astm.errors import ApplyError, BranchExistsError
from astm.workspace import git
from astm.workspace.repo import Repo

TRACK_REF_PREFIX = "refs/astm/tracks/"


class MergeConflict(ApplyError):
    """Two tickets changed the same lines; the message names them and the files."""


@dataclass(frozen=True)
class Step:
    """One ticket of the chain: the commit it started from, its result and its message."""

    ticket: str
    base: str
    result: str
    message: str


def result_ref(track: str, ticket: str) -> str:
    return f"{TRACK_REF_PREFIX}{track}/{ticket}"


def keep_result(repo: Repo, track: str, ticket: str, commit: str) -> None:
    with git.LOCK:
        repo.repo.create_reference(result_ref(track, ticket), pygit2.Oid(hex=commit), force=True)


def drop_result(repo: Repo, track: str, ticket: str) -> None:
    with git.LOCK:
        try:
            repo.repo.references.delete(result_ref(track, ticket))
        except (KeyError, pygit2.GitError):
            pass


def drop_results(repo: Repo, track: str) -> list[str]:
    """Delete every result ref of ``track``; the names deleted."""
    prefix = f"{TRACK_REF_PREFIX}{track}/"
    with git.LOCK:
        names = [n for n in repo.repo.references if n.startswith(prefix)]
        for n in names:
            repo.repo.references.delete(n)
    return names


def exists(repo: Repo, commit: str | None) -> bool:
    if not commit:
        return False
    with git.LOCK:
        try:
            return isinstance(repo.repo.get(commit), pygit2.Commit)
        except (ValueError, pygit2.GitError):
            return False


def _merge(repo: Repo, ancestor: pygit2.Oid, ours: pygit2.Oid, theirs: pygit2.Oid,
           what: str) -> pygit2.Oid:
    """Three-way merge of trees; the merged tree, or MergeConflict naming ``what``."""
    r = repo.repo
    index = r.merge_trees(ancestor, ours, theirs)
    if index.conflicts is not None:
        paths = sorted({str(entry.path) for e in index.conflicts for entry in e if entry is not None})
        raise MergeConflict(f"{what} conflict in {', '.join(paths)}")
    return index.write_tree(r)


def merged_base(repo: Repo, base: str, results: Sequence[tuple[str, str]], *, ticket: str) -> str:
    """The commit a ticket starts from: ``base`` with no dependency, the one result with
    one, else a merge commit of the results (parents: the results), unreferenced until the
    ticket's own result is kept."""
    if not results:
        return base
    if len(results) == 1:
        return results[0][1]
    with git.LOCK:
        r = repo.repo
        first_id, first = results[0]
        tree = r[first].peel(pygit2.Commit).tree_id
        for other_id, other in results[1:]:
            anc = r.merge_base(pygit2.Oid(hex=first), pygit2.Oid(hex=other))
            anc_tree = r[anc].peel(pygit2.Commit).tree_id if anc else r[base].peel(pygit2.Commit).tree_id
            what = f"ticket {ticket}: its dependencies {first_id} and {other_id}"
            tree = _merge(repo, anc_tree, tree, r[other].peel(pygit2.Commit).tree_id, what)
        sig = git.signature(r)
        parents = [pygit2.Oid(hex=c) for _, c in results]
        msg = f"astm: base of ticket {ticket}\n"
        return str(r.create_commit(None, sig, sig, msg, tree, parents))


def chain(repo: Repo, base: str, steps: Sequence[Step]) -> str:
    """Commits in ``steps`` order, each on the previous, each tree the cumulative result;
    the last commit's id. MergeConflict names the ticket that does not fit."""
    with git.LOCK:
        r = repo.repo
        sig = git.signature(r)
        parent = pygit2.Oid(hex=base)
        tree = r[parent].peel(pygit2.Commit).tree_id
        for s in steps:
            own_base = r[s.base].peel(pygit2.Commit).tree_id
            own = r[s.result].peel(pygit2.Commit).tree_id
            tree = _merge(repo, own_base, tree, own, f"ticket {s.ticket}:")
            parent = r.create_commit(None, sig, sig, s.message, tree, [parent])
        return str(parent)


def tree_diff(repo: Repo, old: str, new: str) -> str:
    """``git diff old new`` of two commits, as text (libgit2; no external tool)."""
    with git.LOCK:
        r = repo.repo
        a = r[old].peel(pygit2.Tree)
        b = r[new].peel(pygit2.Tree)
        return r.diff(a, b, context_lines=3).patch or ""


def create_branch(repo: Repo, slug: str, commit: str) -> str:
    """``astm/<slug>`` (then ``-2``, ``-3`` ...) created only if absent (compare-and-swap)."""
    zero = "0" * len(commit)
    for i in range(1, 100):
        name = f"astm/{slug}" if i == 1 else f"astm/{slug}-{i}"
        proc = git.run_git(["update-ref", "-m", "astm: land track", f"refs/heads/{name}", commit, zero],
                           repo.workdir, check=False)
        if proc.returncode == 0:
            return name
    raise BranchExistsError(f"no free branch name for astm/{slug}")


def ref_target(repo: Repo, name: str) -> str | None:
    with git.LOCK:
        try:
            return str(repo.repo.references[name].target)
        except (KeyError, pygit2.GitError):
            return None


def delete_ref_if(repo: Repo, name: str, expected: str) -> bool:
    """Delete ``name`` only if it still points at ``expected`` (git's own CAS); done?"""
    proc = git.run_git(["update-ref", "-d", name, expected], repo.workdir, check=False)
    return proc.returncode == 0


def log_text(repo: Repo, base: str, head: str) -> str:
    """One line per commit from ``base`` (excluded) to ``head``, oldest first, with the
    files each changed: a short ``git log --stat`` for display."""
    out: list[str] = []
    with git.LOCK:
        r = repo.repo
        oid = pygit2.Oid(hex=head)
        stop = pygit2.Oid(hex=base)
        while oid != stop:
            c = r[oid].peel(pygit2.Commit)
            parent = c.parents[0] if c.parents else None
            diff = r.diff(parent.tree if parent else None, c.tree)
            files = ", ".join(p.delta.new_file.path for p in diff)
            out.append(f"{str(c.id)[:10]} {c.message.splitlines()[0]}\n           {files}")
            if parent is None:
                break
            oid = parent.id
    return "\n".join(reversed(out))
