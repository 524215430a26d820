"""The neutral answers of the ``Language`` protocol, for a language to keep or override.

A language that keeps one of these has nothing of its own to say there: no import
requests, no nesting, no subprocess validators, answers taken as written. Python and TOML
override what they know better; a new language starts from here (docs/architecture.md).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from astm.lang.problems import Problem, not_utf8

if TYPE_CHECKING:
    import re

    from astm.core.node import Node
    from astm.core.patch import Patch
    from astm.lang.summary import Entry
    from astm.validate.diagnostic import Diagnostic


class Base(abc.ABC):
    name: str
    routers: tuple[str, ...] = ("file",)
    external = False
    typecheck = False
    nested = False
    block_gap = 1
    tested = False
    config = False
    loose_keys = False

    # The methods every language must define (``parse``, ``build``, ``outline``, ``view``,
    # ``key_of``, ``check_node``, ``check_file``, ``insert``, ``delete``) have no default;
    # the four the defaults below call are abstract, so a language that lacks one fails
    # when it is made, not at its first use.

    @abc.abstractmethod
    def parse(self, path: str, data: bytes) -> Node:
        """Required of every language."""

    @abc.abstractmethod
    def outline(self, data: bytes) -> str:
        """Required of every language."""

    @abc.abstractmethod
    def key_of(self, text: bytes) -> tuple[str, str] | None:
        """Required of every language."""

    @abc.abstractmethod
    def check_file(self, data: bytes, path: str) -> Diagnostic | None:
        """Required of every language."""

    def check_change(
        self, base: bytes, data: bytes, path: str, patches: Sequence[Patch] = ()
    ) -> Diagnostic | None:
        """``check_file`` of a composed text, ``base`` (valid) changed by ``patches``: a
        language may check only what changed; this one checks the whole text."""
        return self.check_file(data, path)

    def context(self, path: str, data: bytes) -> str:
        return self.outline(data)

    def summary(self, data: bytes) -> tuple[str, str | None, tuple[Entry, ...]]:
        """Every node of the tree, its first line as its signature."""
        from astm.core.node import split_id
        from astm.errors import TargetError
        from astm.lang.summary import PLACEHOLDER, SIG_MAX, Entry

        try:
            tree = self.parse(PLACEHOLDER, data)
        except TargetError as exc:
            return "broken", exc.message, ()
        entries = []
        for n in tree.walk():
            if n is tree:
                continue
            line = data[n.start : n.end].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
            entries.append(Entry(split_id(n.id)[1] or "", n.kind, n.key, n.start, n.end, line[:SIG_MAX]))
        return "ok", None, tuple(entries)

    def grammar_tag(self) -> str:
        return ""

    def shape(self, kind: str) -> str:
        return "the whole node as it stands in the file"

    def defines(self, block: str, key: str) -> bool:
        found = self.key_of(block.encode("utf-8", "replace"))
        return found is not None and found[1] == key

    def starts_code(self, line: bytes) -> bool:
        return False

    def parses(self, text: bytes) -> bool:
        return self.check_file(text, "<text>") is None

    def dedent(self, text: bytes) -> bytes:
        return text

    def inert(self, line: bytes) -> bool:
        return False

    def wrap_body(self, text: bytes, old: bytes, kind: str) -> bytes | None:
        return None

    def bare_key(self, key: str) -> str:
        return key

    def section(self, text: bytes, key: str) -> bytes | None:
        return None

    def mend(self, text: bytes) -> bytes | None:
        """An answer that does not parse only for a slip small models make, mended so that
        it parses; None: nothing to mend (the usual checks speak to it)."""
        return None

    def stub(self, key: str, *, member: bool = False, intent: str = "") -> bytes:
        return b""

    def check_member(self, new_text: bytes, siblings: dict[str, bytes]) -> Diagnostic | None:
        return None

    def check_asked(self, new_text: bytes, intent: str) -> Diagnostic | None:
        return None

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]:
        return text, []

    def import_lines(self, text: bytes) -> list[bytes]:
        return []

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes:
        return text

    def check_block(
        self, text: bytes, *, kind: str, key: str, tables: list[str]
    ) -> Diagnostic | None:
        return self.check_file(text, "<block>")

    def module_names(self, path: str) -> list[str]:
        return []

    def importable(self, file: Node) -> list[str]:
        """Names another file of the project can import from ``file`` (none: not code)."""
        return []

    def imports_for(
        self, text: bytes, path: str, importable: dict[str, str], cycle: Callable[[str], bool] = lambda p: False
    ) -> list[bytes]:
        """Import lines ``text`` needs for names other files define (``importable``: name ->
        path), none from a file ``cycle`` says imports ``path`` as it loads; a language
        without imports needs none."""
        return []

    def module_imports(self, path: str, data: bytes) -> frozenset[str]:
        """The modules ``path`` imports as it loads (none: not code)."""
        return frozenset()

    def problems(self, data: bytes, path: str) -> list[Problem]:
        """A staged file's syntax problems (the hook's check): not UTF-8, else what
        ``check_file`` says, as one problem from the language itself."""
        bad = not_utf8(data)
        if bad is not None:
            return [bad]
        diag = self.check_file(data, path)
        return [] if diag is None else [Problem(diag.line, None, diag.message, self.name)]

    def lint_view(self, tree: Node, base: bytes, patches: Sequence[Patch]) -> bytes | None:
        """What a leaf's linter reads instead of the whole patched file (the same rows for
        the node's lines); None: the whole file."""
        return None

    def sibling_header(self, lines: list[bytes]) -> tuple[int, re.Pattern[bytes]] | None:
        """Where a node's own definition starts among its ``lines``, and what a sibling's
        header at that level matches; ``None``: the language cannot tell (nothing is cut)."""
        return None
