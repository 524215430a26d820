"""A validation problem and the short hint it becomes for a retry."""

from __future__ import annotations

from dataclasses import dataclass

HINT_WORDS = 40


@dataclass(frozen=True)
class Diagnostic:
    """One problem. ``line`` is 1-based within the node's new text when ``relative``,
    else within the file; ``source`` names the check (``tomllib``, ``shape`` ...)."""

    message: str
    source: str
    line: int | None = None
    relative: bool = True
    snippet: str = ""
    # The check's whole output (ruff's findings, a command's or pytest's output), for the
    # run record and a hint model (astm.agents.hints): never sent to a worker as is.
    raw: str = ""

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f"line {self.line}{'' if self.relative else ' of the file'}: "
        return f"{where}{self.message}"

    def hint(self) -> str:
        """At most about 40 words, one line, never a traceback."""
        text = str(self)
        if self.snippet:
            text += f" — offending line: {self.snippet.strip()[:80]}"
        words = " ".join(text.split()).split(" ")
        return " ".join(words[:HINT_WORDS]) + (" …" if len(words) > HINT_WORDS else "")
