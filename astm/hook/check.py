"""Check mode: the staged files astm has a language for, node by node, read-only.

Only problems inside nodes the commit changed count (``changed.NodeMap``), so a commit is
never blocked by what it did not touch. Needs no model and no network; never writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from astm.hook import checks
from astm.hook.finding import Finding, Problem
from astm.hook.settings import HookSettings
from astm.hook.staged import Staged, StagedFile
from astm.lang import language_of, problems_of, ruff_lints
from astm.lang.problems import TREE_SITTER


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    files: dict[str, StagedFile] = field(default_factory=dict)
    state: str | None = None  # an operation in progress ("merge"), if any

    @property
    def ok(self) -> bool:
        return not self.findings


def check_staged(
    view: Staged, settings: HookSettings, only: set[str] | None = None
) -> CheckResult:
    """Check what the commit would record; ``only`` limits it to those paths."""
    result = CheckResult(state=view.state)

    def wanted(path: str) -> bool:
        return language_of(path) is not None and (only is None or path in only)

    changes = view.changes(wanted)
    for path, why in changes.skipped:
        result.notes.append(f"{path}: skipped ({why})")
    files = changes.files
    result.files = {f.path: f for f in files}
    result.checked = [f.path for f in files]

    ruff = None
    # ruff lints Python (asked without loading a language); a staged file's language loads
    # for its syntax check (``astm.lang.problems_of``): a commit of TOML alone never loads Python's.
    py = {f.path: f.data for f in files if ruff_lints(f.path)}
    if py and "ruff" in settings.validators:
        from astm.hook import ruff as ruff_mod

        exe = ruff_mod.find()
        if exe is not None:
            ruff = ruff_mod.Ruff(exe, view.workdir, py)  # runs while we parse
        elif settings.explicit_validators:
            result.notes.append("ruff is not installed; the ruff check was skipped")

    for f in files:
        problems = problems_of(f.path, f.data)
        if ruff is not None and f.path in py and not problems:
            got = ruff.result(f.path)
            if isinstance(got, str):
                result.notes.append(got)
            else:
                problems = got
        result.findings.extend(place(f, problems))
    result.findings.extend(checks.run_all(view, files))
    return result


def place(f: StagedFile, problems: list[Problem]) -> list[Finding]:
    """The problems that sit in nodes the commit changed, as findings, deduplicated."""
    if not problems:
        return []
    from astm.hook.changed import NodeMap

    nodes = NodeMap(f)
    out: list[Finding] = []
    syntax_nodes: set[str] = set()
    for p in problems:
        node, counts = nodes.place(p)
        if p.source == TREE_SITTER and node in syntax_nodes:
            continue  # the authority already spoke for this node, or tree-sitter did once
        # Every other source is an authority (the language's own, not UTF-8) or ruff, which
        # runs only on a file with no syntax problems: tree-sitter adds only other nodes.
        syntax_nodes.add(node)
        if counts:
            out.append(
                Finding(
                    f.path,
                    node,
                    p.line,
                    p.col,
                    p.message,
                    p.source,
                    nodes.lines.text(p.line),
                    p.hint,
                )
            )
    return out
