"""One stale module, built as a node tree: one agent per spec, then the module.

Each spec that needs the model is one agent in its own sandbox: it asks the provider,
absorbs the answer (``answer.take_definition``), checks it at node level, retries with
the problem as a hint, and commits its definition alone. The module composes its specs'
definitions (regenerated or kept) under one import block and the ``# astm:`` header,
validates the whole (``checks``), sends a failure back to the spec that owns the failing
line as a hint, and commits the module as an overlay of its specs' commits.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from astm import __version__
from astm.errors import ValidationFailed
from astm.specs import checks
from astm.specs.answer import Definition, definitions_in, take_definition
from astm.specs.context import render
from astm.specs.deps import Graph
from astm.specs.digest import body_digest
from astm.specs.discover import Spec
from astm.specs.engine_bridge import (
    BuildRun,
    GenerateRequest,
    Sandbox,
    commit_detached,
    normalise,
    settle,
)
from astm.specs.header import split
from astm.specs.prompting import Prompt, request_template
from astm.specs.spares import Spares
from astm.specs.stale import ModuleState
from astm.specs.warm_import import WarmImporter
from astm.validate.diagnostic import Diagnostic

if TYPE_CHECKING:
    import pygit2

    from astm.llm.base import Provider
    from astm.specs.config import BuildConfig
    from astm.specs.source import Source


@dataclass
class Shared:
    """What every module of one build shares."""

    graph: Graph
    conf: BuildConfig
    source: Source
    prompts: dict[str, Prompt]
    by_module: dict[str, str]
    refs: list[str]  # spec refs in the order GenerateRequest.ref numbers them
    files: list[str]  # the build's input files to materialise for the import check
    write_mode: bool
    python: str
    typecheck: bool = False  # pyright where the project configures it
    importer: WarmImporter | None = None  # the import checks' warm interpreter
    client: asyncio.Future[Provider] | None = None  # the model client being built (warm.py)
    texts: dict[str, bytes] = field(default_factory=dict)  # module -> body made by this build
    known: dict[str, bytes] = field(default_factory=dict)  # module -> newest body (context)
    answers: dict[str, str] = field(default_factory=dict)  # spec ref -> accepted answer
    calls: int = 0
    spares: Spares = field(default_factory=Spares)  # finished modules' sandboxes (spares.py)


@dataclass
class Built:
    state: ModuleState
    data: bytes  # the whole generated file
    commit: pygit2.Oid | None


def merge_imports(imports: list[str]) -> list[str]:
    """One statement per imported module: ``from m import a`` and ``from m import a, b``
    become ``from m import a, b`` (two answers each importing a name must not redefine
    it); ``__future__`` first; order of first appearance otherwise."""
    froms: dict[tuple[str, int], dict[str, None]] = {}
    plain: dict[str, None] = {}
    order: list[tuple[str, int] | str] = []
    for text in imports:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                key = (node.module or "", node.level)
                if key not in froms:
                    froms[key] = {}
                    order.append(key)
                for a in node.names:
                    froms[key][a.name + (f" as {a.asname}" if a.asname else "")] = None
            elif isinstance(node, ast.Import):
                for a in node.names:
                    line = f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
                    if line not in plain:
                        plain[line] = None
                        order.append(line)
    out = []
    for item in order:
        if isinstance(item, str):
            out.append(item)
        else:
            module, level = item
            out.append(f"from {'.' * level}{module} import {', '.join(froms[item])}")
    return sorted(out, key=lambda x: not x.startswith("from __future__"))


# One import of one name (``import a.b``, ``from a.b import c``): isort leaves it as it is.
_ONE_IMPORT = re.compile(r"(import [\w.]+|from \.*[\w.]* import \w+)")


def already_sorted(block: str) -> bool:
    """Whether ruff's isort would leave ``block`` as it is, known without running it: a
    single import of a single name, shorter than any line limit wraps (the common block
    of a module whose specs call one dependency; a ruff run per module saved). As for a
    module with no import at all, isort's ``required-imports`` are not added to it."""
    return len(block) <= 79 and _ONE_IMPORT.fullmatch(block) is not None


def compose(imports: list[str], defs: list[str], block: str | None = None) -> bytes:
    """The module body: one import block (``block``, else the merged ``imports``), then the
    definitions, two blank lines apart."""
    block = "\n".join(merge_imports(imports)) if block is None else block
    body = "\n\n\n".join(defs)
    text = f"{block}\n\n\n{body}\n" if block else f"{body}\n"
    return text.encode("utf-8")


def def_spans(block: str, defs: list[str]) -> list[tuple[int, int]]:
    """The 1-based line range of each definition in ``compose([], defs, block)``."""
    line = block.count("\n") + 4 if block else 1
    out = []
    for text in defs:
        n = text.count("\n")
        out.append((line, line + n))
        line += n + 3
    return out


def with_header(st: ModuleState, body: bytes) -> bytes:
    h = st.expected
    h.body = body_digest(body)
    return h.render(__version__).encode("utf-8") + body


async def _no_wait() -> None:
    return None


class ModuleBuilder:
    """``drafted(body)`` is told the module's first composed body (before validation: what
    its dependents' prompts show); ``ready()`` is awaited before the module validates (its
    dependencies' final modules must be in place for the import check)."""

    def __init__(self, run: BuildRun, shared: Shared, st: ModuleState, *,
                 drafted: Callable[[bytes], None] | None = None,
                 ready: Callable[[], Awaitable[None]] = _no_wait) -> None:
        self.run, self.shared, self.st, self.m = run, shared, st, st.module
        self.defs: dict[str, Definition] = {}
        self.commits: list[pygit2.Oid] = []
        self.box: asyncio.Future[Sandbox] | None = None
        self.answered = asyncio.Event()  # a spec of the module has its answer
        self.drafted, self.ready = drafted, ready
        self.finishing = False  # its answers are in (Spares.finishing counts it)

    def prefetch(self) -> asyncio.Future[Sandbox]:
        """Open the module's sandbox and write the build's input into it, off the
        critical path: while the model answers its specs."""
        if self.box is None:
            self.box = asyncio.ensure_future(self._open())
        return self.box

    async def _open(self) -> Sandbox:
        # A finished module's sandbox has the input already (spares.py).
        spare = await self.shared.spares.take(self.answered)
        if spare is not None:
            return spare
        # Once the module's requests are out (or its first answer is in, whichever comes
        # first), not before: its writes (every input file of the build) ran in threads
        # beside the requests' sending and held each level's requests back (a build of
        # 20 modules in 4 levels: 0.1 s).
        box = await self.run.sandbox(self.run.base.id, after=self.answered)
        await self.run.blocking(self.write_input, box)
        return box

    async def build(self) -> Built:
        box = self.prefetch()
        try:
            out = await self._build(box)
        except BaseException:
            await settle(box)
            if self.finishing:  # no spare: its sandbox goes with the run's clean-up
                self.shared.spares.done(None)
            raise
        await settle(box)
        if self.finishing:  # its sandbox serves a later module (spares.py)
            self.shared.spares.done(box.result())
        return out

    def _kept(self) -> tuple[dict[str, str], tuple[str, ...]]:
        if self.st.existing is None or self.st.edited:
            return {}, ()
        return definitions_in(split(self.st.existing)[1])

    async def _build(self, box: asyncio.Future[Sandbox]) -> Built:
        old_defs, old_imports = self._kept()
        todo = {s.ref for s in self.m.specs
                if s.ref in self.st.regenerate or s.name not in old_defs}
        hints: dict[str, str] = {}
        retries = self.run.settings.retries
        for round_ in range(retries + 1):
            specs = [s for s in self.m.specs if s.ref in todo]
            got = await asyncio.gather(*(self.agent(s, hints.get(s.ref, "")) for s in specs))
            if not self.finishing:
                self.finishing = True
                self.shared.spares.started_finishing()
            failed = [(s, d) for s, d in zip(specs, got, strict=True) if d is not None]
            if failed:
                s, d = failed[0]
                raise ValidationFailed(str(d), node=f"{self.m.generated_path}::{s.name}")
            keep_old = any(s.name in old_defs and s.ref not in self.defs for s in self.m.specs)
            imports: list[str] = list(old_imports) if keep_old else []
            texts = []
            for s in self.m.specs:
                d = self.defs.get(s.ref)
                imports += d.imports if d is not None else ()
                texts.append(d.text if d is not None else old_defs[s.name])
            if self.drafted is not None:
                # Dependents generate from this draft (its imports not yet in isort order)
                # while it validates; it validates once the modules it imports are final
                # (ready), and fails with them.
                self.drafted(compose(imports, texts))
            sandbox = await box
            block = await self.import_block(sandbox, imports)
            body = compose([], texts, block)
            await self.ready()
            await self.run.blocking(self.write_new, sandbox)
            first = self.st.expected.render(__version__).count("\n") + 1
            spans = [(s, first + a - 1, first + b - 1)
                     for s, (a, b) in zip(self.m.specs, def_spans(block, texts), strict=True)]
            data = with_header(self.st, body)
            self.run.emit(self.m.generated_path, "validating", round_ + 1)
            async with self.run.sem:  # a CPU slot (``jobs``): the validators' subprocesses
                problem = await self.validate(await box, data)
            if problem is None:
                commit = None
                if not self.shared.write_mode:  # --write lands no commit: make none
                    sandbox = await box
                    commit = await self.run.blocking(
                        sandbox.commit, {self.m.generated_path: data},
                        f"astm build {self.m.module}", tuple(self.commits))
                self.run.emit(self.m.generated_path, "committed", round_ + 1)
                return Built(self.st, data, commit)
            owner = [s for s, a, b in spans if problem.line is not None and a <= problem.line <= b]
            blamed = owner or [s for s in self.m.specs if s.ref in todo] or list(self.m.specs)
            if round_ >= retries:
                where = f"{self.m.generated_path}::{blamed[0].name}" if owner else self.m.generated_path
                raise ValidationFailed(str(problem.diagnostic), node=where)
            todo = {s.ref for s in blamed}
            hints = {s.ref: f"in the composed module: {problem.diagnostic.hint()}" for s in blamed}
            self.run.emit(self.m.generated_path, "retry", round_ + 1, problem.diagnostic.hint())
        raise AssertionError("unreachable")

    async def import_block(self, box: Sandbox, imports: list[str]) -> str:
        """The merged imports, in the project's isort order when ruff is on. Only ruff runs
        on the pool: ``ast`` stays on the event loop's thread, because CPython 3.11's AST
        conversion is not thread-safe (two threads parsing at once can raise SystemError:
        "AST constructor recursion depth mismatch", cpython gh-106905)."""
        block = "\n".join(merge_imports(imports))
        if not block or not self.shared.conf.ruff or already_sorted(block):
            return block
        from astm.validate import ruff

        done = await self.run.blocking(ruff.sort_imports, box.path, self.m.generated_path, None,
                                       (block + "\n").encode())
        text = done.decode("utf-8", "replace").strip("\n")
        try:
            ast.parse(text)
        except SyntaxError:
            return block
        return text

    async def validate(self, box: Sandbox, data: bytes) -> checks.ModuleProblem | None:
        problem = checks.static_problem(self.m, data)
        if problem is not None:
            return problem
        await self.run.blocking(box.write, self.m.generated_path, data)
        roots = self.shared.conf.source_roots + self.shared.conf.test_roots
        # ruff and the import check are independent subprocesses: run them side by side.
        imported = asyncio.ensure_future(self.run.blocking(
            checks.import_problem, self.shared.python, box.path, self.m, roots,
            self.shared.conf.generated, self.shared.importer))
        if self.shared.conf.ruff:
            linted = await self.run.blocking(checks.ruff_problem, box.path, self.m, data)
            if linted is not None:
                await imported
                return linted
        problem = await imported
        if problem is None and self.shared.typecheck:
            problem = await self.run.blocking(checks.type_problem, box.path, self.m, data)
        return problem

    def write_input(self, box: Sandbox) -> None:
        """The build's input files (sources, configuration, existing generated files)."""
        wanted = [*self.shared.files, "pyproject.toml", "ruff.toml", ".ruff.toml",
                  "pyrightconfig.json"]
        if self.shared.write_mode:
            for p in wanted:
                data = self.shared.source.read(p)
                if data is not None:
                    box.write(p, data)
        else:
            box.materialise(wanted)

    def write_new(self, box: Sandbox) -> None:
        """The modules this build has generated so far (its dependencies among them)."""
        for module, text in list(self.shared.texts.items()):
            box.write(self.shared.graph.modules[module].generated_path, text)

    async def agent(self, spec: Spec, hint: str) -> Diagnostic | None:
        """One spec: ask, absorb, check, retry; commit its definition (no sandbox: the
        commit is made from a tree, and nothing validates a lone definition on disk)."""
        nid = f"{self.m.generated_path}::{spec.name}"
        prompt = render(self.shared.prompts[spec.role], spec, self.m, self.shared.graph,
                        self.shared.source, self.shared.by_module, self.shared.known)
        index = self.shared.refs.index(spec.ref) if spec.ref in self.shared.refs else None
        settings = self.run.settings
        # No CPU slot (``jobs``) is held while the model works: the provider bounds the
        # requests in flight (``model_jobs``); the module's validation takes a slot.
        diag: Diagnostic | None = None
        attempt = 0
        for attempt in range(1, settings.retries + 2):
            self.run.emit(nid, "generating", attempt)
            req = GenerateRequest(
                intent=prompt, node_id=nid, node_kind=spec.kind, language="python",
                key=spec.name, text="", context="", hint=hint, attempt=attempt,
                ref=index, prompt=request_template(),
            )
            if self.shared.client is not None:
                # Wait for the model client off the event loop (``WarmProvider.resolve``
                # would block it): the other specs' prompts and the sandboxes go on.
                await self.shared.client
            answer, usage = await self.run.provider.generate(req)
            self.answered.set()
            self.shared.calls += 1
            self.run.add_usage(usage)
            text, diag = normalise(answer, eol=b"\n", max_bytes=settings.max_answer_bytes)
            definition = None
            if diag is None:
                definition, diag = take_definition(text, spec, self.shared.conf.generated)
            if definition is not None:
                self.defs[spec.ref] = definition
                break
            assert diag is not None
            hint = diag.hint()
            if attempt <= settings.retries:
                self.run.emit(nid, "retry", attempt, hint)
        if diag is not None:
            self.run.emit(nid, "failed", settings.retries + 1, str(diag))
            return diag
        d = self.defs[spec.ref]
        node_text = compose(list(d.imports), [d.text])
        self.shared.answers[spec.ref] = node_text.decode("utf-8")
        if not self.shared.write_mode:  # provenance: the module's commit is their overlay
            commit = await self.run.blocking(
                commit_detached, self.run.repo, self.run.base.id,
                {self.m.generated_path: node_text}, f"astm spec {spec.ref}")
            self.commits.append(commit)
        self.run.emit(nid, "committed", attempt)
        return None
