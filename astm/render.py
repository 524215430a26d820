"""Terminal output: a live per-node status table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import IO, Any, Self

from astm.result import NOT_LANDED, ApplyResult, Event

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
}


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

            self._live = Live(self._table(), console=Console(file=self.stream), refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: Event) -> None:
        if event.state == "sandbox":
            return  # bookkeeping, not a node
        self.states[event.node] = event
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(self._table())
        elif event.state in ("committed", "retry", "reset", "testing"):  # the summary shows the rest
            extra = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            detail = f": {event.detail}" if event.detail and event.state != "landed" else ""
            print(f"  {event.state:<10} {event.node}{extra}{detail}", file=self.stream, flush=True)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(show_header=False, box=None, padding=(0, 1))
        for node, ev in self.states.items():
            style = STATE_STYLE.get(ev.state, "")
            attempt = f"#{ev.attempt}" if ev.attempt > 1 else ""
            table.add_row(f"[{style}]{ev.state}[/]", node, attempt, ev.detail[:60])
        return table


def summary(result: ApplyResult, out: IO[str], *, review: str | None) -> None:
    """The closing lines: nodes, notices, the branch and how to review it."""
    for note in result.notices:
        print(f"note: {note}", file=out)
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
        print(f"  {label.get(status, status):<10} {n.id}{action}{diag}", file=out)
    tokens = result.usage.prompt + result.usage.completion
    if tokens:
        print(f"tokens: {result.usage.prompt} prompt + {result.usage.completion} completion", file=out)
    if result.dry_run:
        print("dry run: nothing was created", file=out)
    elif result.failed:
        print(f"nothing landed: no branch was created (run {result.run})", file=out)
    elif result.branch:
        print(f"landed: {result.branch} ({(result.commit or '')[:10]}, run {result.run})", file=out)
        if review:
            print(f"review: {review}", file=out)
    for warning in result.warnings:  # last, where it is seen: a check that did not pass
        print(f"WARNING: {warning}", file=out)


def diff(text: str, out: IO[str]) -> None:
    if out.isatty():
        from rich.console import Console
        from rich.syntax import Syntax

        Console(file=out).print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
    else:
        out.write(text)
