"""Terminal output: a live per-node status table on a terminal, plain lines otherwise.

Everything astm prints that came from outside (model text, server errors, file names,
node ids, git output, diagnostics) is made safe here: ``printable`` (astm/errors.py)
escapes control characters, and the CLI routes stdout and stderr through ``SafeStream``
(``guard_streams``), which keeps only the line breaks and tabs. Only astm's own live
table and diff colouring write escape sequences, to the raw stream, around escaped text.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, Self

from astm.errors import printable

if TYPE_CHECKING:  # loaded by the functions that use them: every command guards its streams here
    from astm.core.result import ApplyResult, Event


def printable_lines(text: str) -> str:
    """``printable`` for multi-line output: line breaks and tabs kept, a CRLF shown as a
    line break, every other control character escaped."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join("\t".join(printable(part) for part in line.split("\t")) for line in lines)


class SafeStream:
    """A text stream that writes ``printable_lines`` of everything to ``raw``."""

    def __init__(self, raw: IO[str]) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(printable_lines(text))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":  # bytes would bypass the escaping: text only
            raise AttributeError(name)
        return getattr(self.raw, name)


def raw_stream(stream: IO[str]) -> IO[str]:
    """The terminal behind a ``SafeStream`` (for astm's own escape sequences)."""
    return stream.raw if isinstance(stream, SafeStream) else stream


@contextlib.contextmanager
def guard_streams() -> Iterator[None]:
    """Route ``sys.stdout`` and ``sys.stderr`` through ``SafeStream`` while astm runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SafeStream(raw_stream(sys.stdout))  # type: ignore[assignment]
    sys.stderr = SafeStream(raw_stream(sys.stderr))  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved

STATE_STYLE = {
    "routing": "cyan",
    "generating": "yellow",
    "validating": "yellow",
    "retry": "magenta",
    "composing": "cyan",
    "committed": "green",
    "unchanged": "dim",
    "failed": "red",
    "landed": "bold green",
    "model": "magenta",  # what a model call waits for (a retry, a structured mode stepped down)
}


# The branch a run of this process landed, as its "landed" event said: a Ctrl-C after
# that moment must say the result is there (astm.cli.interrupted_message).
landed_branch: str | None = None


class Progress:
    """Receives engine events; renders them live (rich) or as plain lines."""

    def __init__(self, stream: IO[str] | None = None, *, live: bool | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live_enabled = (self.stream.isatty() if live is None else live) and not quiet
        self.states: dict[str, Event] = {}
        self._live: Any = None

    def __enter__(self) -> Self:
        if self.live_enabled:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=raw_stream(self.stream))
            self._live = Live(self._table(), console=console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the live display for a prompt (``--step``), and start it again after."""
        live = self._live
        if live is None:
            yield
            return
        live.stop()
        try:
            yield
        finally:
            live.start()

    def __call__(self, event: Event) -> None:
        global landed_branch
        if event.state == "sandbox":
            return  # bookkeeping, not a node
        if event.state == "landed":
            landed_branch = event.detail
        self.states[event.node] = event
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(self._table())
        elif event.state in ("committed", "retry", "reset", "testing", "model"):  # the summary shows the rest
            extra = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            detail = f": {event.detail}" if event.detail and event.state != "landed" else ""
            line = f"  {event.state:<10} {printable(event.node)}{extra}{printable(detail)}"
            print(line, file=self.stream, flush=True)

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False, box=None, padding=(0, 1))
        for node, ev in self.states.items():
            style = STATE_STYLE.get(ev.state, "")
            attempt = f"#{ev.attempt}" if ev.attempt > 1 else ""
            # Text, not markup: a "[bold]" in a node id or a model's hint is just text.
            table.add_row(Text(ev.state, style=style), Text(printable(node)), attempt, Text(printable(ev.detail)[:60]))
        return table


def summary(result: ApplyResult, out: IO[str], *, review: str | None) -> None:
    """The closing lines: nodes, notices, the branch and how to review it."""
    from astm.core.result import NOT_LANDED
    from astm.faults import pause_at

    pause_at("summary")
    for note in result.notices:
        print(f"note: {printable(note)}", file=out)
    label = {
        "changed": "changed",
        "unchanged": "unchanged",
        "failed": "FAILED",
        "would-change": "would act",
        NOT_LANDED: "not landed",
    }
    for n in result.nodes:
        status = result.status_of(n)
        action = f" ({n.action})" if n.action != "replace" else ""
        diag = f": {n.diagnostic}" if n.diagnostic else ""
        print(f"  {label.get(status, status):<10} {printable(n.id + action + diag)}", file=out)
    u = result.usage
    if u.tokens or u.calls:
        calls = f" in {u.calls} model call{'s' if u.calls != 1 else ''}" if u.calls else ""
        print(f"tokens: {u.prompt} prompt + {u.completion} completion{calls}", file=out)
    if result.dry_run:
        print("dry run: nothing was created", file=out)
    elif result.failed and result.nodes:  # the node lines above did not land: say so
        print(f"nothing landed: no branch was created (run {result.run})", file=out)
    elif result.branch:
        print(f"landed: {printable(result.branch)} ({(result.commit or '')[:10]}, run {result.run})", file=out)
        if review:
            print(f"review: {printable(review)}", file=out)
    for warning in result.warnings:  # last, where it is seen: a check that did not pass
        print(f"WARNING: {printable(warning)}", file=out)


def model_notice(progress: Progress) -> Callable[[str, str], None]:
    """The provider's ``notify``: what a model call waits for, shown as a ``model`` event."""
    from astm.core.result import Event

    return lambda node, detail: progress(Event(node, "model", detail=detail))


def diff(text: str, out: IO[str]) -> None:
    text = printable_lines(text)  # the diff of a model's repair: text from outside
    if out.isatty():
        from rich.console import Console
        from rich.syntax import Syntax

        syntax = Syntax(text, "diff", theme="ansi_dark", background_color="default")
        Console(file=raw_stream(out)).print(syntax)
    else:
        out.write(text)
