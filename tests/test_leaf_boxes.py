"""A file's leaves take turns in a pool of at most ``jobs`` sandboxes (agents/boxes.py), and
lint a view of the file without the definitions they cannot involve (lang/python/lintview.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import Snapshot, git, make_repo

from astm.config import load
from astm.core.node import Node
from astm.core.patch import Patch
from astm.core.plan import Plan, Replace
from astm.engine.apply import ApplyOptions, apply
from astm.errors import AstmError
from astm.lang.python.lintview import lint_view
from astm.lang.python.syntax import parse
from astm.llm.plan_provider import PlanProvider
from astm.validate import ruff

N = 12


def function(i: int) -> str:
    return f'def f{i}(x):\n    """f{i}."""\n    total = x + {i}\n    return total\n'


SOURCE = "import os\n\n\n" + "\n\n".join(function(i) for i in range(N)) + "\n\nPATH = os.sep\n"


def test_twelve_leaves_of_one_file_share_jobs_sandboxes_and_each_commit_is_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": '[tool.astm]\njobs = 2\n', "big.py": SOURCE})
    before = Snapshot.take(repo)
    plan = Plan(intent="one more", edits=[
        Replace(op="replace", node=f"big.py::f{i}", text=function(i).replace("return total", "return total + 1"))
        for i in range(N)
    ])
    events: list[tuple[str, str]] = []
    result = apply(ApplyOptions(intent=plan.intent, cwd=repo, paths=("big.py",), plan=plan, branch="astm/more"),
                   load(repo, {}), PlanProvider(plan), on_event=lambda e: events.append((e.node, e.state)))
    assert result.branch == "astm/more"
    assert git(repo, "show", "astm/more:big.py").count("return total + 1") == N
    opened = [n for n, s in events if s == "sandbox"]
    # The file's and at most jobs = 2 for the twelve leaves; none at the root, which has
    # no tests to run (its overlay commit is made from the bytes).
    assert len(opened) <= 3, opened
    # Every leaf's commit is in the run's provenance: a parent of the file's overlay commit.
    leaves = [n for n in result.nodes if n.id.startswith("big.py::f")]
    assert len({n.commit for n in leaves}) == N and all(n.commit for n in leaves)
    run_ref = f"refs/astm/runs/{result.run}"
    reachable = set(git(repo, "rev-list", run_ref).split())
    assert {n.commit for n in leaves} <= reachable
    # Nothing left: every sandbox a lease made is gone.
    assert git(repo, "worktree", "list").count("\n") == 0
    before.assert_unchanged(repo, new_branch="astm/more")


def test_a_leaf_that_fails_leaves_its_sandbox_to_the_cleanup(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": '[tool.astm]\njobs = 1\n', "big.py": SOURCE})
    plan = Plan(intent="break one", edits=[
        Replace(op="replace", node="big.py::f0", text=function(0).replace("return total", "return total + 1")),
        Replace(op="replace", node="big.py::f1", text="def f1(x):\n    return (\n"),  # not Python
        Replace(op="replace", node="big.py::f2", text=function(2).replace("return total", "return total + 2")),
    ])
    with pytest.raises(AstmError):  # the plan cannot answer differently: final
        apply(ApplyOptions(intent=plan.intent, cwd=repo, paths=("big.py",), plan=plan, branch="astm/x"),
              load(repo, {}), PlanProvider(plan))
    assert not git(repo, "for-each-ref", "refs/heads/astm/tmp/")
    assert git(repo, "worktree", "list").count("\n") == 0


BASE = b'''"""Module."""

import os


@decorate
def first(x):
    return x == None


class Shop:
    """A shop."""

    def keep(self):
        unused = 1
        return os.sep

    def other(self):
        return 2


def last():
    return 3
'''


def _patch(base: bytes, qual: str, text: bytes) -> tuple[Patch, bytes]:
    node = parse("m.py", base).find(f"m.py::{qual}")
    assert node is not None
    patch = Patch("m.py", node.start, node.end, text, node.id)
    return patch, base[: node.start] + text + base[node.end :]


def test_the_view_blanks_what_the_node_cannot_involve_and_keeps_its_rows() -> None:
    text = b"    def keep(self):\n        unused = 2\n        return os.sep == None\n"
    patch, patched = _patch(BASE, "Shop.keep", text)
    view = lint_view(parse("m.py", BASE), BASE, [patch])
    assert view is not None
    assert view.count(b"\n") == patched.count(b"\n")  # every row where it was
    lines, full = view.split(b"\n"), patched.split(b"\n")
    kept = [i for i, ln in enumerate(lines) if ln.strip()]
    assert all(lines[i] == full[i] for i in kept)
    assert b"first" not in view and b"@decorate" not in view and b"def last" not in view
    assert b"def other" not in view
    assert b"import os" in view and b"class Shop:" in view and b'"""A shop."""' in view
    compile(view, "m.py", "exec")  # still Python


def test_the_view_keeps_a_class_a_patch_inserts_into_and_crlf() -> None:
    crlf = BASE.replace(b"\n", b"\r\n")
    node = parse("m.py", crlf).find("m.py::Shop")
    assert node is not None
    insert = Patch("m.py", node.end, node.end, b"\r\n    def new(self):\r\n        return 1\r\n", "m.py::Shop.new")
    view = lint_view(parse("m.py", crlf), crlf, [insert])
    assert view is not None
    assert b"class Shop" in view and b"def new" in view and b"def last" not in view
    assert b"\n" not in view.replace(b"\r\n", b"")  # blanks in the file's line ending


def test_rufs_node_level_findings_are_the_same_on_the_view(tmp_path: Path) -> None:
    if ruff.ruff_command() is None:
        pytest.skip("ruff is not installed")
    text = b"    def keep(self):\n        assert (os.sep, 1)\n        return os.sep is 'x'\n"
    patch, patched = _patch(BASE, "Shop.keep", text)
    view = lint_view(parse("m.py", BASE), BASE, [patch])
    assert view is not None
    start = patched.index(text)
    rows = range(patched.count(b"\n", 0, start) + 1, patched.count(b"\n", 0, start + len(text)) + 1)

    def local(data: bytes) -> list[tuple[str, int]]:
        found = ruff.findings(tmp_path, "m.py", data) or []
        return sorted((f.code, f.row) for f in found if f.row in rows and f.code not in ruff.CROSS_NODE)

    on_file = local(patched)
    assert {c for c, _ in on_file} == {"F631", "F632"}, on_file  # the node's own findings
    assert local(view) == on_file


class _Ctx:
    """What the pool reads of a run's context, opening real sandboxes in ``repo``."""

    def __init__(self, repo: Path, fail: bool = False) -> None:
        import itertools

        from astm.workspace.repo import Repo

        self.repo = Repo.open(repo)
        self.base = self.repo.repo.head.peel()
        self.run_id = "pooltest"
        self.counter = itertools.count(1)
        self.planned: list[Path] = []
        self.opened: list[object] = []
        self.fail = fail

    async def sandbox(self, fork: object, *, after: object = None) -> object:
        from astm.workspace.sandbox import open_sandbox, sandbox_root

        if self.fail:
            self.fail = False
            raise OSError("no space left")
        n = next(self.counter)
        self.planned.append(sandbox_root() / f"astm-{self.run_id}-{n}")
        box = open_sandbox(self.repo, self.run_id, n, fork)  # type: ignore[arg-type]
        self.opened.append(box)
        return box


def test_the_pool_hands_a_sandbox_on_and_never_hangs_after_a_loss(tmp_path: Path) -> None:
    import asyncio

    from astm.agents.boxes import LeafBoxes

    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    ctx = _Ctx(repo, fail=True)

    async def scenario() -> None:
        pool = LeafBoxes(ctx, 1)  # type: ignore[arg-type]
        with pytest.raises(OSError):
            await pool.lease()  # the open fails: the pool does not count it
        first = await pool.lease()
        waiting = asyncio.ensure_future(pool.lease())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # one sandbox at most, and it is out
        pool.give_back(first)
        second = await asyncio.wait_for(waiting, 5)
        assert second is first  # handed on as it is: a leaf commits on no branch
        pool.lost()  # its leaf broke off: the pool opens another for the next
        third = await asyncio.wait_for(pool.lease(), 5)
        assert third is not first

    try:
        asyncio.run(scenario())
    finally:
        for box in ctx.opened:
            box.close()  # type: ignore[attr-defined]
    assert len(ctx.opened) == 2
    assert "astm-" not in git(repo, "worktree", "list")


def _whole_walk(tree: Node, base: bytes, patches: list[Patch]) -> bytes | None:
    """The view as it was made before the skeleton: a walk of the whole file per leaf."""

    def uninvolved(node: Node) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for child in node.children:
            if child.kind not in ("function", "class"):
                continue
            touched = any(
                child.start <= s <= child.end if s == e else child.start < e and s < child.end
                for s, e in ((p.start, p.end) for p in patches)
            )
            if not touched:
                out.append((child.start, child.end))
            elif child.kind == "class":
                out += uninvolved(child)
        return out

    cuts = uninvolved(tree)
    if not cuts:
        return None
    eol = b"\r\n" if b"\r\n" in base else b"\n"
    edits = sorted([*((p.start, p.end, p.text) for p in patches),
                    *((s, e, eol * base[s:e].count(b"\n")) for s, e in cuts)])
    out, at = [], 0
    for start, end, text in edits:
        out += [base[at:start], text]
        at = end
    out.append(base[at:])
    return b"".join(out)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_the_kept_skeleton_gives_the_view_a_whole_walk_gives(eol: bytes) -> None:
    # Every way a leaf's patches can lie: in one function, over two, in a class's member,
    # an insert at a definition's edge or between statements, a top-level statement,
    # the file's first and last bytes; alone and together, on one file kept between calls.
    base = (BASE + b"\nX = 1\n\n\ndef tail():\n    return X\n").replace(b"\n", eol)
    tree = parse("m.py", base)
    nodes = [n for n in tree.walk() if not n.is_file]
    points = sorted({0, len(base), *(n.start for n in nodes), *(n.end for n in nodes)})
    rng = random.Random(7)
    cases: list[list[Patch]] = [[]]
    for n in nodes:
        cases.append([Patch("m.py", n.start, n.end, base[n.start : n.end].replace(b"return", b"return 0 +"), n.id)])
    for p in points:
        cases.append([Patch("m.py", p, p, b"Y = 2" + eol, "m.py::Y")])
    for _ in range(200):
        a, b = sorted(rng.sample(points, 2))
        c, d = sorted(rng.sample([q for q in points if q >= b] or [b], 1) * 2)
        one = Patch("m.py", a, b, b"Z = 3" + eol, "m.py::Z", 0)
        cases.append([one] if c < b or rng.random() < 0.5 else [one, Patch("m.py", c, d, b"W = 4" + eol, "m.py::W", 1)])
    for patches in cases:
        assert lint_view(tree, base, patches) == _whole_walk(tree, base, patches), patches
