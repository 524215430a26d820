"""Plain-text rendering of check and repair results (colour only on a terminal)."""

from __future__ import annotations

from typing import IO

from astm.hook.check import CheckResult
from astm.hook.finding import Finding


def _style(text: str, color: bool, **kw: object) -> str:
    if not color:
        return text
    import click

    return click.style(text, **kw)  # type: ignore[arg-type]


def finding(f: Finding, out: IO[str], *, color: bool = False) -> None:
    """``node (line N): message [source]``, the staged line, and a caret under the spot."""
    where = f" (line {f.line})" if f.line is not None else ""
    head = _style(f.node, color, bold=True)
    print(f"{head}{where}: {f.message} [{f.source}]", file=out)
    if f.line is not None and f.text:
        number = str(f.line)
        print(f"  {number} | {f.text}", file=out)
        col = f.col if f.col is not None else len(f.text) - len(f.text.lstrip()) + 1
        col = max(1, min(col, len(f.text) + 1))
        # Keep tabs so the caret lines up however the terminal shows them.
        pad = "".join(c if c == "\t" else " " for c in f.text[: col - 1])
        print(f"  {' ' * len(number)} | {pad}{_style('^', color, fg='red', bold=True)}", file=out)
    if f.hint:
        print(f"  hint: {f.hint}", file=out)


def check(result: CheckResult, out: IO[str], *, color: bool = False) -> None:
    for f in result.findings:
        finding(f, out, color=color)
    if result.findings:
        n = len(result.findings)
        nodes = len({f.node for f in result.findings})
        print(
            f"astm: {n} problem{'s' if n != 1 else ''} in {nodes} changed node{'s' if nodes != 1 else ''}; "
            "the commit is blocked. Fix and stage them, or run `astm hook run --fix`.",
            file=out,
        )


def notes(result: CheckResult, out: IO[str]) -> None:
    for note in result.notes:
        print(f"astm: note: {note}", file=out)
