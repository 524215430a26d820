"""The ruff checks of answers in hand leave together (``astm.validate.hands``): one ruff
process for a wave of leaves and their router's guess, never a wait for an answer still at
the model, never a hang."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import git, make_repo

from astm.config import load
from astm.core.plan import Plan, Replace
from astm.engine.apply import ApplyOptions, apply
from astm.llm.plan_provider import PlanProvider
from astm.validate import hands, ruff, ruff_batch

CLEAN = b"def f(x):\n    return x + 1\n"
UNDEFINED = b"def f(x):\n    return y + 1\n"


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many requests each send to ``ruff_batch`` carried (a spy: ruff still runs)."""
    sizes: list[int] = []
    real = ruff_batch.findings_many

    def counted(items):  # type: ignore[no-untyped-def]
        sizes.append(len(items))
        return real(items)

    monkeypatch.setattr(ruff_batch, "findings_many", counted)
    return sizes


def written(root: Path, name: str, data: bytes) -> Path:
    box = root / name
    box.mkdir()
    (box / "m.py").write_bytes(data)
    return box


def test_requests_wait_for_the_hands_out_and_go_in_one_send(tmp_path: Path, sends: list[int]) -> None:
    async def main() -> list[object]:
        h = hands.Hands()
        first, second = h.take(), h.take()
        a = h.request(written(tmp_path, "a", CLEAN), "m.py", CLEAN)
        first.done()
        await asyncio.sleep(0.05)
        assert not a.done() and sends == []  # the second answer in hand is still on its way
        b = h.request(written(tmp_path, "b", UNDEFINED), "m.py", UNDEFINED)
        second.done()
        return list(await asyncio.gather(a, b))

    got = asyncio.run(main())
    assert sends == [2]
    assert got[0] == [] and [f.code for f in got[1]] == ["F821"]  # type: ignore[union-attr]


def test_with_no_hand_out_a_request_goes_at_once(tmp_path: Path, sends: list[int]) -> None:
    async def main() -> object:
        return await hands.Hands().request(written(tmp_path, "a", UNDEFINED), "m.py", UNDEFINED)

    got = asyncio.run(main())
    assert sends == [1] and [f.code for f in got] == ["F821"]  # type: ignore[attr-defined]


def test_a_hand_given_back_twice_counts_once(tmp_path: Path, sends: list[int]) -> None:
    async def main() -> None:
        h = hands.Hands()
        mine, other = h.take(), h.take()
        fut = h.request(written(tmp_path, "a", CLEAN), "m.py", CLEAN)
        mine.done()
        mine.done()
        await asyncio.sleep(0.05)
        assert not fut.done() and h.out == 1  # the other answer is still in hand
        other.done()
        assert await fut == []

    asyncio.run(main())
    assert sends == [1]


def test_a_hand_never_given_back_delays_but_does_not_hang(
    tmp_path: Path, sends: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hands, "HOLD_MAX", 0.1)

    async def main() -> object:
        h = hands.Hands()
        h.take()  # kept: a bug
        return await asyncio.wait_for(h.request(written(tmp_path, "a", CLEAN), "m.py", CLEAN), 30)

    assert asyncio.run(main()) == []
    assert sends == [1]


def test_a_wave_of_leaves_and_their_routers_guess_share_one_ruff_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = {f"f{i}": f"def f{i}(x):\n    return x + {i}\n" for i in range(3)}
    repo = make_repo(tmp_path / "r", {"m.py": "\n\n".join(functions.values())})
    sizes: list[int] = []
    alone: list[str] = []
    real_files, real_findings = ruff.run_files, ruff.findings

    def files(cwd, named, cmd, extra=()):  # type: ignore[no-untyped-def]
        sizes.append(len(named))
        return real_files(cwd, named, cmd, extra)

    def findings(cwd, relpath, data):  # type: ignore[no-untyped-def]
        alone.append(relpath)
        return real_findings(cwd, relpath, data)

    monkeypatch.setattr(ruff, "run_files", files)
    monkeypatch.setattr(ruff, "findings", findings)
    plan = Plan(intent="one more", edits=[
        Replace(op="replace", node=f"m.py::{k}", text=v.replace("return x", "return 1 + x"))
        for k, v in functions.items()
    ])
    result = apply(ApplyOptions(intent=plan.intent, cwd=repo, paths=("m.py",), plan=plan, branch="astm/more"),
                   load(repo, {}), PlanProvider(plan))
    assert result.branch == "astm/more"
    assert git(repo, "show", "astm/more:m.py").count("return 1 + x") == 3
    # The file's baseline alone (on stdin, while the route is made); then the three
    # leaves' texts and the file's composed text in one process, which the file's own
    # check then finds done.
    assert alone == ["m.py"], alone
    assert sizes == [4], sizes
