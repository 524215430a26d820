"""Repair mode: each failing node goes to its agent (``astm.engine.apply``), one file a run.

The engine refuses to start from a file that does not parse, and a failing node usually
breaks its file. So the run starts from a *repair base*: an unreferenced commit of the
staged tree in which each failing node is replaced by a stand-in that parses (``[key]``
for a table, a stub ``def``/``class``, or else the node as HEAD has it). Routing is not
left to the model: ``RepairRouter`` sends the run straight to those nodes, each with the
intent ``make this node pass: <short diagnostic>`` followed by its staged text. Everything
else in the file is the staged content, so the landed file is the staged file with the
failing nodes rebuilt.

Afterwards the landed branch is deleted (its content has been read); the run's record
and its ``refs/astm/runs/<run>`` ref stay for ``astm runs`` and ``astm gc``, like any run.
The result is checked again and written to the working tree only if the file there is
exactly what is staged; otherwise it is saved as a patch file. The index is never written.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from astm.core.node import Node, split_id
from astm.errors import AstmError
from astm.hook.changed import NodeMap
from astm.hook.check import CheckResult, place
from astm.hook.finding import Finding
from astm.hook.staged import StagedFile
from astm.lang import find, problems_of
from astm.llm.base import (
    Act,
    ClaimAnswer,
    ClaimRequest,
    GenerateRequest,
    Provider,
    Route,
    RouteRequest,
    Usage,
)
from astm.workspace.index import StagedView, unified_diff

if TYPE_CHECKING:
    from astm.config import Settings

INTENT = "make this node pass: {diagnostic}"
BRANCH_PREFIX = "astm/hook-repair"


@dataclass
class FileRepair:
    path: str
    status: str  # written | patch | failed
    diff: str = ""
    patch_file: Path | None = None
    error: str = ""
    run: str | None = None
    nodes: list[str] = field(default_factory=list)


@dataclass
class RepairResult:
    files: list[FileRepair] = field(default_factory=list)
    error: str = ""  # why nothing could be repaired at all (no model, a merge ...)


class RepairRouter:
    """A Provider whose routing goes straight to the failing nodes; generation is the
    model's (``inner``)."""

    def __init__(
        self, inner: Provider, intents: Mapping[str, str], below: Mapping[str, set[str]]
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.intents = dict(intents)  # target node id -> its intent
        self.below = below  # node id -> the targets at or under it

    def _acts(self, child_id: str) -> bool:
        return bool(self.below.get(child_id))

    def _intent(self, child_id: str) -> str:
        return "\n\n".join(self.intents[t] for t in sorted(self.below.get(child_id, ())))

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        act = tuple(Act(c.id, self._intent(c.id)) for c in req.children if self._acts(c.id))
        return Route(act=act), Usage()

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]:
        mine = self._acts(req.child.id)
        return ClaimAnswer(mine=mine, intent=self._intent(req.child.id) if mine else ""), Usage()

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]:
        return await self.inner.generate(req)

    async def aclose(self) -> None:
        await self.inner.aclose()


def repair(
    view: StagedView, result: CheckResult, environ: Mapping[str, str] | None = None
) -> RepairResult:
    """Repair every file with findings; never raises an AstmError (it is reported)."""
    out = RepairResult()
    if result.state is not None:
        out.error = f"a {result.state} is in progress; repair works outside it (check only)"
        return out
    from astm import config as cfg
    from astm.llm import NO_MODEL

    settings: Settings | None
    try:
        settings = cfg.load(view.workdir, environ=environ)
    except AstmError as exc:
        # A broken pyproject.toml may be the very file to repair: use HEAD's settings.
        settings = _settings_at_head(view, environ)
        if settings is None:
            out.error = str(exc)
            return out
    if not settings.model:
        out.error = NO_MODEL  # said once, not once a file
        return out
    by_file: dict[str, list[Finding]] = {}
    for f in result.findings:
        if f.path in result.files:
            by_file.setdefault(f.path, []).append(f)
    for path, findings in by_file.items():
        out.files.append(_repair_file(view, result.files[path], findings, settings, environ))
    return out


def _settings_at_head(view: StagedView, environ: Mapping[str, str] | None) -> Settings | None:
    import tempfile

    from astm import config as cfg

    data = view.at_head("pyproject.toml")
    if data is None:
        return None
    with tempfile.TemporaryDirectory(prefix="astm-hook-") as tmp:
        Path(tmp, "pyproject.toml").write_bytes(data)
        try:
            return cfg.load(Path(tmp), environ=environ)
        except AstmError:
            return None


def _repair_file(
    view: StagedView,
    staged: StagedFile,
    findings: list[Finding],
    settings: Settings,
    environ: Mapping[str, str] | None,
) -> FileRepair:
    from astm.engine import apply as engine
    from astm.llm import make_provider

    path = staged.path
    rep = FileRepair(path, "failed")
    nodes = NodeMap(staged)
    tree = nodes.tree
    outside = [f for f in findings if f.node == path]
    if tree is None or outside:
        where = f"line {outside[0].line}" if outside and outside[0].line else "the file as a whole"
        rep.error = f"the problem at {where} is outside every node; fix it by hand"
        return rep
    targets = [_tighten(t, staged.data) for t in _outermost([tree.find(f.node) for f in findings])]
    if not targets:
        rep.error = "no node of the file holds the problems; fix them by hand"
        return rep
    rep.nodes = [t.id for t in targets]
    base_data = _stand_ins(staged, nodes, targets)
    if base_data is None:
        rep.error = "no stand-in parses for the failing nodes; fix them by hand"
        return rep
    intents = {t.id: _intent(t, staged.data, findings, nodes) for t in targets}
    below: dict[str, set[str]] = {}
    for t in targets:
        for n in _chain(tree, t):
            below.setdefault(n.id, set()).add(t.id)
    first = intents[targets[0].id].split("\n", 1)[0]
    more = f" (and {len(targets) - 1} more nodes)" if len(targets) > 1 else ""
    token = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    try:
        base = view.repair_base({path: base_data})
        provider = RepairRouter(make_provider(settings, None, environ), intents, below)
        opts = engine.ApplyOptions(
            intent=first + more,
            cwd=view.workdir,
            paths=(path,),
            base=base,
            branch=f"{BRANCH_PREFIX}/{token}",
        )
        landed = engine.apply(opts, settings, provider)
    except AstmError as exc:
        rep.error = str(exc)
        rep.run = getattr(getattr(exc, "result", None), "run", None)
        return rep
    rep.run = landed.run
    try:
        repaired = view.read_at(landed.commit or "", path)
    finally:
        if landed.branch:
            view.delete_branch(landed.branch)
    # Checked again (syntax) as the commit would be; ruff runs on the next commit.
    again = dataclasses.replace(staged, data=repaired)
    still = place(again, problems_of(path, repaired)) if repaired != staged.data else findings
    if still:
        rep.error = f"the repaired file still fails: {still[0].node} {still[0].short()}"
        return rep
    rep.diff = unified_diff(path, staged.data, repaired)
    target = view.workdir / path
    if _read(target) == staged.data:
        _write_keeping_mode(target, repaired)
        rep.status = "written"
    else:
        rep.patch_file = _save_patch(view, path, rep.diff, token)
        rep.status = "patch"
    return rep


def _outermost(nodes: list[Node | None]) -> list[Node]:
    found = {n.id: n for n in nodes if n is not None}
    out = []
    for n in found.values():
        if not any(o != n.id and _is_under(n.id, o) for o in found):
            out.append(n)
    return sorted(out, key=lambda n: n.start)


def _tighten(node: Node, data: bytes) -> Node:
    """``node`` ending before the first sibling header inside it.

    In a broken file tree-sitter may run a node on over its next siblings (an unclosed
    bracket swallows the rest of the file); the repair must not rebuild those too.
    """
    lines = data[node.start : node.end].splitlines(keepends=True)
    lang = find(node.path)
    cut_at = lang.sibling_header(lines) if lang is not None else None
    if cut_at is None:
        return node
    header, sibling = cut_at
    for i in range(header + 1, len(lines)):
        if sibling.match(lines[i]):
            cut = i
            while cut - 1 > header and (
                not lines[cut - 1].strip() or lines[cut - 1].lstrip().startswith(b"#")
            ):
                cut -= 1  # blank lines between nodes, and comments above the next one
            return dataclasses.replace(node, end=node.start + sum(len(ln) for ln in lines[:cut]))
    return node


def _is_under(nid: str, ancestor: str) -> bool:
    path, qual = split_id(nid)
    apath, aqual = split_id(ancestor)
    lang = find(path)
    if lang is not None and not lang.nested:
        return False  # TOML nodes are all children of the file (keys hold dots)
    return path == apath and qual is not None and aqual is not None and qual.startswith(aqual + ".")


def _chain(tree: Node, target: Node) -> list[Node]:
    """``target`` and its ancestors below the file."""
    out = [target]
    parent = tree.parent_of(target.id)
    while parent is not None and not parent.is_file:
        out.append(parent)
        parent = tree.parent_of(parent.id)
    return out


def _intent(node: Node, data: bytes, findings: list[Finding], nodes: NodeMap) -> str:
    first_line = nodes.lines.line_of(node.start)
    problems = [f for f in findings if f.node == node.id or _is_under(f.node, node.id)]
    diag = "; ".join(
        f"line {f.line - first_line + 1}: {' '.join(f.message.split())} ({f.source})"
        if f.line is not None
        else f.short()
        for f in problems
    )
    text = data[node.start : node.end].decode("utf-8", "replace")
    return (
        INTENT.format(diagnostic=diag)
        + "\nIts current text is a stand-in. The staged text, which fails that check, is:\n"
        + text
        + "\nRewrite that text so it passes; keep everything else it says."
    )


def _stand_ins(staged: StagedFile, nodes: NodeMap, targets: list[Node]) -> bytes | None:
    """The staged file with each target replaced by a stand-in; None if it will not parse."""
    data = staged.data
    eol = b"\r\n" if b"\r\n" in data else b"\n"
    head = _head_texts(staged)
    for t in sorted(targets, key=lambda n: n.start, reverse=True):
        stub = _stub(t, data, eol)
        if stub is None:
            stub = head.get(split_id(t.id)[1] or "")
        if stub is None:
            return None
        data = data[: t.start] + stub + data[t.end :]
    return data if not problems_of(staged.path, data) else None


def _stub(node: Node, data: bytes, eol: bytes) -> bytes | None:
    if node.kind == "table":
        return f"[{node.key}]".encode() + eol
    if node.kind == "array_table":
        return f"[[{node.key}]]".encode() + eol
    if node.kind in ("function", "class") and node.key:
        text = data[node.start : node.end]
        m = re.search(rb"^([ \t]*)(?:async[ \t]+)?(?:def|class)\b", text, re.MULTILINE)
        indent = m.group(1) if m else b""
        body = indent + b"    "
        if node.kind == "function":
            # A stand-in that parses, for the node's agent to replace; never what lands.
            return (
                indent
                + f"def {node.key}(*args, **kwargs):".encode()
                + eol
                + body
                + b"raise NotImplementedError"
                + eol
            )
        return indent + f"class {node.key}:".encode() + eol + body + b"pass" + eol
    return None


def _head_texts(staged: StagedFile) -> dict[str, bytes]:
    """The nodes of the file as HEAD has it, by qualified name."""
    from astm.hook.changed import build

    base = staged.bases[0] if staged.bases else None
    tree = build(staged.old_path or staged.path, base) if base is not None else None
    if tree is None or base is None:
        return {}
    return {split_id(n.id)[1] or "": base[n.start : n.end] for n in tree.walk() if not n.is_file}


def _read(path: Path) -> bytes | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path.read_bytes()
    except OSError:
        return None


def _write_keeping_mode(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.astm-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _save_patch(view: StagedView, path: str, diff: str, token: str) -> Path:
    directory = view.common / "astm" / "hook"
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", path).strip("-") or "file"
    target = directory / f"{token}-{slug}.patch"
    target.write_text(diff)
    return target
