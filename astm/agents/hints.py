"""Tier-4 hints: a failed validator or test run becomes one fix instruction of <= 20 words.

A 300-line traceback or 200 ruff lines never enter a worker's prompt. ``compress`` asks a
cheap model (``hint_model``, else ``router_model``) for one instruction, given the raw
output clipped to the lines that matter and the offending snippet; without a model (or
when it fails) ``deterministic`` takes the first diagnostic. Either way the caller keeps
``Hint.raw`` and ``Hint.text`` side by side in its record and sends only ``Hint.text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from astm.errors import ModelError
from astm.llm.base import Provider, Usage

if TYPE_CHECKING:
    from astm.agents.context import RunContext
    from astm.core.result import NodeResult
    from astm.validate.diagnostic import Diagnostic

MAX_WORDS = 20
CLIP_LINES = 40  # of the raw output, the cheap model sees at most this many lines

# Most telling first: a pytest "E" line, a ruff/pyright/compiler "path:line:col: message",
# the exception line that ends a traceback, a FAILED/ERROR summary line.
_E_LINE = re.compile(r"^E\s{2,}(\S.*)$")
_LOCATED = re.compile(r"^(?P<path>[^\s:]+\.\w+):(?P<line>\d+):(?:\d+:)?\s*(?P<msg>\S.*)$")
_EXC = re.compile(r"^(?:[\w.]+\.)?(?P<name>[A-Z]\w*(?:Error|Exception|Failure))\b:?\s*(?P<msg>.*)$")
_SUMMARY = re.compile(r"^(?:FAILED|ERROR)\s+(\S.*)$")
_TB_FILE = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)')
_PYTEST_LOC = re.compile(r"^(?P<path>[^\s:]+\.py):(?P<line>\d+): \w+")


class HintAnswer(BaseModel):
    instruction: str = Field(description=f"one fix instruction, at most {MAX_WORDS} words")


@dataclass(frozen=True)
class Hint:
    raw: str  # the whole output, for the run record only
    text: str  # what a worker's retry prompt gets
    source: str  # "model" | "rules"

    def to_json(self) -> dict[str, str]:
        return {"raw": self.raw, "hint": self.text, "source": self.source}


def clip_words(text: str, limit: int = MAX_WORDS) -> str:
    words = " ".join(text.split()).split(" ")
    return " ".join(words[:limit]).strip()


def deterministic(raw: str, snippet: str = "") -> str:
    """The first diagnostic of ``raw`` as <= 20 words, located when a location is known."""
    lines = [ln.rstrip() for ln in raw.splitlines() if ln.strip()]
    where = _location(lines)
    for pattern, group in ((_E_LINE, 1), (_LOCATED, "msg"), (_EXC, 0), (_SUMMARY, 1)):
        for ln in lines:
            m = pattern.match(ln.strip() if pattern is not _E_LINE else ln)
            if m:
                text = m.group(group) if group else m.group(0)
                if pattern is _LOCATED:
                    where = f"{m.group('path')}:{m.group('line')}"
                return clip_words(f"Fix {where}: {text}" if where else f"Fix: {text}")
    first = lines[0] if lines else "the previous answer failed validation"
    return clip_words(f"Fix: {first}" + (f" near {snippet.strip()[:40]}" if snippet else ""))


def _location(lines: list[str]) -> str:
    """The innermost located frame: pytest's ``path:line: Error`` or a traceback File line."""
    where = ""
    for ln in lines:
        m = _PYTEST_LOC.match(ln.strip()) or _TB_FILE.match(ln)
        if m:
            where = f"{m.group('path').rsplit('/', 1)[-1]}:{m.group('line')}"
    return where


def clipped(raw: str) -> str:
    """The lines of ``raw`` worth a cheap model's attention: diagnostics and the tail."""
    lines = raw.splitlines()
    if len(lines) <= CLIP_LINES:
        return raw
    keep = [ln for ln in lines if _E_LINE.match(ln) or _LOCATED.match(ln.strip())
            or _SUMMARY.match(ln.strip()) or _EXC.match(ln.strip())][: CLIP_LINES // 2]
    tail = lines[-(CLIP_LINES - len(keep)):]
    return "\n".join([*keep, f"… ({len(lines)} lines in all) …", *tail])


def prompt_for(raw: str, snippet: str) -> str:
    return (
        "A code change failed validation. Write ONE fix instruction for the author, at most "
        f"{MAX_WORDS} words, naming what to change. No quotes of the output.\n\n"
        f"Offending code:\n{snippet.strip() or '(not known)'}\n\nOutput (clipped):\n{clipped(raw)}\n"
    )


async def compress(raw: str, snippet: str, provider: Provider | None) -> tuple[Hint, Usage]:
    """The hint of ``raw``: the cheap model's when ``provider`` is given and answers, else
    the deterministic one. Never raises for a model failure (a hint is an optimisation)."""
    if provider is not None:
        try:
            answer, usage = await provider.structured(prompt_for(raw, snippet), HintAnswer)
            text = clip_words(answer.instruction.splitlines()[0] if answer.instruction.strip() else "")
            if text:
                return Hint(raw, text, "model"), usage
        except ModelError:
            pass
    return Hint(raw, deterministic(raw, snippet), "rules"), Usage()


async def for_retry(ctx: RunContext, diag: Diagnostic, res: NodeResult) -> str:
    """The hint a node's retry gets for ``diag``. A check with a raw output (ruff, pyright,
    a command, the tests) goes through ``ctx.hinter`` (the hint model) when one is set; the
    raw output and the hint are kept side by side in ``res.hints`` (the run record), and
    only the hint ever reaches the worker. Without a hint model: ``diag.hint()``, as short
    and located as the check made it."""
    if not diag.raw:
        return diag.hint()  # shape/answer/review problems: already one short line
    text, source = diag.hint(), "rules"
    if ctx.hinter is not None:
        hint, usage = await compress(diag.raw, diag.snippet, ctx.hinter)
        ctx.add_usage(usage)
        if hint.source == "model":
            text, source = hint.text, "model"
    res.hints.append({"raw": diag.raw, "hint": text, "source": source})
    return text
