"""Values the intent states that the one node acting on them must carry (issue 10).

Asked to "fail when it is under 80%", the 1.5B wrote ``addopts = "--cov=inventory
--cov-report=term-missing"``: valid, and without the 80. When the intent's route names a
single node of a file (``astm.agents.named``), that node's new text must contain each
percentage (``80%``) and version (``2.31``) the intent states that the file did not have.
With several acting nodes the value may be another's to write: nothing is checked.
"""

from __future__ import annotations

import re

from astm.llm.base import Route
from astm.validate.diagnostic import Diagnostic

_VALUES = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*%|(?<![\w.])(\d+\.\d+(?:\.\d+)*)(?![\w.]*\w)")


def values(intent: str) -> list[str]:
    """``"80%"`` -> ``["80"]``; ``"requests 2.31 or newer"`` -> ``["2.31"]``."""
    return [a or b for a, b in _VALUES.findall(intent)]


def missing(intent: str, new: bytes, base: bytes, *, where: str = "") -> Diagnostic | None:
    """The stated values ``new`` lacks (and ``base`` did not have), with the clause of the
    intent that states each and, where the standards say, the setting that carries it
    (``where``: a hint such as pytest-cov's ``--cov-fail-under``)."""
    text = new.decode("utf-8", "replace")
    old = base.decode("utf-8", "replace")
    lost = [v for v in values(intent) if not re.search(rf"(?<![\d.]){re.escape(v)}(?![\d])", text)
            and not re.search(rf"(?<![\d.]){re.escape(v)}(?![\d])", old)]
    if not lost:
        return None
    said = "; ".join(f'"{_clause(intent, v)}"' for v in lost)
    return Diagnostic(f"the task says {said}; the answer does not have {', '.join(lost)}{where}", "shape")


def _clause(intent: str, value: str) -> str:
    """The part of ``intent`` between punctuation that states ``value``."""
    for part in re.split(r"[:;,]\s+", intent):
        if value in part:
            return part.strip()
    return value


def sole(decided: dict[str, Route], path: str) -> bool:
    """Whether the intent's route sets exactly one node of file ``path`` acting."""
    mine = [r for nid, r in decided.items() if nid == path or nid.startswith(path + "::")]
    return sum(a.mode != "route" for r in mine for a in r.act) + sum(len(r.create) for r in mine) == 1
