"""The ruff checks of answers in hand leave together (``astm.validate.hands``): one ruff
process for a wave of leaves and their router's guess, never a wait for an answer still at
the model, never a hang. A plan's leaves leave ruff to their parent."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo

from astm.config import load
from astm.core.plan import Plan, Replace
from astm.engine.apply import ApplyOptions, apply
from astm.errors import AstmError
from astm.llm.plan_provider import PlanProvider
from astm.validate import hands, ruff, ruff_batch

openai_server = loopback.openai_server

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


FUNCTIONS = {f"f{i}": f"def f{i}(x):\n    return x + {i}\n" for i in range(3)}


@pytest.fixture
def ruff_runs(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[str]]:
    """The files of each ruff process that checked several, and the files checked alone."""
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
    return sizes, alone


def test_a_wave_of_model_answers_and_their_routers_guess_share_one_ruff_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: loopback.LoopbackServer,
    ruff_runs: tuple[list[int], list[str]], astm,  # type: ignore[no-untyped-def]
) -> None:
    repo = make_repo(tmp_path / "r", {"m.py": "\n\n".join(FUNCTIONS.values())})
    together = threading.Barrier(3, timeout=30)

    def respond(body: dict[str, Any]) -> str:
        text = json.dumps(body["messages"])
        if "Its children" in text:  # the file's route: its three functions act
            return json.dumps({"act": [{"id": f"m.py::{k}", "intent": "one more"} for k in FUNCTIONS]})
        name = re.search(r"Node: m\.py::(f\d)", text)
        assert name is not None
        together.wait()  # the three answers leave at once, as a model's wave comes back
        return FUNCTIONS[name.group(1)].replace("return x", "return 1 + x")

    openai_server.responder = respond
    monkeypatch.setenv("ASTM_MODEL", "loop-model")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    res = astm("apply", "every function returns one more", "m.py", "--model-jobs", "8", "--branch", "astm/more",
               cwd=repo)
    assert res.code == 0, res.err
    assert git(repo, "show", "astm/more:m.py").count("return 1 + x") == 3
    sizes, alone = ruff_runs
    # The file's baseline alone (on stdin, while the model routes); then the three
    # leaves' texts and the file's composed text in one process, which the file's own
    # check then finds done.
    assert alone == ["m.py"], alone
    assert sizes == [4], sizes


def test_a_plans_leaves_leave_ruff_to_their_file(tmp_path: Path, ruff_runs: tuple[list[int], list[str]]) -> None:
    # A plan cannot answer differently: its leaves' ruff checks would only fail it sooner.
    repo = make_repo(tmp_path / "r", {"m.py": "\n\n".join(FUNCTIONS.values())})
    plan = Plan(intent="one more", edits=[
        Replace(op="replace", node=f"m.py::{k}", text=v.replace("return x", "return 1 + x"))
        for k, v in FUNCTIONS.items()
    ])
    result = apply(ApplyOptions(intent=plan.intent, cwd=repo, paths=("m.py",), plan=plan, branch="astm/more"),
                   load(repo, {}), PlanProvider(plan))
    assert result.branch == "astm/more"
    assert git(repo, "show", "astm/more:m.py").count("return 1 + x") == 3
    sizes, alone = ruff_runs
    assert alone == ["m.py", "m.py"] and sizes == [], (alone, sizes)  # the baseline; the composed file
    # ... and a finding on a leaf's lines still fails the plan, naming the node and its line.
    bad = Plan(intent="compare", edits=[Replace(op="replace", node="m.py::f1", text='def f1(x):\n    return x is "a"\n')])
    with pytest.raises(AstmError, match=r"m\.py::f1: line 2: ruff F632"):
        apply(ApplyOptions(intent=bad.intent, cwd=repo, paths=("m.py",), plan=bad, branch="astm/bad"),
              load(repo, {}), PlanProvider(bad))
