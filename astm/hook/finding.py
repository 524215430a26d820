"""What a check reports: a ``Problem`` at a place in a file, and a ``Finding`` once it is
placed in the node that holds it."""

from __future__ import annotations

from dataclasses import dataclass

# Problem and Lines belong to no language and to no hook: astm/lang/problems.py, where
# each language's syntax check (Language.problems) makes them. Re-exported here.
from astm.lang.problems import Lines, Problem

__all__ = ["Finding", "Lines", "Problem"]


@dataclass(frozen=True)
class Finding:
    """A problem inside a node the commit changed. ``node`` is the node id (the file id
    for text outside every node); ``text`` the staged line, for the caret."""

    path: str
    node: str
    line: int | None
    col: int | None
    message: str
    source: str
    text: str = ""
    hint: str = ""

    def short(self) -> str:
        """One line, for the repair intent: ``line 3: Invalid value (tomllib)``."""
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{' '.join(self.message.split())} ({self.source})"
