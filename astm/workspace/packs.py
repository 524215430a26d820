"""A run's leaf commits, held in memory and written as one pack when a commit above them
is made.

A leaf's commit is three objects (the file's blob, a tree a folder, the commit), and a
128-function plan made 390 of them: as loose objects, 390 files created in a burst. On
this VM creating a file in a folder just written to sometimes waits for the file system's
journal: one run in three spent 5 to 25 ms on single objects, and the 128-node run took
0.28 s instead of 0.18 s. Here a leaf only hashes its objects (on the event loop's thread:
``git.commit_pending``), and the first commit that takes leaf commits as parents (its
file's overlay, the root's) writes everything held as one pack and its index: two files
a run instead of hundreds, before any ref can point at them.

A leaf's blob is its file with its own node changed: it is held as a delta against the
file the leaf read (``add_edit``: copy, insert the node's text, copy), and the pack holds
that file whole once. Its new bytes are hashed, never built or deflated: deflating a
100 kB blob was 0.09 ms a leaf, and holding 128 of them whole cost a forked server child
1,700 page faults. Trees and commits are small; they are deflated as they come.

Objects never asked for (a run that failed before composing) are never written: their
ids in the run's record then name nothing, as a pruned node commit would (``git.present``).

The pack is version 2 (whole objects, then offset deltas against them, chains of one),
its index version 2, both in git's layout (tests/test_packs.py checks the index byte for
byte against ``git index-pack`` and reads every object back through git). They are
written under temporary names in ``objects/pack`` and renamed, the pack first: git and
libgit2 read a pack only once its index is there. A process killed between leaves a
``tmp_pack_astm_*`` file: git's own prune removes it, and so does ``astm gc``.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import zlib

from astm.workspace.loose import TMP_PACK, put_file

TYPES = {b"commit": 1, b"tree": 2, b"blob": 3}
OFS_DELTA = 6  # an entry that is a delta against an earlier entry of the same pack
_LIMIT = 64 << 20  # deflated bytes held before a pack is written anyway


class Pending:
    """The objects of one object folder waiting for a pack (``pending_of`` in git.py)."""

    def __init__(self, objects: str) -> None:
        self.objects = objects
        # id -> (type, size, deflated bytes, the delta's base id or None)
        self._items: dict[bytes, tuple[int, int, bytes, bytes | None]] = {}
        self._bases: dict[int, tuple[bytes, bytes]] = {}  # id(base bytes) -> (its id, the bytes)
        self._held = 0
        self._lock = threading.Lock()  # the items
        self._writing = threading.Lock()  # one pack at a time, its objects readable when it returns

    def add(self, kind: bytes, body: bytes) -> str:
        """The hex id of the object, held until the next ``flush``."""
        digest = hashlib.sha1(b"%s %d\0" % (kind, len(body)))
        digest.update(body)
        oid = digest.digest()
        packed = zlib.compress(body, 1)
        self._hold(oid, (TYPES[kind], len(body), packed, None))
        return oid.hex()

    def add_edit(self, base: bytes, start: int, end: int, text: bytes) -> str:
        """The hex id of the blob ``base`` with ``[start, end)`` replaced by ``text``, held
        as a delta against ``base`` (which the pack then holds whole): a leaf's blob is
        its file with its own node changed, and deflating the whole file for each leaf
        was most of its commit. The new bytes are only hashed, never built."""
        size = len(base) - (end - start) + len(text)
        view = memoryview(base)
        digest = hashlib.sha1(b"blob %d\0" % size)
        for part in (view[:start], text, view[end:]):
            digest.update(part)
        oid = digest.digest()
        known = self._bases.get(id(base))
        if known is None or known[1] is not base:
            whole = hashlib.sha1(b"blob %d\0" % len(base))
            whole.update(base)
            known = (whole.digest(), base)
        if oid == known[0]:  # the base itself: held whole (it may be in no pack yet)
            self._hold(oid, (TYPES[b"blob"], len(base), zlib.compress(base, 1), None))
        else:
            delta = _delta(len(base), size, start, end, text)
            self._hold(oid, (OFS_DELTA, len(delta), zlib.compress(delta, 1), known[0]), base=known)
        return oid.hex()

    def _hold(
        self, oid: bytes, item: tuple[int, int, bytes, bytes | None], *, base: tuple[bytes, bytes] | None = None
    ) -> None:
        with self._lock:  # a delta and its base go to the same pack
            if base is not None:
                self._bases[id(base[1])] = base
            if oid not in self._items:
                self._items[oid] = item
                self._held += len(item[2])
            full = self._held > _LIMIT
        if full:
            self.flush()

    def flush(self) -> None:
        """Write what is held as one pack. When it returns, every object added before the
        call is in the repository (a flush under way elsewhere is waited for)."""
        with self._writing:
            with self._lock:
                items, self._items, self._held = self._items, {}, 0
                bases, self._bases = self._bases, {}
            for base_id, base in bases.values():  # whole, for the deltas against them
                if base_id not in items and any(item[3] == base_id for item in items.values()):
                    items[base_id] = (TYPES[b"blob"], len(base), zlib.compress(base, 1), None)
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


def _varint(n: int) -> bytes:
    """A delta's size: 7 bits a byte, the lowest first."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _copy(offset: int, size: int) -> bytes:
    """Delta instructions copying ``size`` bytes of the base from ``offset``."""
    out = bytearray()
    while size:
        n = min(size, 0x10000)  # as git's own deltas: at most 64 KiB a copy
        op, args = 0x80, bytearray()
        for i in range(4):
            if (offset >> (8 * i)) & 0xFF:
                op |= 1 << i
                args.append((offset >> (8 * i)) & 0xFF)
        for i in range(3):
            if (n >> (8 * i)) & 0xFF:
                op |= 1 << (4 + i)
                args.append((n >> (8 * i)) & 0xFF)
        out += bytes([op]) + args
        offset, size = offset + n, size - n
    return bytes(out)


def _delta(base_size: int, size: int, start: int, end: int, text: bytes) -> bytes:
    """git's delta from a base of ``base_size`` bytes to one with ``[start, end)``
    replaced by ``text``: copy the head, insert the text (127 bytes an instruction),
    copy the tail."""
    out = bytearray(_varint(base_size) + _varint(size))
    out += _copy(0, start)
    for at in range(0, len(text), 127):
        piece = text[at : at + 127]
        out += bytes([len(piece)]) + piece
    out += _copy(end, base_size - end)
    return bytes(out)


def _offset(distance: int) -> bytes:
    """How far back an offset delta's base starts: git's big-endian varint, each byte
    but the last one less."""
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.append(0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(reversed(out))


def pack_and_index(items: dict[bytes, tuple[int, int, bytes, bytes | None]]) -> tuple[bytes, bytes, bytes]:
    """The bytes of a version 2 pack of ``items`` (whole objects, then the offset deltas
    against them), of its version 2 index, and the pack's checksum (which names both)."""
    order = sorted(items, key=lambda oid: (items[oid][3] is not None, oid))  # bases first
    chunks = [b"PACK" + struct.pack(">II", 2, len(order))]
    where: dict[bytes, tuple[int, int]] = {}  # id -> (offset, crc)
    at = len(chunks[0])
    for oid in order:
        kind, size, packed, base = items[oid]
        entry = _header(kind, size) + (b"" if base is None else _offset(at - where[base][0])) + packed
        where[oid] = (at, zlib.crc32(entry))
        chunks.append(entry)
        at += len(entry)
    ids = sorted(items)
    offsets = [where[oid][0] for oid in ids]
    crcs = [where[oid][1] for oid in ids]
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


def write_pack(objects: str, items: dict[bytes, tuple[int, int, bytes, bytes | None]]) -> str:
    """Write ``items`` as ``objects/pack/pack-<checksum>.{pack,idx}``; the pack's path."""
    pack, index, checksum = pack_and_index(items)
    folder = os.path.join(objects, "pack")
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, f"pack-{checksum.hex()}")
    for data, suffix in ((pack, ".pack"), (index, ".idx")):  # the index last: it makes the pack seen
        put_file(folder, TMP_PACK, final + suffix, data)
    return final + ".pack"
