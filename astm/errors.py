"""The error tree of astm and its exit codes.

Every error a user can cause renders as one line (``str(error)``) naming the file, node
and line where there is one. The CLI maps the tree to exit codes in one place
(``astm.cli``); nothing below the CLI exits or prints.

    AstmError                      base; never raised directly
    ├── UsageError           (2)   bad flags, bad configuration, nothing to work on
    │   ├── NotARepository           not inside a git repository
    │   ├── RepositoryStateError     no commits, merge/rebase in progress, bad --base
    │   ├── TargetError              a target file is missing, not UTF-8, or does not parse
    │   ├── UnknownNodeError         a plan or answer names a node that does not exist
    │   ├── PlanError                a plan file that is not a valid plan
    │   └── BranchExistsError        the landing branch exists (or won a race)
    ├── ApplyError           (1)   the intent could not be applied; nothing landed
    │   ├── ValidationFailed         a node failed validation after its retries
    │   ├── CompositionError         overlapping or out-of-range patches
    │   └── PlanConflict             a plan's node changed at the base it is replayed onto
    ├── ModelError           (3)   model unreachable, auth, rate limit, timeout, budget
    └── Interrupted        (130)   Ctrl-C; everything the run made was removed

Anything else is a bug: the CLI writes a crash log and prints its path (exit 70).
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_APPLY = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_CRASH = 70
EXIT_INTERRUPTED = 130


class AstmError(Exception):
    """Base of every error astm raises on purpose."""

    exit_code = EXIT_CRASH

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        node: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.node = node
        self.line = line

    def __str__(self) -> str:
        where = self.node or self.path
        if where and self.line is not None:
            where = f"{where} (line {self.line})"
        text = " ".join(self.message.split("\n")[0].split())
        return f"{where}: {text}" if where else text


class UsageError(AstmError):
    """The command, its configuration or its input cannot be used."""

    exit_code = EXIT_USAGE


class NotARepository(UsageError):
    """The directory is not inside a git repository."""


class RepositoryStateError(UsageError):
    """The repository is in a state astm refuses to work from."""


class TargetError(UsageError):
    """A target file is missing, not UTF-8, or does not parse at the base commit."""


class UnknownNodeError(UsageError):
    """A node id that does not exist; the message lists the closest ids."""


class PlanError(UsageError):
    """A plan file that is not a valid plan."""


class BranchExistsError(UsageError):
    """The landing branch already exists or another run created it first."""


class ApplyError(AstmError):
    """The intent could not be applied; nothing landed."""

    exit_code = EXIT_APPLY


class ValidationFailed(ApplyError):
    """A node's answer failed validation after all its attempts."""


class CompositionError(ApplyError):
    """Children's patches overlap or fall outside their owner's range."""


class PlanConflict(ApplyError):
    """Nodes a plan edits changed between the plan's base and the base it is replayed onto."""

    def __init__(self, nodes: list[str], reason: str = "changed since the plan was made") -> None:
        shown = ", ".join(nodes[:5]) + (f" (and {len(nodes) - 5} more)" if len(nodes) > 5 else "")
        super().__init__(f"conflict: {shown} {reason}; nothing landed")
        self.nodes = nodes


class ModelError(AstmError):
    """The model could not be reached or refused to answer within the limits."""

    exit_code = EXIT_MODEL


RUN_INTERRUPTED = "interrupted; the run's sandboxes were removed"


class Interrupted(AstmError):
    """The run was interrupted (Ctrl-C); everything it made was removed."""

    exit_code = EXIT_INTERRUPTED


class QuitAtReview(Interrupted):
    """The user quit at a ``--step`` review; everything the run made was removed."""


# C0 and C1 controls, DEL, the bidirectional overrides and isolates (they reorder what a
# terminal shows: "Trojan Source"), and the Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text: str) -> str:
    """``text`` safe for a terminal: every control character shown escaped (ESC as
    ``\\x1b``, a newline as ``\\n``), so text from outside (a model's answer, a server's
    error, a file name, git's output) can neither move the cursor, retitle or clear the
    terminal, nor break astm's one-line messages. Printable text is unchanged."""
    return _UNSAFE.sub(_escape, text)
