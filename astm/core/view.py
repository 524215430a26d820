"""The value a view returns: its lines, each tied to the node it came from."""

from __future__ import annotations

from dataclasses import dataclass

# Line roles: a line of the file as written, a stand-in for hidden code, a note from astm,
# and a node the view keeps nothing of (shown by ``with_ids`` only, never in ``text``).
SOURCE = "source"
STUB = "stub"
NOTE = "note"
ID = "id"


@dataclass(frozen=True)
class Line:
    """One line of a view and the id of the node it belongs to."""

    text: str
    node: str
    role: str = SOURCE


@dataclass(frozen=True)
class View:
    """A reduced copy of one file that is still valid source of its language.

    ``notes`` say what was left out and why (a broken region, a skipped file); a
    ``skipped`` view has no lines.
    """

    path: str
    kind: str  # "skeleton" or "curated"
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def text(self) -> str:
        return "".join(line.text + "\n" for line in self.lines if line.role != ID)

    def with_ids(self, width: int = 48) -> str:
        """Each line prefixed by its node id: ``id | text``; a node the view keeps nothing
        of shows its first line as written after ``id : ``."""
        w = min(width, max((len(line.node) for line in self.lines), default=0))
        return "".join(
            f"{line.node:<{w}} {':' if line.role == ID else '|'} {line.text}\n" for line in self.lines
        )

    def ids(self) -> list[str]:
        """The distinct node ids of the view, in order of first appearance."""
        return list(dict.fromkeys(line.node for line in self.lines))


def skipped(path: str, kind: str, note: str) -> View:
    return View(path, kind, (), (note,), skipped=True)


MAX_BYTES = 8 * 1024 * 1024  # larger files are skipped with a note


def unreadable(path: str, kind: str, data: bytes, limit: int = MAX_BYTES) -> View | None:
    """A skipped view when ``data`` is too large or not UTF-8; None when it can be viewed."""
    if len(data) > limit:
        return skipped(path, kind, f"too large ({len(data)} bytes > {limit}); skipped")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return skipped(path, kind, f"not UTF-8 (byte {exc.start}); skipped")
    return None
