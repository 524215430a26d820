"""The language-neutral syntax tree: immutable ``Node`` values built by the parsers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

SEP = "::"


def node_id(path: str, qualname: str | None = None) -> str:
    """The stable id of a node: ``path`` for a file, ``path::qualname`` below it."""
    return f"{path}{SEP}{qualname}" if qualname else path


def split_id(nid: str) -> tuple[str, str | None]:
    """``'a.toml::x.y'`` -> ``('a.toml', 'x.y')``; a file id -> ``(path, None)``."""
    path, sep, rest = nid.partition(SEP)
    return path, (rest if sep else None)


def text_hash(data: bytes) -> str:
    import hashlib  # here: its OpenSSL part is 6 ms of the pre-commit hook's start

    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Node:
    """One syntax node that can act.

    ``start``/``end`` are UTF-8 byte offsets into the file; ranges cover whole lines
    (leading comments included, the newline of the last line included). ``key`` is the
    node's name as its language writes it (a TOML table key, a Python name); ``kind`` is
    ``file``, ``table``, ``array_table``, ``preamble``, ``function``, ``class`` ...
    """

    id: str
    kind: str
    path: str
    start: int
    end: int
    key: str | None = None
    hash: str = ""
    children: tuple[Node, ...] = field(default=(), repr=False)

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, nid: str) -> Node | None:
        for node in self.walk():
            if node.id == nid:
                return node
        return None

    def child(self, nid: str) -> Node | None:
        return next((c for c in self.children if c.id == nid), None)

    def parent_of(self, nid: str) -> Node | None:
        for node in self.walk():
            if any(c.id == nid for c in node.children):
                return node
        return None
