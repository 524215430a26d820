"""A commit of one file's new bytes, its objects made without the interpreter lock.

pygit2 holds the interpreter lock through a whole object write: the hash, the deflate and
the file system's create, link and unlink. The leaves of a wave commit together (32
functions of a 5,000-line file answered at once; 128 in a plan), each a 150 kB blob, a
tree and a commit: 0.8 ms a leaf during which no other coroutine of the run moved, and
on 2 CPUs it was a third of a plan leaf's time. Here the hash (hashlib), the deflate
(zlib) and the file calls release the lock, so a commit overlaps the next leaf's checks
on the other core. A leaf's objects go to the pack that waits for the commit above it
(astm/workspace/packs.py); the commits above (a file's overlay, the root's) are written
here as loose objects (``write_object``).

Only the common case is taken (``path_trees``): one existing file's bytes, in a SHA-1
repository whose objects have git's default permissions. Each tree on the file's path is
the fork's own bytes with one entry's id replaced, so it stays canonical; the commit is
git's format (its id is checked against pygit2's in tests/test_loose.py). For anything
else ``path_trees`` is None and pygit2 writes the commit (``git.commit_detached``).

A loose object is written as git does: deflated into a temporary file in its fan-out
folder and renamed into place (atomic: a reader sees all of it or nothing; an object
written meanwhile by another writer had the same bytes). A process killed between the
two leaves a ``tmp_obj_*`` file there, which git's own prune removes.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import zlib
from collections.abc import Callable, Sequence

import pygit2

_COUNTER = itertools.count()
_BLOB_MODES = (0o100644, 0o100755)
# The names of the temporary files astm writes objects through (here and in packs.py):
# ``astm gc`` removes those a killed process left (``stale_temporaries``).
TMP_OBJECT = "tmp_obj_astm_"
TMP_PACK = "tmp_pack_astm_"
_STALE = 3600  # seconds: a write takes milliseconds; an older one's writer is gone


def write_object(objects: str, kind: bytes, body: bytes) -> str:
    """The hex id of the loose object ``kind`` with ``body``, written under ``objects``
    unless it is there already (then only its time is freshened, as git does, so a
    concurrent prune spares it)."""
    raw = b"%s %d\0%s" % (kind, len(body), body)
    hexid = hashlib.sha1(raw).hexdigest()
    folder = os.path.join(objects, hexid[:2])
    path = os.path.join(folder, hexid[2:])
    try:
        os.utime(path)
        return hexid
    except FileNotFoundError:
        pass
    except OSError:  # there, but not ours to touch
        return hexid
    packed = zlib.compress(raw, 1)  # git's core.looseCompression default (Z_BEST_SPEED)
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    # Made in the object's own fan-out folder, as git does: the objects folder itself is
    # then not rewritten twice an object (metadata the file system must journal). An
    # object written meanwhile by another writer had the same bytes.
    put_file(folder, TMP_OBJECT, path, packed)
    return hexid


def put_file(folder: str, prefix: str, path: str, data: bytes) -> None:
    """``data`` as the read-only file ``path``: written to a new temporary file in
    ``folder`` named ``prefix...`` (``stale_temporaries`` finds one a kill left), then
    renamed into place, so a reader sees all of it or nothing."""
    tmp = os.path.join(folder, f"{prefix}{os.getpid()}_{threading.get_ident()}_{next(_COUNTER)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def stale_temporaries(objects: str, now: float) -> list[str]:
    """The temporary object and pack files astm's writers left in ``objects`` (a process
    killed between writing one and renaming it) that are over an hour old."""
    found: list[str] = []
    try:
        folders = [e.path for e in os.scandir(objects) if e.is_dir() and (len(e.name) == 2 or e.name == "pack")]
    except OSError:
        return found
    for folder in folders:
        prefix = TMP_PACK if folder.endswith("pack") else TMP_OBJECT
        try:
            entries = [e for e in os.scandir(folder) if e.name.startswith(prefix)]
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_file(follow_symlinks=False) and now - e.stat(follow_symlinks=False).st_mtime > _STALE:
                    found.append(e.path)
            except OSError:
                continue
    return sorted(found)


def entry_offset(body: bytes, name: bytes) -> tuple[int, int] | None:
    """Where the 20-byte id of ``name``'s entry starts in a raw tree, and its mode."""
    at = 0
    while at < len(body):
        space = body.index(b" ", at)
        nul = body.index(b"\0", space)
        if body[space + 1 : nul] == name:
            return nul + 1, int(body[at:space], 8)
        at = nul + 21
    return None


def signature_line(sig: pygit2.Signature) -> bytes:
    """``Name <email> seconds +hhmm``, as git writes an author or committer."""
    offset = sig.offset
    sign = b"-" if offset < 0 else b"+"
    hours, minutes = divmod(abs(offset), 60)
    return b"%s <%s> %d %s%02d%02d" % (sig.raw_name, sig.raw_email, sig.time, sign, hours, minutes)


def commit_body(tree: str, parents: Sequence[str], sig: pygit2.Signature, message: str) -> bytes:
    who = signature_line(sig)
    lines = [b"tree " + tree.encode()]
    lines += [b"parent " + p.encode() for p in parents]
    lines += [b"author " + who, b"committer " + who]
    return b"\n".join(lines) + b"\n\n" + message.encode("utf-8")


# Raw trees by (id, entry name): the bytes of an id never change, so any repository's do.
_slots: dict[tuple[bytes, bytes], tuple[bytes, int, int] | None] = {}


def _slot(repo: pygit2.Repository, tree: pygit2.Oid, name: bytes) -> tuple[bytes, int, int] | None:
    key = (tree.raw, name)
    if key not in _slots:
        if len(_slots) > 256:
            _slots.clear()
        kind, body = repo.odb.read(tree)
        found = entry_offset(body, name) if kind == pygit2.enums.ObjectType.TREE else None
        _slots[key] = (body, *found) if found else None
    return _slots[key]


def path_trees(repo: pygit2.Repository, root: pygit2.Oid, path: str) -> list[tuple[bytes, int]] | None:
    """The raw trees from ``root`` down to the existing file ``path``, each with where
    the next level's id sits; None unless ``path`` is a regular file (not a symlink or a
    submodule) in a SHA-1 repository with git's default permissions. Read under the
    caller's lock: a leaf's ``fork`` is its run's, so these are read once a run."""
    if not eligible(repo):
        return None
    names = [part.encode("utf-8") for part in path.split("/")]
    levels: list[tuple[bytes, int]] = []
    tree = root
    for depth, name in enumerate(names):
        found = _slot(repo, tree, name)
        if found is None:
            return None
        body, at, mode = found
        last = depth == len(names) - 1
        if (mode in _BLOB_MODES) != last or (not last and mode != 0o40000):
            return None
        levels.append((body, at))
        tree = pygit2.Oid(raw=body[at : at + 20])
    return levels


def eligible(repo: pygit2.Repository) -> bool:
    """A SHA-1 repository whose objects get git's default permissions. Asked of every
    commit, answered from the repository's configuration once while it is unchanged
    (reading it is a fifth of a commit)."""
    try:
        stamp = os.stat(os.path.join(repo.path, "config")).st_mtime_ns
    except OSError:
        stamp = None
    key = (repo.path, stamp)
    if key not in _eligible:
        if len(_eligible) > 64:
            _eligible.clear()
        _eligible[key] = _reads_eligible(repo)
    return _eligible[key]


_eligible: dict[tuple[str, int | None], bool] = {}


def _reads_eligible(repo: pygit2.Repository) -> bool:
    config = repo.config
    for key, allowed in (("extensions.objectformat", ("sha1",)), ("core.sharedrepository", ("false", "umask", "0"))):
        if key in config and str(config[key]).lower() not in allowed:
            return False
    return True


def commit_file(
    store: Callable[[bytes, bytes], str], levels: list[tuple[bytes, int]], blob: str,
    parents: Sequence[pygit2.Oid], sig: pygit2.Signature, message: str,
) -> pygit2.Oid:
    """The commit whose tree is ``levels`` (``path_trees``) with the file set to the blob
    ``blob`` (already stored), each tree and the commit given to ``store``
    (``write_object`` on a folder, or a pending pack's ``add``) outside any lock."""
    child = blob
    for body, at in reversed(levels):
        child = store(b"tree", body[:at] + bytes.fromhex(child) + body[at + 20 :])
    return pygit2.Oid(hex=store(b"commit", commit_body(child, [str(p) for p in parents], sig, message)))
