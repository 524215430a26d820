"""TOML operations: an added table is separated from its neighbours as the file separates
its tables (one blank line when the file shows no example); a delete leaves no doubled,
leading or trailing blank lines."""

from __future__ import annotations

import itertools

from astm.core.lines import eol_of
from astm.core.node import Node
from astm.core.patch import Patch
from astm.errors import CompositionError
from astm.lang.toml import checks as validate
from astm.lang.toml import syntax
from astm.validate.diagnostic import Diagnostic


class _Toml:
    name = "toml"
    routers = ("file",)  # tables are leaves
    external = False  # tomllib validates in-process

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes:
        """The text as it is; ValidationFailed if it nests too deep for ``tomllib``."""
        syntax.refuse_deep(text)
        return text

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]:
        return text, []

    def parse(self, path: str, data: bytes) -> Node:
        return syntax.parse(path, data)

    def outline(self, data: bytes) -> str:
        return syntax.outline(data)

    def key_of(self, text: bytes) -> tuple[str, str] | None:
        return validate.key_of(text)

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None:
        return validate.check_node(
            patched, new_start, new_text, kind=kind, key=key, rename=rename, path=path
        )

    def check_file(self, data: bytes, path: str) -> Diagnostic | None:
        return validate.check_file(data, path)

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]:
        """The patch that inserts table ``text`` and the offset of the text inside it."""
        eol = eol_of(base)
        gap = eol * _gap(parent, base)
        tables = [c for c in parent.children if c.kind not in ("preamble", "comment")]
        pre = next((c for c in parent.children if c.kind == "preamble"), None)
        if before is not None and before.kind == "preamble":
            raise CompositionError(
                "a table cannot go before the top-level keys", node=owner, path=parent.path
            )
        if position == "start":
            if pre is not None:
                after = pre
            elif tables:
                before = tables[0]
        elif position == "end":
            after = None  # the very end of the file, after any trailing lines
        if before is not None:
            return Patch(parent.path, before.start, before.start, text + gap, owner, seq), 0
        point = after.end if after is not None else len(base)
        head = base[:point]
        prefix = b""
        if head and not head.endswith(b"\n"):
            prefix += eol  # the file's last line had no newline
        probe = head + prefix
        if head.strip():
            have = len(probe) - len(probe.rstrip(b"\r\n")) - len(eol)
            prefix += gap[max(0, have) :]  # the file's gap between tables
        return Patch(parent.path, point, point, prefix + text, owner, seq), len(prefix)

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch:
        """Remove ``node`` and the blank lines after it; when no node after it stays (it is
        last, or ``deleted`` names the ones after it), the blank lines before it instead,
        so no trailing blank lines are left."""
        kids = list(parent.children)
        i = kids.index(node)
        if any(c.id not in deleted for c in kids[i + 1 :]):
            return Patch(parent.path, node.start, kids[i + 1].start, b"", parent.id)
        start = kids[i - 1].end if i > 0 else node.start
        return Patch(parent.path, start, len(base) if not base[node.end:].strip() else node.end, b"", parent.id)


def _gap(parent: Node, base: bytes) -> int:
    """Blank lines between tables, as the file has them most often (ties: more); 1 when
    the file has no two tables in a row."""
    seen: dict[int, int] = {}
    for a, b in itertools.pairwise(parent.children):
        between = base[a.end : b.start]
        if a.kind != "comment" and b.kind not in ("comment", "preamble") and not between.strip():
            n = between.count(b"\n")
            seen[n] = seen.get(n, 0) + 1
    return max(seen, key=lambda n: (seen[n], n)) if seen else 1


TOML = _Toml()
