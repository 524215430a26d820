"""Per-language operations the engine needs: parse, shape checks, insert and delete patches."""

from __future__ import annotations

from typing import Protocol

from astm.errors import TargetError
from astm.patch import Patch
from astm.syntax import Node, language_of
from astm.validate.diagnostic import Diagnostic


class Language(Protocol):
    name: str
    routers: tuple[str, ...]  # node kinds that route to their children by default
    external: bool  # runs subprocess validators in the sandbox (ruff for Python)

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes: ...

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]: ...

    def parse(self, path: str, data: bytes) -> Node: ...

    def outline(self, data: bytes) -> str: ...

    def key_of(self, text: bytes) -> tuple[str, str] | None: ...

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None: ...

    def check_file(self, data: bytes, path: str) -> Diagnostic | None: ...

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]: ...

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch: ...


def language_for(path: str) -> Language:
    lang = language_of(path)
    if lang == "toml":
        from astm.lang.toml import TOML

        return TOML
    if lang == "python":
        from astm.lang.python import PYTHON

        return PYTHON
    raise TargetError("astm cannot edit this kind of file yet", path=path)
