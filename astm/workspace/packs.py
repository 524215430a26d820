"""A run's leaf commits, held in memory and written as one pack when a commit above them
is made.

A leaf's commit is three objects (the file's blob, a tree a folder, the commit), and a
128-function plan made 390 of them: as loose objects, 390 files created in a burst. On
this VM a file created while the file system journals the folder's last change waits
for it: a tenth of the runs spent 5 to 25 ms on single objects, and the 128-node run
took 0.28 s instead of 0.18 s. Here a leaf only hashes and deflates its objects (on the
event loop's thread: ``git.commit_pending``), and the first commit that takes leaf
commits as parents (its file's overlay, the root's) writes everything held as one pack
and its index: two files a run instead of hundreds, before any ref can point at them.
They are held deflated: held whole, a 128-leaf plan's 13 MB of blobs cost the run 1,700
page faults more (a forked server child: 0.07 ms a leaf) than deflating them (0.09 ms
for 100 kB, zlib's fastest level, git's default for loose objects).

Objects never asked for (a run that failed before composing) are never written: their
ids in the run's record then name nothing, as a pruned node commit would (``git.present``).

The pack is version 2 without deltas, its index version 2, both in git's layout
(tests/test_packs.py checks the index byte for byte against ``git index-pack``). They are
written under temporary names in ``objects/pack`` and renamed, the pack first: git and
libgit2 read a pack only once its index is there. A process killed between leaves a
``tmp_pack_*`` file, which git's own prune removes.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
import threading
import zlib

TYPES = {b"commit": 1, b"tree": 2, b"blob": 3}
_LIMIT = 64 << 20  # deflated bytes held before a pack is written anyway
_COUNTER = itertools.count()


class Pending:
    """The objects of one object folder waiting for a pack (``pending_of`` in git.py)."""

    def __init__(self, objects: str) -> None:
        self.objects = objects
        self._items: dict[bytes, tuple[int, int, bytes]] = {}  # id -> (type, size, deflated)
        self._held = 0
        self._lock = threading.Lock()  # the items
        self._writing = threading.Lock()  # one pack at a time, its objects readable when it returns

    def add(self, kind: bytes, body: bytes) -> str:
        """The hex id of the object, held until the next ``flush``."""
        digest = hashlib.sha1(b"%s %d\0" % (kind, len(body)))
        digest.update(body)
        oid = digest.digest()
        packed = zlib.compress(body, 1)
        with self._lock:
            if oid not in self._items:
                self._items[oid] = (TYPES[kind], len(body), packed)
                self._held += len(packed)
            full = self._held > _LIMIT
        if full:
            self.flush()
        return oid.hex()

    def flush(self) -> None:
        """Write what is held as one pack. When it returns, every object added before the
        call is in the repository (a flush under way elsewhere is waited for)."""
        with self._writing:
            with self._lock:
                items, self._items, self._held = self._items, {}, 0
            if items:
                write_pack(self.objects, items)


def _header(kind: int, size: int) -> bytes:
    """An entry's type and size: 4 bits of size in the first byte, 7 in each after."""
    out = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    out.append(byte)
    return bytes(out)


def pack_and_index(items: dict[bytes, tuple[int, int, bytes]]) -> tuple[bytes, bytes, bytes]:
    """The bytes of a version 2 pack of ``items`` (no deltas), of its version 2 index, and
    the pack's checksum (which names both files)."""
    ids = sorted(items)
    chunks = [b"PACK" + struct.pack(">II", 2, len(ids))]
    offsets: list[int] = []
    crcs: list[int] = []
    at = len(chunks[0])
    for oid in ids:
        kind, size, packed = items[oid]
        entry = _header(kind, size) + packed
        offsets.append(at)
        crcs.append(zlib.crc32(entry))
        chunks.append(entry)
        at += len(entry)
    pack = b"".join(chunks)
    checksum = hashlib.sha1(pack).digest()
    fanout = [0] * 256
    for oid in ids:
        fanout[oid[0]] += 1
    total = 0
    for i, n in enumerate(fanout):
        total += n
        fanout[i] = total
    small: list[int] = []
    large: list[int] = []
    for offset in offsets:  # offsets past 2 GiB go to a table of 8-byte ones
        if offset < 0x80000000:
            small.append(offset)
        else:
            small.append(0x80000000 | len(large))
            large.append(offset)
    index = b"".join([
        b"\xfftOc", struct.pack(">I", 2), struct.pack(">256I", *fanout), *ids,
        struct.pack(f">{len(ids)}I", *crcs), struct.pack(f">{len(ids)}I", *small),
        struct.pack(f">{len(large)}Q", *large), checksum,
    ])
    index += hashlib.sha1(index).digest()
    return pack + checksum, index, checksum


def write_pack(objects: str, items: dict[bytes, tuple[int, int, bytes]]) -> str:
    """Write ``items`` as ``objects/pack/pack-<checksum>.{pack,idx}``; the pack's path."""
    pack, index, checksum = pack_and_index(items)
    folder = os.path.join(objects, "pack")
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, f"pack-{checksum.hex()}")
    tag = f"{os.getpid()}_{threading.get_ident()}_{next(_COUNTER)}"
    for data, suffix in ((pack, ".pack"), (index, ".idx")):  # the index last: it makes the pack seen
        tmp = os.path.join(folder, f"tmp_pack_astm_{tag}{suffix}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, final + suffix)
    return final + ".pack"
