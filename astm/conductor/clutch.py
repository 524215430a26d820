"""The clutch (``--step``): pause before a change lands, show it, and take a decision.

Engine-independent: ``Clutch.review(Review) -> Decision`` is all a caller needs (a track
before each ticket lands; ``astm apply --step`` before each node patch is composed). The
answers are lines, the same in a terminal and on a pipe, so a session can be scripted::

    a | approve          take it
    e | edit             open the payload in $VISUAL / $EDITOR; it is re-validated
    r REASON | reject REASON   throw it away; REASON is fed back and the work reruns
    q | quit             stop: nothing lands, nothing is left behind

With neither a terminal nor an open stdin, ``check`` refuses before any work starts.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

# The decision types are the engine's (astm apply --step uses them too); re-exported here.
from astm.agents.review import Approve, Decision, Edit, Quit, Reject, Review
from astm.errors import UsageError

__all__ = ["PROMPT", "Approve", "Clutch", "Decision", "Edit", "Quit", "Reject", "Review", "Validator"]

PROMPT = "approve [a], edit [e], reject [r REASON], quit [q]? "


Validator = Callable[[str], str | None]  # the payload's problem, or None when it is valid


class Clutch:
    """Reviews on ``stdin`` / ``out``; ``tty`` says whether a person is typing."""

    def __init__(
        self,
        stdin: TextIO | None,
        out: TextIO,
        *,
        tty: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.stdin, self.out = stdin, out
        self.tty = tty if tty is not None else bool(stdin is not None and _isatty(stdin))
        self.environ = os.environ if environ is None else environ

    @classmethod
    def standard(cls) -> Clutch:
        return cls(sys.stdin, sys.stderr)

    def check(self) -> None:
        """Refuse up front when no answer can ever come."""
        if self.stdin is None or self.stdin.closed:
            raise UsageError("--step needs a terminal or answers on stdin (a, e, r REASON, q), and has neither")

    def review(self, r: Review, validate: Validator) -> Decision:
        self.say(f"\n── review {r.node_id}" + (f": {r.title}" if r.title else ""))
        self.say(r.diff.rstrip("\n") or "(no change)")
        while True:
            line = self.ask(PROMPT)
            word, _, rest = line.strip().partition(" ")
            word = word.lower()
            if word in ("a", "approve", "y", "yes"):
                return Approve()
            if word in ("q", "quit"):
                return Quit()
            if word in ("r", "reject"):
                reason = rest.strip() or (self.ask("reason: ").strip() if self.tty else "")
                if reason:
                    return Reject(reason)
                self.say("a rejection needs a reason: r REASON")
                continue
            if word in ("e", "edit"):
                edited = self.edit(r, validate)
                if edited is not None:
                    return Edit(edited)
                continue
            self.say(f"unknown answer {line.strip()!r}: answer a, e, r REASON or q")

    def edit(self, r: Review, validate: Validator) -> str | None:
        """The payload as edited and valid, or None (said why; the review goes on)."""
        editor = self.environ.get("VISUAL") or self.environ.get("EDITOR")
        if not editor:
            self.say("no $EDITOR (or $VISUAL) is set: cannot edit; the change is kept for review")
            return None
        fd, name = tempfile.mkstemp(prefix=f"astm-{_safe(r.node_id)}-", suffix=f".{r.kind}")
        path = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(r.payload)
        try:
            proc = subprocess.run(
                [*shlex.split(editor), str(path)],
                stdin=None if self.tty else subprocess.DEVNULL,
                check=False,
            )
        except OSError as exc:
            path.unlink(missing_ok=True)
            self.say(f"cannot start the editor {editor!r}: {exc.strerror}; the change is kept for review")
            return None
        if proc.returncode != 0:
            path.unlink(missing_ok=True)
            self.say(f"the editor exited with status {proc.returncode}; the edit is dropped, the change kept for review")
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
        problem = validate(text)
        if problem is not None:
            # The user's work is not thrown away: the file stays for them to copy from.
            self.say(f"the edit is not valid: {problem}; it is kept in {path}; the change is kept for review")
            return None
        path.unlink(missing_ok=True)
        return text

    def ask(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        assert self.stdin is not None
        try:
            line = self.stdin.readline()
        except KeyboardInterrupt:
            self.out.write("\n")  # the error line must not continue the prompt's line
            raise
        if not line:
            raise UsageError("--step: stdin ended before an answer; nothing landed")
        if not self.tty:
            self.out.write(line if line.endswith("\n") else line + "\n")  # echo scripted answers
        return line

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
