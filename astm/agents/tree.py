"""Node agents over one file's tree: routers route and compose, leaves generate.

* A *router* (a file; a Python class; any node a plan edits below) asks which children
  act, runs them concurrently, composes their patches in descending byte order, validates
  the composed file at its level and commits an overlay commit whose extra parents are
  its children's commits. Its result is one patch over its own range.
* A *leaf* generates its own new text, validates it (shape, syntax, ruff: only new
  problems inside the node count), retries with a short hint, and commits its patch alone.
* Upward requests: imports an answer puts above its definition travel up to the file,
  which resolves them into an edit of its ``(imports)`` node.

``TreeWork`` is mixed into the run (``astm.engine``), which provides the model, the
sandboxes, the thread pool and the events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from astm.agents import follow, routing
from astm.agents.answer import absorb
from astm.agents.requests import Ask
from astm.errors import AstmError, ValidationFailed
from astm.lang import Language
from astm.llm.base import Act, ChildInfo, Create, GenerateRequest, Route, RouteRequest, Usage
from astm.patch import Patch, compose
from astm.plan import Delete, Edit, Insert, Plan, Replace
from astm.result import NodeResult
from astm.syntax import Node, node_id, text_hash
from astm.validate import pyproject
from astm.validate.diagnostic import Diagnostic

if TYPE_CHECKING:
    import pygit2

    from astm.workspace.sandbox import Sandbox


@dataclass
class FileCtx:
    path: str
    data: bytes
    tree: Node
    lang: Language
    eol: bytes
    outline: str


@dataclass
class Outcome:
    """What one node agent produced."""

    result: NodeResult
    patch: Patch | None = None
    commit: pygit2.Oid | None = None
    edits: list[Edit] = field(default_factory=list)  # for --save-plan
    imports: list[bytes] = field(default_factory=list)  # upward requests: imports
    asks: list[Ask] = field(default_factory=list)  # upward requests: a sibling, a caller
    failed_below: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.result.status == "failed"


class TreeWork:
    # provided by the run
    opts: Any
    settings: Any
    provider: Any
    sem: asyncio.Semaphore
    base: Any
    result: Any
    emit: Callable[..., None]
    blocking: Callable[..., Awaitable[Any]]
    add_usage: Callable[..., None]
    repo: Any
    pool: Any
    sandbox: Callable[..., Awaitable[Sandbox]]

    # ---- routing ---------------------------------------------------------------------

    async def route_node(self, f: FileCtx, node: Node, intent: str) -> Route:
        children = tuple(
            ChildInfo(
                c.id, c.kind, _first_line(f.data[c.start : c.end]),
                frozenset(n.id for n in c.walk()) - {c.id},
            )
            for c in node.children
        )
        if node.is_file:
            context = f.outline
        else:
            # A router decides from its own lines and its children's signatures: their
            # bodies are their own agents' business (and most of the bytes).
            context = f"Node text, children folded to their signatures:\n{folded(node, f.data)}"
        req = RouteRequest(intent, node.id, node.kind, f.lang.name, children, context)
        texts = {c.id: f.data[c.start : c.end].decode("utf-8", "replace") for c in node.children}
        self.emit(node.id, "routing")
        route, usage = await routing.decide_checked(  # 10.2/10.3: near-miss ids, named nodes
            self.provider, req, node, mode=self.settings.routing, texts=texts, limit=self.sem
        )
        self.add_usage(usage)
        self.emit(
            node.id, "waiting",
            detail=f"{len(route.act)} act, {len(route.create)} new, {len(route.delete)} deleted",
        )
        return route

    def routes(self, f: FileCtx, node: Node, act: Act) -> bool:
        if act.mode == "rewrite":
            return False
        if act.mode == "route":
            return True
        return node.kind in f.lang.routers

    # ---- routers ---------------------------------------------------------------------

    async def container(self, f: FileCtx, node: Node, intent: str, *, parent: Node | None) -> Outcome:
        """Route, run the acting children, compose, validate, commit an overlay commit."""
        box = asyncio.ensure_future(self.sandbox(self.base.id))
        prefetch: asyncio.Future[None] | None = None
        if node.is_file and f.lang.external and self.settings.validate_.ruff:
            # The baseline runs while the model routes: off the critical path.
            prefetch = asyncio.ensure_future(self.prefetch(f, box))
        try:
            route = await self.route_node(f, node, intent)
            if route.rewrite and parent is not None:
                return await self.leaf(f, parent, node, intent, rename=False, seq=0)
            res = NodeResult(node.id, "unchanged", 0, "compose", intent)
            if route.empty:
                return Outcome(res)
            jobs: list[Callable[[str], Awaitable[Outcome]]] = []
            for seq, a in enumerate(route.act):
                child = node.child(a.node_id)
                assert child is not None  # check_route made sure
                todo = (a.intent or intent)
                if self.routes(f, child, a):
                    jobs.append(lambda extra, c=child, t=todo: self.container(f, c, t + extra, parent=node))
                else:
                    jobs.append(
                        lambda extra, c=child, t=todo, a=a, s=seq: self.leaf(f, node, c, t + extra, rename=a.rename, seq=s)
                    )
            for seq, c in enumerate(route.create):
                jobs.append(
                    lambda extra, c=c, s=seq: self.create(
                        f, node, dataclasses.replace(c, intent=c.intent + extra), seq=1000 + s, first=s == 0
                    )
                )
            kids: list[Outcome] = list(await _all(job("") for job in jobs))
            kids = await self.reset_failed(jobs, kids)
            more, up = await follow.answer_asks(self, f, node, kids, skip=route.delete)  # 10.1
            kids += more
            deletes: list[Outcome] = []
            for nid in route.delete:
                gone = node.child(nid)
                assert gone is not None
                r = NodeResult(nid, "changed", 0, "delete", intent)
                patch = f.lang.delete(node, gone, f.data, refilled=bool(route.create))
                deletes.append(Outcome(r, patch, edits=[Delete(op="delete", node=nid)]))
            kids += merge_deletes(deletes)
            kids += await follow.pull_in(self, f, node, kids, intent, box, prefetch)  # 10.5
            for k in kids:
                if k.result.action != "compose":
                    self.result.nodes.append(k.result)
            failed = [k.result for k in kids if k.failed and k.result.action != "compose"]
            failed += [r for k in kids for r in k.failed_below]
            if failed:
                res.status, res.diagnostic = "failed", f"{len(failed)} node(s) below failed"
                return Outcome(res, failed_below=failed)
            imports = [i for k in kids for i in k.imports]
            patches = [k.patch for k in kids if k.patch is not None]
            edits = [e for k in kids for e in k.edits]
            if node.is_file and imports:
                if prefetch is not None:
                    await settle(prefetch)
                patches, extra = await self.resolve_imports(f, patches, imports, await box)
                edits = [e for e in edits if not _is_imports_edit(e, f)] + extra
                imports = []
            if not patches:
                return Outcome(res, imports=imports, asks=up)
            self.emit(node.id, "composing")
            bounds = (0, len(f.data)) if node.is_file else (node.start, node.end)
            composed = compose(f.data, patches, bounds=bounds)
            delta = len(composed) - len(f.data)
            new_range = (node.start, node.end + delta) if not node.is_file else (0, len(composed))
            diag = f.lang.check_file(composed, f.path)
            if diag is not None:
                raise ValidationFailed(
                    f"the composed file is not valid: {diag.message}", node=node.id, line=diag.line
                )
            if node.is_file:
                self.verify_structure(f, composed, kids)
            # Validate the file as it will be: with the imports still travelling up.
            view, view_range = composed, new_range
            if imports:
                folded, _, _ = await self.fold(f, patches, imports, await box)
                view = compose(f.data, folded)
                shift = sum(len(p.text) - (p.end - p.start) for p in folded if p.end <= node.start and p not in patches)
                view_range = (new_range[0] + shift, new_range[1] + shift)
            sandbox = await box
            if prefetch is not None:  # it writes the base file here: let it finish first
                await settle(prefetch)
            diag = await self.external(f, sandbox, view, (node.start, node.end), view_range, kind=node.kind, node=node.id)
            if diag is None and node.is_file and f.lang.name == "python":
                diag = await self.typecheck(f, sandbox, view)
            if diag is not None:
                raise ValidationFailed(f"after composition: {diag}", node=node.id)
            parents = tuple(k.commit for k in kids if k.commit is not None)
            commit = await self.blocking(sandbox.commit, {f.path: composed}, f"astm compose {node.id}", parents)
            self.emit(node.id, "committed")
            res.status, res.commit = "changed", str(commit)
            if node.is_file:
                patch = Patch(f.path, 0, len(f.data), composed, node.id)
            else:
                patch = Patch(f.path, node.start, node.end, composed[node.start : node.end + delta], node.id)
            return Outcome(res, patch, commit, edits, imports, asks=up)
        finally:
            if prefetch is not None:
                await settle(prefetch)
            await settle(box)

    async def reset_failed(
        self, jobs: list[Callable[[str], Awaitable[Outcome]]], kids: list[Outcome]
    ) -> list[Outcome]:
        """Healing: a child that failed all its attempts is reset once, told its last
        diagnostic and how its siblings fared. A plan would answer the same: skip."""
        failed = [i for i, k in enumerate(kids) if k.failed and k.result.action != "compose"]
        if not failed or not self.settings.reset or self.provider.name == "plan":
            return kids
        siblings = "; ".join(f"{k.result.id}: {k.result.status}" for k in kids)
        for i in failed:
            self.emit(kids[i].result.id, "reset", detail=kids[i].result.diagnostic or "")
        again = await _all(
            jobs[i](
                f"\n\nA first try at this node failed: {kids[i].result.diagnostic}. "
                f"Its siblings: {siblings}. Avoid that problem."
            )
            for i in failed
        )
        out = list(kids)
        for i, k in zip(failed, again):
            k.result.attempts += kids[i].result.attempts
            out[i] = k
        return out

    async def resolve_imports(
        self, f: FileCtx, patches: list[Patch], imports: list[bytes], sandbox: Sandbox
    ) -> tuple[list[Patch], list[Edit]]:
        patches, edits, notes = await self.fold(f, patches, imports, sandbox)
        for note in notes:
            self.emit(note.id, "committed", detail="requested imports")
            self.result.nodes.append(note)
        return patches, edits

    async def fold(
        self, f: FileCtx, patches: list[Patch], imports: list[bytes], sandbox: Sandbox
    ) -> tuple[list[Patch], list[Edit], list[NodeResult]]:
        """fold_imports with the project's import order, in the sandbox (ruff reads its config)."""
        from astm.validate import ruff

        await self.blocking(sandbox.materialise, list(ruff.CONFIG_FILES))

        def sort(original: bytes | None, new: bytes) -> bytes:
            return ruff.sort_imports(sandbox.path, f.path, original, new)

        return await self.blocking(fold_imports, f, patches, imports, sort)

    def verify_structure(self, f: FileCtx, composed: bytes, nodes: list[Outcome]) -> None:
        """Re-parse the composed file: every kept and created node is still there."""
        # Counted by (kind, name), not by id: deleting ``A`` renumbers ``A#2`` to ``A``.
        after = Counter((c.kind, c.key) for c in f.lang.parse(f.path, composed).children)
        gone = {o.result.id for o in nodes if o.result.action == "delete"}
        gone |= {o.result.id for o in nodes for e in o.edits if isinstance(e, Replace) and e.rename}
        want = Counter((c.kind, c.key) for c in f.tree.children if c.id not in gone)
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

    # ---- leaves ----------------------------------------------------------------------

    async def leaf(
        self, f: FileCtx, parent: Node, node: Node, intent: str, *, rename: bool, seq: int,
        proposed: str | None = None,
    ) -> Outcome:
        old = f.data[node.start : node.end]

        def place(new: bytes) -> tuple[Patch, int]:
            return Patch(f.path, node.start, node.end, new, node.id, seq), node.start

        res = NodeResult(node.id, "unchanged", 0, "replace", intent)
        out = await self.agent(
            f, res, intent=intent, key=node.key, kind=node.kind, text=old, rename=rename,
            place=place, ref=None, node=node, parent=parent, proposed=proposed,
        )
        if out.patch is not None and out.patch.text == old and not out.imports:
            out.result.status = "unchanged"
            out.patch = out.commit = None
        elif out.patch is not None:
            out.edits = [Replace(op="replace", node=node.id, text=_plain(out.patch.text), rename=rename)]
        return out

    async def create(
        self, f: FileCtx, parent: Node, c: Create, *, seq: int, first: bool = False,
        proposed: str | None = None,
    ) -> Outcome:
        key = c.key or _plan_key(self.opts.plan, c, f)
        after = parent.child(c.after) if c.after else None
        before = parent.child(c.before) if c.before else None
        qual = key if parent.is_file else f"{parent.id.split('::', 1)[1]}.{key}"

        def place(new: bytes) -> tuple[Patch, int]:
            patch, off = f.lang.insert(
                parent, f.data, new, after=after, before=before, position=c.position,
                owner=node_id(f.path, qual), seq=seq, first=first,
            )
            return patch, patch.start + off

        res = NodeResult(node_id(f.path, qual), "unchanged", 0, "create", c.intent)
        out = await self.agent(
            f, res, intent=c.intent, key=key, kind=None, text=b"", rename=False, place=place,
            ref=c.ref, node=None, parent=parent, proposed=proposed,
        )
        if out.patch is not None:
            text = out.patch.text[len(out.patch.text) - len(out.patch.text.lstrip(b"\r\n")):]
            position = c.position if not (c.after or c.before) else None
            if not (c.after or c.before or position):
                position = "end"
            out.edits = [
                Insert(op="insert", parent=parent.id, after=c.after, before=c.before,
                       position=position, text=_plain(text))  # type: ignore[arg-type]
            ]
        return out

    async def agent(
        self,
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
    ) -> Outcome:
        """Generate until the node's new text validates (bounded), then commit it alone."""
        nid = res.id
        async with self.sem:
            box = asyncio.ensure_future(self.sandbox(self.base.id))
            try:
                hint, diag = "", None
                patch: Patch | None = None
                imports: list[bytes] = []
                asks: list[Ask] = []
                for attempt in range(1, self.settings.retries + 2):
                    res.attempts = attempt
                    self.emit(nid, "generating", attempt)
                    req = GenerateRequest(
                        intent=intent, node_id=nid, node_kind=kind or "definition",
                        language=f.lang.name, key=key, text=text.decode("utf-8", "replace"),
                        context=f.outline, hint=hint, attempt=attempt, ref=ref,
                        prompt=self.prompt_for(kind),
                    )
                    if attempt == 1 and proposed is not None:  # a proposal answers first
                        answer, usage = proposed, Usage()
                    else:
                        answer, usage = await self.provider.generate(req)
                    self.add_usage(usage)
                    self.emit(nid, "validating", attempt)
                    patch, imports, asks, diag = self.shape(
                        f, answer, place, node=node, parent=parent, kind=kind, key=key,
                        rename=rename or ref is not None, owner=nid,
                    )
                    if diag is None and patch is not None:
                        diag = await self.external_node(f, await box, patch, imports, node)
                    if diag is None:
                        break
                    hint = diag.hint()
                    if attempt <= self.settings.retries:
                        self.emit(nid, "retry", attempt, hint)
                if diag is not None or patch is None:
                    res.status, res.diagnostic = "failed", str(diag)
                    self.emit(nid, "failed", res.attempts, str(diag))
                    return Outcome(res)
                if patch.text == text and not imports:
                    self.emit(nid, "unchanged", res.attempts)
                    return Outcome(res, patch, asks=asks)
                sandbox = await box
                patched = compose(f.data, [patch])
                await self.blocking(sandbox.write, f.path, patched)
                commit = await self.blocking(sandbox.commit, {f.path: patched}, f"astm node {nid}\n\n{intent}\n")
                res.status, res.commit = "changed", str(commit)
                self.emit(nid, "committed", res.attempts)
                self.release(sandbox)
                return Outcome(res, patch, commit, imports=imports, asks=asks)
            finally:
                await settle(box)

    def release(self, sandbox: Sandbox) -> None:
        """Remove a sandbox's worktree now that its commit exists; its branch keeps the
        commit reachable until the root's run ref does (cleanup deletes it)."""
        from astm.workspace.sandbox import remove_worktree

        self.pool.submit(remove_worktree, sandbox.repo, sandbox.path)

    def prompt_for(self, kind: str | None) -> str | None:
        """The project's prompt file for this node kind (checked before the run starts)."""
        rel = self.settings.validate_.kind(kind or "").prompt
        return str(self.repo.workdir / rel) if rel else None

    def shape(
        self,
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
    ) -> tuple[Patch | None, list[bytes], list[Ask], Diagnostic | None]:
        """Answer -> the node's patch (re-indented, EOLs of the file) and its requests."""
        new, imports, asks, diag = absorb(  # issue 10.1: what real models answer
            answer, max_bytes=self.settings.max_answer_bytes, path=f.path, language=f.lang.name,
            tree=f.tree, base=f.data, node=node, parent=parent, kind=kind, key=key, owner=owner,
            strict=self.provider.name == "plan",
        )
        if diag is not None:
            return None, [], [], diag
        follow.expect(self, f.path, asks)  # helpers on their way: their names are not F821
        if kind != "imports":
            new, more = f.lang.requests(new)
            imports = more + [i for i in imports if i not in more]
        new = f.lang.prepare(new, node=node, parent=parent, base=f.data)
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
        diag = diag or pyproject.check_node(patched, new, path=f.path, base=f.data)  # 10.8: PEP 621
        return (patch if diag is None else None), imports, asks, diag

    # ---- external validators (subprocesses in the sandbox) --------------------------

    async def external_node(
        self, f: FileCtx, sandbox: Sandbox, patch: Patch, imports: list[bytes], node: Node | None
    ) -> Diagnostic | None:
        patches = [patch]
        if imports:  # validate as the file will be: with the requested imports
            patches, _, _ = await self.fold(f, [patch], imports, sandbox)
        patched = compose(f.data, patches)
        shift = sum(len(p.text) - (p.end - p.start) for p in patches if p.start < patch.start)
        start = patch.start + shift + (len(patch.text) - len(patch.text.lstrip(b"\r\n")))
        old = (node.start, node.end) if node is not None else (patch.start, patch.start)
        kind = node.kind if node is not None else (f.lang.key_of(patch.text) or ("definition",))[0]
        nid = node.id if node is not None else patch.owner
        return await self.external(f, sandbox, patched, old, (start, start + len(patch.text)), kind=kind, node=nid)

    async def external(
        self, f: FileCtx, sandbox: Sandbox, patched: bytes, old: tuple[int, int],
        new: tuple[int, int], *, kind: str = "file", node: str = "",
    ) -> Diagnostic | None:
        """Subprocess validators in the sandbox: ruff, then the kind's own commands."""
        from astm.validate import commands, ruff

        conf = self.settings.validate_
        kind_conf = conf.kind(kind)
        use_ruff = f.lang.external and (kind_conf.ruff if kind_conf.ruff is not None else conf.ruff)
        if not use_ruff and not kind_conf.commands:
            return None
        wanted = list(ruff.CONFIG_FILES) + [p for c in kind_conf.commands for p in commands.named_paths(c)]
        await self.blocking(sandbox.materialise, wanted)
        await self.blocking(sandbox.write, f.path, patched)
        if use_ruff:
            baseline = await self.baseline(f, sandbox)
            after = follow.excuse(self, f.path, await self.ruff_on(f, sandbox, patched), kind)
            diag = ruff.check(sandbox.path, f.path, f.data, patched, old, new, baseline, after or [])
            if diag is not None:
                return diag
        first = patched.count(b"\n", 0, new[0]) + 1
        values = {
            "file": f.path, "node": node or f.path,
            "start_line": str(first), "end_line": str(first + patched.count(b"\n", new[0], max(new[0], new[1] - 1))),
        }
        for template in kind_conf.commands:
            diag = await self.blocking(commands.run, sandbox.path, template, values)
            if diag is not None:
                return diag
        return None

    async def typecheck(self, f: FileCtx, sandbox: Sandbox, composed: bytes) -> Diagnostic | None:
        """pyright/basedpyright on the composed file, when the project configures it."""
        from astm.validate import pyright

        mode = self.settings.validate_.pyright
        if mode == "off":
            return None
        await self.blocking(sandbox.materialise, list(pyright.CONFIG_FILES))
        if mode == "auto":
            pyproject = sandbox.path / "pyproject.toml"
            data = pyproject.read_bytes() if pyproject.is_file() else None
            if not pyright.configured(data, (sandbox.path / "pyrightconfig.json").is_file()):
                return None
        self.emit(f.tree.id, "typecheck")
        return await self.blocking(
            pyright.check, sandbox.path, f.path, f.data, composed, (0, len(f.data)), (0, len(composed))
        )

    async def prefetch(self, f: FileCtx, box: asyncio.Future[Sandbox]) -> None:
        from astm.validate import ruff

        try:
            sandbox = await box
            # The file itself too: some rules look at it on disk (EXE001: its mode).
            await self.blocking(sandbox.materialise, [*ruff.CONFIG_FILES, f.path])
            await self.ruff_on(f, sandbox, f.data)
        except Exception:  # noqa: BLE001 - the baseline is computed again where it is needed
            return

    async def baseline(self, f: FileCtx, sandbox: Sandbox) -> Any:
        """ruff's findings on the file at base, computed once per run and file."""
        return await self.ruff_on(f, sandbox, f.data) or []

    def ruff_on(self, f: FileCtx, sandbox: Sandbox, data: bytes) -> asyncio.Future[Any]:
        """ruff's findings on ``data``, once per content: a class and its file often
        compose to the same text, and the baseline is shared by every node of a file."""
        from astm.validate import ruff

        cache: dict[tuple[str, str], asyncio.Future[Any]] = self.__dict__.setdefault("_ruff", {})
        key = (f.path, text_hash(data))
        if key not in cache:
            cache[key] = asyncio.ensure_future(self.blocking(ruff.findings, sandbox.path, f.path, data))
        return cache[key]


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
            Replace(op="replace", node=block.id, text=_plain(new))
        ], [note]
    if sort is not None:
        add = sort(None, add)
    patch, _ = f.lang.insert(
        f.tree, f.data, add, after=None, before=None, position="start",
        owner=node_id(f.path, "(imports)"), seq=-1,
    )
    note = NodeResult(patch.owner, "changed", 0, "create", "requested imports")
    return rest + [patch], [Insert(op="insert", parent=f.tree.id, position="start", text=_plain(add))], [note]



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


async def settle(task: asyncio.Future[Any]) -> None:
    """Wait for a side task (a sandbox opening) without raising: when another error is
    already on its way, this one is retrieved and dropped, never printed by asyncio."""
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


async def _all(aws: Any) -> list[Any]:
    """Run awaitables concurrently; the first error cancels the rest and is raised as is."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    if not tasks:
        return []
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)
        raise


def folded(node: Node, data: bytes) -> str:
    """``node``'s text with each child cut to its header (decorators, signature) and ``...``."""
    from astm.syntax import python as pysyntax

    text = data[node.start : node.end]
    for child in sorted(node.children, key=lambda c: c.start, reverse=True):
        own = data[child.start : child.end]
        head = own
        stack = [pysyntax.parse_tree(own).root_node]
        while stack:  # the first definition's body starts where its header ends
            n = stack.pop(0)
            if n.type in ("function_definition", "class_definition"):
                body = n.child_by_field_name("body")
                if body is not None:
                    cut = own.rfind(b"\n", 0, body.start_byte) + 1 or body.start_byte
                    indent = own[cut : body.start_byte] if own[cut : body.start_byte].isspace() else b"    "
                    head = own[:cut] + indent + b"...\n"
                break
            stack.extend(n.children)
        text = text[: child.start - node.start] + head + text[child.end - node.start :]
    return text.decode("utf-8", "replace")


def _first_line(data: bytes) -> str:
    """A child's one-line summary for its router: its signature or header, not a
    decorator or a comment above it."""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "@")):
            return line.strip()[:120]
    return ""


def _plain(data: bytes) -> str:
    return data.decode("utf-8").replace("\r\n", "\n")


def _plan_key(plan: Plan | None, c: Create, f: FileCtx) -> str:
    if plan is not None and c.ref is not None:
        edit = plan.edits[c.ref]
        if isinstance(edit, Insert):
            text = edit.text.encode("utf-8")
            body, imports = f.lang.requests(text)
            # Imports above a definition are a request, not the node: name it by its definition.
            found = f.lang.key_of(body if imports else text)
            if found:
                return found[1] if found[0] != "imports" else "(imports)"
    return c.key or "(new)"
