"""A router's second half: compose its children's patches, validate, commit an overlay.

The children's patches compose in descending byte order onto the router's base text; the
composed text is checked at the router's level (it parses, the file keeps every node it
should, ruff and the kinds' commands, pyright at the file), and committed in a sandbox
with the children's commits as extra parents. Imports the children asked for are folded
into the file's ``(imports)`` node here, in the project's import order.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from astm.agents.context import FileCtx, Outcome, RunContext, plain, settle
from astm.core.node import Node, node_id
from astm.core.patch import Patch, compose
from astm.core.plan import Edit, Insert, Replace
from astm.core.result import NodeResult
from astm.errors import AstmError, ValidationFailed
from astm.validate.diagnostic import Diagnostic

if TYPE_CHECKING:
    from astm.workspace.sandbox import Sandbox


@dataclass(frozen=True)
class Blame:
    """A failure found after composition, attributed to the child whose lines it falls on."""

    diag: Diagnostic  # the line is the child's (relative) when ``owner`` is set
    owner: str | None  # the child's id; None when it falls on no child
    news: str  # what the siblings now define, for the child's retry


class CrossNode(ValidationFailed):
    """The composed text fails a check a leaf could not make alone (undefined or unused
    names, import order, a type error...). The router retries the child it blames."""

    def __init__(self, blame: Blame, router: str) -> None:
        super().__init__(str(blame.diag), node=blame.owner or router)
        self.blame = blame


async def compose_up(
    ctx: RunContext, f: FileCtx, node: Node, kids: list[Outcome], res: NodeResult,
    box: asyncio.Future[Sandbox], prefetch: asyncio.Future[None] | None,
) -> Outcome:
    """The children succeeded: compose their patches over ``node`` and commit the overlay."""
    imports = [i for k in kids for i in k.imports]
    patches = [k.patch for k in kids if k.patch is not None]
    edits = [e for k in kids for e in k.edits]
    if node.is_file and ctx.importable and patches:
        imports += needed_imports(ctx, f, patches, imports)
    if node.is_file and imports:
        if prefetch is not None:
            await settle(prefetch)
        patches, extra = await resolve_imports(ctx, f, patches, imports, await box)
        edits = [e for e in edits if not _is_imports_edit(e, f)] + extra
        imports = []
    if not patches:
        return Outcome(res, imports=imports)
    ctx.emit(node.id, "composing")
    bounds = (0, len(f.data)) if node.is_file else (node.start, node.end)
    composed = compose(f.data, patches, bounds=bounds)
    delta = len(composed) - len(f.data)
    new_range = (node.start, node.end + delta) if not node.is_file else (0, len(composed))
    # The base is valid: the language may check only what the patches changed.
    diag = f.lang.check_change(f.data, composed, f.path, patches)
    if diag is not None:
        raise CrossNode(blame(f, node, patches, composed, diag, kids), node.id)
    if node.is_file:
        verify_structure(f, composed, kids)
    # Validate the file as it will be: with the imports still travelling up.
    view, view_range, folded = composed, new_range, patches
    if imports:
        folded, _, _ = await fold(ctx, f, patches, imports, await box)
        view = compose(f.data, folded)
        shift = sum(len(p.text) - (p.end - p.start) for p in folded if p.end <= node.start and p not in patches)
        view_range = (new_range[0] + shift, new_range[1] + shift)
    sandbox = await box
    if prefetch is not None:  # it writes the base file here: let it finish first
        await settle(prefetch)
    diag = await ctx.checks.external(
        f.path, f.data, sandbox, view, (node.start, node.end), view_range,
        external=f.lang.external, kind=node.kind, node=node.id,
        level="parent" if node.is_file else "class",
    )
    if diag is None and node.is_file and f.lang.typecheck:
        diag = await ctx.checks.typecheck(f.path, f.data, sandbox, view)
    if diag is not None:
        if diag.line is None or diag.relative:  # a kind's command: the router's own
            raise ValidationFailed(f"after composition: {diag}", node=node.id)
        raise CrossNode(blame(f, node, folded, view, diag, kids), node.id)
    parents = tuple(k.commit for k in kids if k.commit is not None)
    commit = await ctx.blocking(sandbox.commit, {f.path: composed}, f"astm compose {node.id}", parents)
    ctx.emit(node.id, "committed")
    res.status, res.commit = "changed", str(commit)
    if node.is_file:
        patch = Patch(f.path, 0, len(f.data), composed, node.id)
    else:
        patch = Patch(f.path, node.start, node.end, composed[node.start : node.end + delta], node.id)
    return Outcome(res, patch, commit, edits, imports)


_WORD = re.compile(rb"[A-Za-z_]\w*")


def needed_imports(ctx: RunContext, f: FileCtx, patches: list[Patch], imports: list[bytes]) -> list[bytes]:
    """Imports of the names the children's code now reads that another file defines or
    creates in this run (``raise OutOfStockError`` in store.py, the class new in errors.py):
    an import a small model leaves out is one the run can write itself (issue 10)."""
    words = {w.decode() for p in patches for w in _WORD.findall(p.text)}
    if not any(ctx.importable.get(w, f.path) != f.path for w in words):
        return []  # the usual case, decided on the patches alone: no file's name is used
    try:
        composed = compose(f.data, patches)
    except AstmError:
        return []  # the composition's own check reports it
    tail = b"".join(b"\n" + i for i in imports)  # the children's own imports bind names too
    had = set(f.lang.imports_for(f.data, f.path, ctx.importable))  # missing before: not this run's
    mine = set(f.lang.module_names(f.path))

    def cycle(other: str) -> bool:  # ``other`` imports this file as it loads: a cycle
        return other in ctx.sources and bool(mine & f.lang.module_imports(other, ctx.sources[other]))

    out = [i for i in f.lang.imports_for(composed + tail, f.path, ctx.importable, cycle) if i not in had]
    for line in out:
        note = f"{f.path}: added `{line.decode()}` for a name the change uses"
        if note not in ctx.result.notices:  # composed again after a child's retry
            ctx.result.notices.append(note)
    return out


async def resolve_imports(
    ctx: RunContext, f: FileCtx, patches: list[Patch], imports: list[bytes], sandbox: Sandbox
) -> tuple[list[Patch], list[Edit]]:
    patches, edits, notes = await fold(ctx, f, patches, imports, sandbox)
    for note in notes:
        if any(n.id == note.id and n.intent == note.intent for n in ctx.result.nodes):
            continue  # composed again after a child's retry
        ctx.emit(note.id, "committed", detail="requested imports")
        ctx.result.nodes.append(note)
    return patches, edits


def blame(
    f: FileCtx, node: Node, patches: list[Patch], view: bytes, diag: Diagnostic, kids: list[Outcome]
) -> Blame:
    """Attribute ``diag`` (a line of ``view``, the composed text) to the child whose
    lines it falls on: a patch's new range, else a child that did not act."""
    line = diag.line or 1
    at = len(b"".join(view.split(b"\n")[: line - 1])) + line - 1  # the line's first byte
    shift, owner, first = 0, None, 0
    for p in sorted(patches, key=lambda p: (p.start, p.end, p.seq)):
        start = p.start + shift
        lead = len(p.text) - len(p.text.lstrip(b"\r\n"))  # an insert's separating blank lines
        if p.text and start + lead <= at < start + len(p.text):
            owner, first = p.owner, view.count(b"\n", 0, start + lead) + 1
            break
        shift += len(p.text) - (p.end - p.start)
    if owner is None:
        for c in node.children:  # a node that did not act, moved by the patches above it
            moved = sum(len(p.text) - (p.end - p.start) for p in patches if p.end <= c.start)
            if c.start + moved <= at < c.end + moved:
                owner, first = c.id, view.count(b"\n", 0, c.start + moved) + 1
                break
    news = siblings_news(f, node, view, kids)
    if owner is None:
        return Blame(diag, None, news)
    rel = Diagnostic(diag.message, diag.source, line - first + 1, True, diag.snippet)
    return Blame(rel, owner, news)


def siblings_news(f: FileCtx, node: Node, view: bytes, kids: list[Outcome]) -> str:
    """What the siblings now define, against the base: names added, removed, renamed, and
    new import lines (a retry hint for a child that must work with them)."""
    try:
        after = f.lang.build(f.path, view)
    except Exception:  # noqa: BLE001 - news are a courtesy; a broken text has none
        return ""
    mine = after if node.is_file else next((n for n in after.walk() if n.id == node.id), after)
    before = {c.key for c in node.children if c.key}
    now = {c.key for c in mine.children if c.key}
    renamed = [
        f"{e.node.rsplit('::', 1)[-1]} -> {(f.lang.key_of(e.text.encode()) or ('', '?'))[1]}"
        for k in kids for e in k.edits if isinstance(e, Replace) and e.rename
    ]
    parts = []
    if now - before:
        parts.append("added " + ", ".join(sorted(now - before)))
    if before - now:
        parts.append("removed " + ", ".join(sorted(before - now)))
    if renamed:
        parts.append("renamed " + ", ".join(renamed))
    old_imports = next((c for c in f.tree.children if c.kind == "imports"), None)
    new_imports = next((c for c in after.children if c.kind == "imports"), None)
    if new_imports is not None:
        had = set(f.data[old_imports.start : old_imports.end].splitlines()) if old_imports else set()
        lines = [ln.strip() for ln in view[new_imports.start : new_imports.end].splitlines()]
        added = [ln.decode("utf-8", "replace") for ln in lines if ln and ln not in {h.strip() for h in had}]
        if added:
            parts.append("imports " + "; ".join(added[:8]))
    return "; ".join(parts)


async def fold(
    ctx: RunContext, f: FileCtx, patches: list[Patch], imports: list[bytes], sandbox: Sandbox
) -> tuple[list[Patch], list[Edit], list[NodeResult]]:
    """fold_imports with the project's import order, in the sandbox (ruff reads its config)."""
    from astm.validate import ruff

    await ctx.checks.ruff_inputs(sandbox)

    def sort(original: bytes | None, new: bytes) -> bytes:
        return ruff.sort_imports(sandbox.path, f.path, original, new)

    return await ctx.blocking(fold_imports, f, patches, imports, sort)


def verify_structure(f: FileCtx, composed: bytes, nodes: list[Outcome]) -> None:
    """The composed file's top-level nodes: every kept and created node is still there."""
    # Counted by (kind, name), not by id: deleting ``A`` renumbers ``A#2`` to ``A``.
    # check_change compiled it already: the keys are read without compiling again, from
    # what changed when the language can (the base's keys, less those of the statements
    # the patches touched, plus the new ones: a big file has many), else without building
    # every node when it can.
    base = Counter((c.kind, c.key) for c in f.tree.children)
    delta = getattr(f.lang, "top_keys_delta", None)
    top_keys = getattr(f.lang, "top_keys", None)
    changed = delta(f.data, composed) if delta is not None else None
    if changed is not None:
        after = base.copy()
        after.subtract(changed[0])
        after.update(changed[1])
    elif top_keys is not None:
        after = Counter(top_keys(composed))
    else:
        after = Counter((c.kind, c.key) for c in f.lang.build(f.path, composed).children)
    gone = {o.result.id for o in nodes if o.result.action == "delete"}
    gone |= {o.result.id for o in nodes for e in o.edits if isinstance(e, Replace) and e.rename}
    want = base.copy()
    if gone:
        want.subtract((c.kind, c.key) for c in f.tree.children if c.id in gone)
    for o in nodes:
        if o.result.action == "create" and o.patch is not None:
            found = f.lang.key_of(o.patch.text.lstrip(b"\r\n"))
            if found is not None and found[0] != "imports":
                want[(found[0], found[1])] += 1
    missing = sorted(f"{k} {n}" for (k, n), c in (want - after).items() for _ in range(c) if n)
    if missing:
        raise ValidationFailed(
            f"after composition the file no longer has {', '.join(missing)}", path=f.path
        )


Sorter = Callable[[bytes | None, bytes], bytes]


def fold_imports(
    f: FileCtx, patches: list[Patch], imports: list[bytes], sort: Sorter | None = None
) -> tuple[list[Patch], list[Edit], list[NodeResult]]:
    """Fold requested imports into the ``(imports)`` node (made if there is none).

    ``sort(original_block, new_block)`` puts the block in the project's import order
    (ruff's isort rules, when the block was sorted to begin with)."""
    block = next((c for c in f.tree.children if c.kind == "imports"), None)
    current = next((p for p in patches if block is not None and p.owner == block.id), None)
    text = current.text if current else (f.data[block.start : block.end] if block else b"")
    have = {b" ".join(ln.split()) for ln in text.splitlines()}
    wanted: list[bytes] = []
    for imp in imports:
        key = b" ".join(imp.split())
        if key not in have:
            have.add(key)
            wanted.append(imp)
    if not wanted:
        return patches, [], []
    add = b"".join(w + f.eol for w in wanted)
    rest = [p for p in patches if p is not current]
    if block is not None:
        body = text if text.endswith(b"\n") or not text else text + f.eol
        new = body + add
        if sort is not None:
            new = sort(f.data[block.start : block.end], new)
        note = NodeResult(block.id, "changed", 0, "replace", "requested imports")
        return rest + [Patch(f.path, block.start, block.end, new, block.id)], [
            Replace(op="replace", node=block.id, text=plain(new), base=block.hash)
        ], [note]
    if sort is not None:
        add = sort(None, add)
    patch, _ = f.lang.insert(
        f.tree, f.data, add, after=None, before=None, position="start",
        owner=node_id(f.path, "(imports)"), seq=-1,
    )
    note = NodeResult(patch.owner, "changed", 0, "create", "requested imports")
    return rest + [patch], [Insert(op="insert", parent=f.tree.id, position="start", text=plain(add))], [note]



def _is_imports_edit(e: Edit, f: FileCtx) -> bool:
    return isinstance(e, Replace) and e.node == node_id(f.path, "(imports)")


def merge_deletes(deletes: list[Outcome]) -> list[Outcome]:
    """Deleting neighbours: each removal takes its separating blank lines, so two of them
    can touch or overlap. They are one parent's removals: merge them into one patch."""
    ordered = sorted((d for d in deletes if d.patch is not None), key=lambda d: d.patch.start)  # type: ignore[union-attr]
    for prev, cur in itertools.pairwise(ordered):
        a, b = prev.patch, cur.patch
        if a is not None and b is not None and b.start <= a.end and not a.text and not b.text:
            cur.patch = Patch(a.path, a.start, max(a.end, b.end), b"", a.owner)
            prev.patch = None
    return deletes
