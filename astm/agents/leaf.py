"""A leaf: one node agent that generates its own new text, validates it, commits it alone.

The model (or a plan) answers with the node's text; ``shape`` turns the answer into the
node's patch (re-indented, the file's line endings, requested imports taken off the top)
and checks it alone (it parses, it is one definition of its kind and name); the external
validators run on the file as it will be. A failure retries with a short hint (bounded);
the patch is committed alone, on no branch: its parent's overlay commit holds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from astm.agents import follow, hints, limits, review, stated
from astm.agents.answer import absorb
from astm.agents.boxes import LeafBox
from astm.agents.compose import fold
from astm.agents.context import FileCtx, Outcome, RunContext, plain, released
from astm.agents.requests import Ask
from astm.core.node import Node, node_id
from astm.core.patch import Patch, compose
from astm.core.plan import Insert, Replace
from astm.core.result import NodeResult, Usage
from astm.errors import AstmError
from astm.llm.base import Create, GenerateRequest
from astm.validate import pyproject
from astm.validate.diagnostic import Diagnostic
from astm.validate.tests import python_of
from astm.workspace import git

MAX_CLASS_LINES = 150  # of a class shown whole to the worker of a new member

if TYPE_CHECKING:
    from astm.validate.hands import Hand
    from astm.workspace.sandbox import Sandbox


async def leaf(
    ctx: RunContext, f: FileCtx, parent: Node, node: Node, intent: str, *, rename: bool, seq: int,
    proposed: str | None = None, keep: frozenset[str] | None = None,
) -> Outcome:
    """``keep``: a rewrite keeps the node's children, but these ids (11.8); None: no check."""
    old = f.data[node.start : node.end]

    def place(new: bytes) -> tuple[Patch, int]:
        return Patch(f.path, node.start, node.end, new, node.id, seq), node.start

    res = NodeResult(node.id, "unchanged", 0, "replace", intent)
    out = await generate(
        ctx, f, res, intent=intent, key=node.key, kind=node.kind, text=old, rename=rename,
        place=place, ref=None, node=node, parent=parent, proposed=proposed, keep=keep,
    )
    if out.patch is not None and out.patch.text == old and not out.imports:
        out.result.status = "unchanged"
        out.patch = out.commit = None
    elif out.patch is not None:
        out.edits = [Replace(op="replace", node=node.id, text=plain(out.patch.text), rename=rename, base=node.hash)]
    return out

async def create(
    ctx: RunContext, f: FileCtx, parent: Node, c: Create, *, seq: int, first: bool = False,
    deleted: frozenset[str] = frozenset(), proposed: str | None = None,
) -> Outcome:
    key = c.key or "(new)"
    after = parent.child(c.after) if c.after else None
    before = parent.child(c.before) if c.before else None
    # A block (a top-level if/try/with) is no scope: its definitions are named as the file's.
    qual = key if parent.is_file or parent.kind == "block" else f"{parent.id.split('::', 1)[1]}.{key}"

    def place(new: bytes) -> tuple[Patch, int]:
        patch, off = f.lang.insert(
            parent, f.data, new, after=after, before=before, position=c.position,
            owner=node_id(f.path, qual), seq=seq, first=first, deleted=deleted,
        )
        if c.spacing is not None:
            patch = dataclasses.replace(patch, spacing=c.spacing)
        return patch, patch.start + off

    res = NodeResult(node_id(f.path, qual), "unchanged", 0, "create", c.intent)
    out = await generate(
        ctx, f, res, intent=c.intent, key=key, kind=None, text=b"", rename=False, place=place,
        ref=c.ref, node=None, parent=parent, proposed=proposed,
    )
    if out.patch is not None:
        text = out.patch.text[len(out.patch.text) - len(out.patch.text.lstrip(b"\r\n")):]
        position = c.position if not (c.after or c.before) else None
        if not (c.after or c.before or position):
            position = "end"
        out.edits = [
            Insert(op="insert", parent=parent.id, after=c.after, before=c.before,
                   position=position, text=plain(text),  # type: ignore[arg-type]
                   blank_above=c.spacing[0] if c.spacing else None,
                   blank_below=c.spacing[1] if c.spacing else None)
        ]
    return out

async def generate(
    ctx: RunContext,
    f: FileCtx,
    res: NodeResult,
    *,
    intent: str,
    key: str | None,
    kind: str | None,
    text: bytes,
    rename: bool,
    place: Callable[[bytes], tuple[Patch, int]],
    ref: int | None,
    node: Node | None,
    parent: Node,
    proposed: str | None = None,
    keep: frozenset[str] | None = None,
) -> Outcome:
    """Generate until the node's new text validates (bounded), then commit it alone."""
    nid = res.id
    async with ctx.sem:
        box = LeafBox(ctx, f.path, kind)
        broke = committed = False
        try:
            hint, diag = "; ".join(ctx.run_hint), None
            patch: Patch | None = None
            imports: list[bytes] = []
            asks: list[Ask] = []
            # A plan's insert names its own key; so may a retry of a new node whose routed
            # key the file's standards refused (a stray [dev] table belongs elsewhere).
            free = rename or ref is not None
            # A new member is written beside its class's code, not its outline: the 1.5B,
            # shown only signatures, rewrote the class from them and guessed its attributes.
            # The new member's stub stands at the class's end: a small model that writes the
            # class back (the 1.5B did, six times running) then writes the member in it too.
            inside = ""  # (on the first attempt only: a retry sees the outline, a change of view)
            if node is None and parent.kind == "class" and not ctx.plan_mode:
                lines = f.data[parent.start : parent.end].decode("utf-8", "replace").splitlines()
                inside = "\n".join(lines[:MAX_CLASS_LINES] + (["    ..."] if len(lines) > MAX_CLASS_LINES else []))
                stub = f.lang.stub(key or "", member=True, intent=intent).decode("utf-8", "replace").rstrip("\n")
                inside += f"\n\n{stub}" if stub else ""
            # At temperature 0 an answer given twice comes again, whatever the hint says
            # (the 1.5B wrote its class back six times): the next retries sample warmer.
            seen: set[str] = set()
            warm: float | None = None
            for attempt in range(1, ctx.settings.retries + 2):
                res.attempts = attempt
                ctx.emit(nid, "generating", attempt)
                shown = text if node is not None or ctx.plan_mode else f.lang.stub(
                    key or "", member=parent.kind == "class", intent=intent)
                req = GenerateRequest(
                    intent=intent, node_id=nid, node_kind=kind or "definition", new=node is None,
                    language=f.lang.name, key=key, text=shown.decode("utf-8", "replace"),
                    context=f.outline, hint=hint, attempt=attempt, ref=ref,
                    prompt=ctx.prompt_for(kind), requests=not ctx.decided, around=inside if attempt == 1 else "",
                    temperature=warm,
                )
                if attempt == 1 and proposed is not None:  # a proposal answers first
                    answer, usage = proposed, Usage()
                else:
                    async with released(ctx.sem):  # no CPU slot held while the model works
                        answer, usage = await ctx.provider.generate(req)
                box.answered()
                ctx.add_usage(usage)
                if answer.strip() in seen and warm is None and ctx.settings.echo_temperature > ctx.settings.temperature:
                    warm = ctx.settings.echo_temperature
                    ctx.result.notices.append(f"{nid}: the same answer twice; retrying at temperature {warm:g}")
                seen.add(answer.strip())
                ctx.emit(nid, "validating", attempt)
                hand = ctx.checks.hands.take()  # ruff waits for this answer's text (validate/hands)
                try:
                    patch, imports, asks, diag = shape(
                        ctx, f, answer, place, node=node, parent=parent, kind=kind, key=key,
                        rename=free, owner=nid, intent=intent,
                    )
                    if diag is None and patch is not None and keep is not None and node is not None:
                        diag = limits.lost_children(f, patch, node, keep)
                    if diag is None and patch is not None and shown != text and patch.text.strip() == shown.strip():
                        diag = Diagnostic("the answer is the new node's stub, unchanged: write its content", "shape")
                    if diag is None and patch is not None:
                        if attempt == 1 and (spec := ctx.speculations.get(parent.id)) is not None:
                            spec.offer(nid, patch, imports)  # its router's text joins this check's batch
                        diag = await external_node(ctx, f, await box.get(), patch, imports, node, parent, hand)
                finally:
                    hand.done()
                if diag is None and ctx.review is not None:  # --step: the user decides (agents/review.py)
                    patch, imports, asks, diag = await review.gate(
                        ctx, nid, text, (patch, imports, asks, diag),
                        lambda a, free=free: recheck(ctx, f, a, place, box.get, node=node, parent=parent, kind=kind,
                                          key=key, rename=free, owner=nid))
                if diag is None:
                    break
                box.put()  # not held over the hint and the next answer
                free = free or (node is None and diag.source == "pyproject")
                hint = await hints.for_retry(ctx, diag, res)  # tier 4: raw output never in a prompt
                if attempt <= ctx.settings.retries:
                    ctx.emit(nid, "retry", attempt, hint)
            if diag is not None or patch is None:
                res.status, res.diagnostic = "failed", str(diag)
                ctx.emit(nid, "failed", res.attempts, str(diag))
                return Outcome(res)
            if patch.text == text and not imports:
                ctx.emit(nid, "unchanged", res.attempts)
                return Outcome(res, patch, asks=_unchanged_asks(ctx, nid, asks))
            # Committed from the bytes, on no branch: the sandbox goes back to the file's
            # pool as it is. Made here, not in a thread: hashing its objects is all it
            # does (they wait in memory for the commit above, workspace/packs.py), and a
            # thread beside the busy event loop waited longer for the interpreter lock.
            message = f"astm node {nid}\n\n{intent}\n"
            edit = (f.data, patch.start, patch.end, patch.text)
            # (A patch that spaces itself against its neighbours is more than a splice.)
            commit = None if patch.spacing else git.commit_pending(ctx.repo.repo, ctx.base.id, f.path, edit, message)
            if commit is None:  # not a case it takes: pygit2 writes it
                commit = await ctx.blocking(
                    git.commit_detached, ctx.repo.repo, ctx.base.id, {f.path: compose(f.data, [patch])}, message)
            res.status, res.commit = "changed", str(commit)
            ctx.emit(nid, "committed", res.attempts)
            committed = True
            return Outcome(res, patch, commit, imports=imports, asks=asks)
        except BaseException:
            broke = True
            raise
        finally:
            await box.close(ok=not broke, committed=committed)


def _unchanged_asks(ctx: RunContext, nid: str, asks: list[Ask]) -> list[Ask]:
    """A node that left its own text as it was keeps its requests and its new helpers, but
    not its rewrites of existing siblings: the 1.5B, routed to the wrong function, wrote
    the whole file back with four of its neighbours rewritten from guesses."""
    keep = [a for a in asks if not (a.proposal and a.what == "change")]
    for a in asks:
        if a not in keep:
            ctx.result.notices.append(f"{nid} proposed a change to {a.name}; not done: it left its own text as it was")
    return keep


def shape(
    ctx: RunContext,
    f: FileCtx,
    answer: str,
    place: Callable[[bytes], tuple[Patch, int]],
    *,
    node: Node | None,
    parent: Node,
    kind: str | None,
    key: str | None,
    rename: bool,
    owner: str = "",
    intent: str = "",
) -> tuple[Patch | None, list[bytes], list[Ask], Diagnostic | None]:
    """Answer -> the node's patch (re-indented, EOLs of the file) and its requests.
    ``intent``: what the node was asked (a model's answer may not undo what it did not ask)."""
    new, imports, asks, diag = absorb(  # issue 10.1: what real models answer
        answer, max_bytes=ctx.settings.max_answer_bytes, path=f.path, language=f.lang.name,
        tree=f.tree, base=f.data, node=node, parent=parent, kind=kind, key=key, owner=owner,
        strict=ctx.plan_mode, rename=rename, drop_stray=bool(ctx.decided),
    )
    if diag is not None:
        return None, [], [], diag
    follow.expect(ctx, f.path, asks)  # helpers on their way: their names are not F821
    if kind != "imports":
        new, more = f.lang.requests(new)
        imports = more + [i for i in imports if i not in more]
    try:  # deep text is refused here, before validation walks it
        new = f.lang.prepare(new, node=node, parent=parent, base=f.data)
    except AstmError as exc:
        return None, [], [], Diagnostic(exc.message, "answer")
    if f.eol != b"\n":
        new = new.replace(b"\n", f.eol)
    if kind is None:  # a new node: its kind is read from its text
        found = f.lang.key_of(new)
        kind = found[0] if found else "table"
    try:
        patch, start = place(new)
        patched = compose(f.data, [patch])
    except AstmError as exc:
        return None, [], [], Diagnostic(exc.message, "compose")
    diag = f.lang.check_node(patched, start, new, kind=kind, key=key, rename=rename, path=f.path)
    if diag is None and parent.kind == "class":  # self.words used as data where words is a method
        siblings = {c.key: f.data[c.start : c.end] for c in parent.children if c.key and c.key != key}
        diag = f.lang.check_member(new, siblings)
    diag = diag or pyproject.check_node(patched, new, path=f.path, base=f.data)  # 10.8: PEP 621
    if diag is None and intent and not ctx.plan_mode:
        diag = pyproject.lost_dependencies(f.data, patched, intent=intent, path=f.path)
        diag = diag or f.lang.check_asked(new, intent)  # type hints asked, none written
        diag = diag or pyproject.unknown_pytest_options(f.data, patched, path=f.path, python=python_of(ctx.repo.workdir))
        if diag is None and stated.sole(ctx.decided, f.path):  # "under 80%": the 80 is this node's
            diag = stated.missing(intent, new, f.data, where=pyproject.value_hint(f.path, key or "", intent, new, f.data))
    return (patch if diag is None else None), imports, asks, diag


async def recheck(
    ctx: RunContext, f: FileCtx, answer: str, place: Callable[[bytes], tuple[Patch, int]],
    box: Callable[[], Awaitable[Sandbox]], *, node: Node | None, parent: Node, kind: str | None,
    key: str | None, rename: bool, owner: str,
) -> review.Shaped:
    """An answer (a reviewer's edit) through the same shape and validators as a model's."""
    patch, imports, asks, diag = shape(
        ctx, f, answer, place, node=node, parent=parent, kind=kind, key=key, rename=rename, owner=owner
    )
    if diag is None and patch is not None:
        diag = await external_node(ctx, f, await box(), patch, imports, node, parent, ruff_here=True)
    return patch, imports, asks, diag


def ruff_above(ctx: RunContext, f: FileCtx, parent: Node) -> bool:
    """A plan cannot answer differently: ruff at its leaf would only fail it sooner. Its
    parent lints the composed text anyway, judging every code, and names the node a
    finding falls on. A model's leaf hears of its own findings at once, and retries."""
    return ctx.plan_mode and ctx.checks.judges_ruff(parent.kind, f.lang.external)


async def external_node(
    ctx: RunContext, f: FileCtx, sandbox: Sandbox, patch: Patch, imports: list[bytes], node: Node | None,
    parent: Node, hand: Hand | None = None, *, ruff_here: bool = False,
) -> Diagnostic | None:
    """The external validators on the file as this node's patch makes it. ``ruff_here``:
    ruff runs at this leaf even for a plan (a reviewer's edit, which can be made again)."""
    kind = node.kind if node is not None else (f.lang.key_of(patch.text) or ("definition",))[0]
    patches = [patch]
    if imports:  # validate as the file will be: with the requested imports
        patches, _, _ = await fold(ctx, f, [patch], imports, sandbox)
    patched = compose(f.data, patches)
    shift = sum(len(p.text) - (p.end - p.start) for p in patches if p.start < patch.start)
    start = patch.start + shift + (len(patch.text) - len(patch.text.lstrip(b"\r\n")))
    old = (node.start, node.end) if node is not None else (patch.start, patch.start)
    nid = node.id if node is not None else patch.owner
    return await ctx.checks.external(
        f.path, f.data, sandbox, patched, old, (start, start + len(patch.text)),
        external=f.lang.external, kind=kind, node=nid, lint=lambda: f.lang.lint_view(f.tree, f.data, patches), hand=hand,
        with_ruff=ruff_here or not ruff_above(ctx, f, parent),
    )
