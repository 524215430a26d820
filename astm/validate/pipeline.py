"""The external validators of a run, in the sandbox: ruff, the kinds' commands, pyright.

One ``Pipeline`` a run. Its callers (leaves and routers, ``astm.agents``) say which file,
which text and which ranges; the pipeline decides what runs per the project's
``[tool.astm.validate]`` and keeps ruff's findings once per file content (the base file's
baseline is shared by every node of the file, and a class and its file often compose to the
same text).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from astm.validate.diagnostic import Diagnostic
from astm.validate.hands import Hand, Hands

if TYPE_CHECKING:
    from astm.config import ValidateSettings
    from astm.workspace.sandbox import Sandbox

Blocking = Callable[..., Awaitable[Any]]
Emit = Callable[..., None]


_UNDEFINED = re.compile(r"Undefined name `([^`]+)`")


class Pipeline:
    def __init__(self, conf: ValidateSettings, blocking: Blocking, emit: Emit) -> None:
        self.conf, self.blocking, self.emit = conf, blocking, emit
        self._ruff: dict[tuple[str, int, int], asyncio.Future[Any]] = {}
        self._roots: dict[object, list[str]] = {}  # ruff's src roots, by the sandboxes' fork
        # Per file, the names of definitions nodes asked for or proposed (agents.follow.expect).
        self.expected: dict[str, set[str]] = {}
        # Leaves holding answers: their ruff checks leave together (validate/hands.py).
        self.hands = Hands()

    def excuse(self, path: str, findings: list[Any] | None, kind: str) -> list[Any] | None:
        """ruff's findings without ``F821`` on names a node of ``path`` asked for, below the
        file. The file places them before it validates, so there nothing is excused."""
        expected = self.expected.get(path, set())
        if not findings or not expected or kind == "file":
            return findings
        out = []
        for x in findings:
            m = _UNDEFINED.search(x.message) if x.code == "F821" else None
            if m is None or m.group(1) not in expected:
                out.append(x)
        return out

    def uses_ruff(self, external: bool) -> bool:
        """Whether a file of a language with ``external`` validators gets a ruff baseline."""
        return external and self.conf.ruff

    def judges_ruff(self, kind: str, external: bool) -> bool:
        """Whether a node of ``kind`` (a language with ``external`` validators) runs ruff."""
        kind_conf = self.conf.kind(kind)
        return external and (kind_conf.ruff if kind_conf.ruff is not None else self.conf.ruff)

    async def external(
        self, path: str, base: bytes, sandbox: Sandbox, patched: bytes, old: tuple[int, int],
        new: tuple[int, int], *, external: bool, kind: str = "file", node: str = "", level: str = "node",
        lint: Callable[[], bytes | None] | None = None, hand: Hand | None = None, with_ruff: bool = True,
    ) -> Diagnostic | None:
        """Subprocess validators in the sandbox: ruff, then the kind's own commands.

        ``level="node"``: a leaf, judged on what is true of it alone (ruff's cross-node
        codes are left to its parent). ``level="parent"``: a router after composition,
        judged on every code; ``level="class"``: a class after composition, which leaves
        the cross-node codes to its file. A parent's ruff diagnostic carries the file's line.
        ``lint``: makes what ruff reads instead of ``patched`` (a leaf's ``Language.lint_view``:
        the same rows for the node's lines), unless the kind runs commands on the file
        (made only when ruff runs).
        ``hand``: the leaf's answer in hand, given back once its ruff check is asked.
        ``with_ruff=False``: ruff's findings on this text are judged above, after
        composition (a plan's leaf: ``agents.leaf.external_node``); the kind's commands run."""
        from astm.validate import commands, ruff

        kind_conf = self.conf.kind(kind)
        use_ruff = with_ruff and self.judges_ruff(kind, external)
        if not use_ruff and not kind_conf.commands:
            return None
        wanted = [p for c in kind_conf.commands for p in commands.named_paths(c)]
        await self.ruff_inputs(sandbox, wanted)
        view = lint() if lint is not None and use_ruff and not kind_conf.commands else None
        text = view if view is not None else patched
        await self.blocking(sandbox.write, path, text)
        if use_ruff:
            baseline = await self.baseline(path, base, sandbox)
            findings = self.ruff_on(path, sandbox, text, on_disk=True)
            if hand is not None:
                hand.done()
            after = self.excuse(path, await findings, kind)
            diag = ruff.check(sandbox.path, path, base, patched, old, new, baseline, after or [], level=level)
            if diag is not None:
                return diag
        first = patched.count(b"\n", 0, new[0]) + 1
        values = {
            "file": path, "node": node or path,
            "start_line": str(first), "end_line": str(first + patched.count(b"\n", new[0], max(new[0], new[1] - 1))),
        }
        for template in kind_conf.commands:
            diag = await self.blocking(commands.run, sandbox.path, template, values)
            if diag is not None:
                return diag
        return None

    async def typecheck(self, path: str, base: bytes, sandbox: Sandbox, composed: bytes) -> Diagnostic | None:
        """pyright/basedpyright on the composed file, when the project configures it."""
        from astm.validate import pyright

        mode = self.conf.pyright
        if mode == "off":
            return None
        await self.blocking(sandbox.materialise, list(pyright.CONFIG_FILES))
        if mode == "auto":
            pyproject = sandbox.path / "pyproject.toml"
            data = pyproject.read_bytes() if pyproject.is_file() else None
            if not pyright.configured(data, (sandbox.path / "pyrightconfig.json").is_file()):
                return None
        self.emit(path, "typecheck")
        return await self.blocking(
            pyright.check, sandbox.path, path, base, composed, (0, len(base)), (0, len(composed))
        )

    async def prefetch(self, path: str, base: bytes, box: asyncio.Future[Sandbox]) -> None:
        """The file's ruff baseline, computed while the model routes: off the critical path."""
        try:
            sandbox = await box
            # The file itself too: some rules look at it on disk (EXE001: its mode).
            await self.ruff_inputs(sandbox, [path])
            await self.ruff_on(path, sandbox, base)
        except Exception:  # noqa: BLE001 - the baseline is computed again where it is needed
            return

    async def ruff_inputs(self, sandbox: Sandbox, extra: tuple[str, ...] | list[str] = ()) -> None:
        """What ruff reads besides the file: the project's configuration and, where it
        configures ruff, its first-party packages under each ``src`` root (import sorting
        classifies ``import pkg`` by them: without them I001 flips)."""
        from astm.validate import ruff

        # A leaf's sandbox has them already from the leaf before it (agents/boxes.py): no
        # thread hop then (each one wakes the event loop, a few a leaf, 32 leaves a wave).
        if wanted := sandbox.missing([*ruff.CONFIG_FILES, *extra]):
            await self.blocking(sandbox.materialise, wanted)
        if sandbox.fork not in self._roots:  # the fork's configuration: read once a run
            self._roots[sandbox.fork] = ruff.src_roots(sandbox.path)
        roots = self._roots[sandbox.fork]
        if roots:
            known = sandbox.first_party_known(roots)
            parties = known if known is not None else await self.blocking(sandbox.first_party, roots)
            if wanted := sandbox.missing(parties):
                await self.blocking(sandbox.materialise, wanted)

    async def baseline(self, path: str, base: bytes, sandbox: Sandbox) -> Any:
        """ruff's findings on the file at base, computed once per run and file."""
        return await self.ruff_on(path, sandbox, base) or []

    def ruff_on(self, path: str, sandbox: Sandbox, data: bytes, *, on_disk: bool = False) -> asyncio.Future[Any]:
        """ruff's findings on ``data``, once per content. ``on_disk``: the caller has just
        written ``data`` to ``path`` in ``sandbox`` and leaves it there until the answer is
        in, so the check may share a ruff process with others (``ruff_batch``)."""
        from astm.validate import ruff

        # bytes cache their own hash: the base file (the same object for every node of the
        # file) is hashed once a run, not once a node (a 5,000-line file: 1 ms a time).
        key = (path, len(data), hash(data))
        if key not in self._ruff:
            if on_disk:
                self._ruff[key] = self.hands.request(sandbox.path, path, data)
            else:
                self._ruff[key] = asyncio.ensure_future(self.blocking(ruff.findings, sandbox.path, path, data))
        return self._ruff[key]
