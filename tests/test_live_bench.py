"""bench/live.py without a model: its tasks are well-formed and every check is honest.

Each task's check must pass on the hand-written solution (bench/live/solutions/<task>/,
overlaid on the project) and fail on the unchanged project, so a bench figure means what it
says. The counting proxy and the whole-file arm run against the loopback server.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_live():
    spec = importlib.util.spec_from_file_location("bench_live", ROOT / "bench" / "live.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_live"] = module
    spec.loader.exec_module(module)
    return module


live = _load_live()
TASKS = live.load_tasks()


def test_at_least_ten_tasks_over_two_projects():
    assert len(TASKS) >= 10
    assert len({t.project for t in TASKS}) >= 2
    assert any(len(t.files) == 2 for t in TASKS)
    assert any(f.endswith(".toml") for t in TASKS for f in t.files)


def test_every_task_has_a_solution_touching_only_its_files():
    for task in TASKS:
        # Caches a tool may drop there (.ruff_cache, __pycache__) are not part of it.
        rels = (p.relative_to(task.solution_dir) for p in task.solution_dir.rglob("*"))
        changed = sorted(str(r) for r in rels if (task.solution_dir / r).is_file()
                         and not any(part.startswith((".", "__pycache__")) for part in r.parts))
        assert changed == sorted(task.files), task.name


def test_load_tasks_refuses_a_bad_entry(tmp_path: Path):
    bad = tmp_path / "tasks.toml"
    bad.write_text('[[task]]\nname = "x"\nproject = "textkit"\nintent = "do"\n'
                   'files = ["nope.py"]\ncheck = "checks/test_add_method.py"\n')
    with pytest.raises(ValueError, match="no file nope.py"):
        live.load_tasks(bad)
    bad.write_text('[[task]]\nname = "x"\nproject = "textkit"\nintent = "do"\n'
                   'files = ["pyproject.toml"]\ncheck = "checks/test_add_method.py"\nfoo = 1\n')
    with pytest.raises(ValueError, match="unknown keys"):
        live.load_tasks(bad)


@pytest.mark.parametrize("task", TASKS, ids=[t.name for t in TASKS])
def test_check_fails_unchanged_and_passes_solution(task, tmp_path: Path):
    unchanged = live.copy_project(task, tmp_path / "unchanged")
    before = live.run_check(task, unchanged)
    assert not before.passed, f"{task.name}: the check passes without any change"

    solved = live.copy_project(task, tmp_path / "solved")
    shutil.copytree(task.solution_dir, solved, dirs_exist_ok=True)
    after = live.run_check(task, solved)
    assert after.passed, f"{task.name}: {after.detail}"


def test_strip_fences():
    assert live.strip_fences("Here:\n```python\nx = 1\n```\nDone.") == "x = 1\n"
    assert live.strip_fences("```toml\n[a]\nb = 1\n```") == "[a]\nb = 1\n"
    assert live.strip_fences("x = 1") == "x = 1\n"
    assert live.strip_fences("```\ncut off") == "cut off\n"


def _serve_solution(task):
    """A responder that answers each whole-file prompt with the solution, in prose and fences."""

    def respond(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        path = prompt.split("Here is the current content of `", 1)[1].split("`", 1)[0]
        text = (task.solution_dir / path).read_text(encoding="utf-8")
        return f"Sure, here is the new file:\n\n```python\n{text}```\n\nThat is all."

    return respond


def test_whole_arm_counts_calls_and_tokens_through_the_proxy(tmp_path: Path):
    from openai_server import LoopbackServer

    task = next(t for t in TASKS if len(t.files) == 2)
    server = LoopbackServer()
    server.responder = _serve_solution(task)
    proxy = live.serve.CountingProxy(server.base_url.removesuffix("/v1"))
    try:
        result = live.whole_arm(task, tmp_path, "m", proxy.url, None, 30)
        tally = proxy.reset()
    finally:
        proxy.close()
        server.close()
    assert result.passed, result.detail
    assert (tally.calls, tally.prompt, tally.completion, tally.failed) == (2, 22, 14, 0)
    sent = [r.body for r in server.requests]
    assert [s["messages"][-1]["content"].count(f) > 0 for s, f in zip(sent, task.files)] == [True, True]
    assert all("temperature" not in s for s in sent)  # as astm: the server's default


def test_whole_arm_reports_a_model_error(tmp_path: Path):
    from openai_server import LoopbackServer

    task = TASKS[0]
    server = LoopbackServer()
    server.enqueue(status=500, error={"message": "boom", "type": "server_error"})
    proxy = live.serve.CountingProxy(server.base_url.removesuffix("/v1"))
    try:
        result = live.whole_arm(task, tmp_path, "m", proxy.url, 0.0, 30)
        tally = proxy.reset()
    finally:
        proxy.close()
        server.close()
    assert not result.passed and result.detail.startswith("model error: InternalServerError")
    assert (tally.calls, tally.failed) == (1, 1)


def test_astm_arm_records_what_astm_said(tmp_path: Path):
    from openai_server import LoopbackServer

    task = next(t for t in TASKS if t.name == "add-method")
    server = LoopbackServer()
    server.responder = lambda body: "I cannot help with that."
    proxy = live.serve.CountingProxy(server.base_url.removesuffix("/v1"))
    try:
        result = live.astm_arm(task, tmp_path, "m", proxy.url, ["--retries", "0"], 120)
        tally = proxy.reset()
    finally:
        proxy.close()
        server.close()
    assert result.landed is False and not result.passed
    assert result.exit_code not in (0, None)
    assert result.detail.startswith(f"not landed (exit {result.exit_code}): ")
    assert result.raw["json"]["error"] in result.detail
    assert tally.calls >= 1
    notes = tmp_path / "failures.md"
    live.report.record_astm_failure(notes, "test", result)
    assert "## add-method (test," in notes.read_text()
