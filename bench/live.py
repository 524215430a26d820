"""Real-model bench (issue 10): astm against a whole-file edit, same model, same checks.

Each task of bench/live/tasks.toml is a small project, an intent and a check (a pytest file
run with the project's own tests on the changed project). Two arms per task:

- astm: the project as a fresh git repository; `astm apply INTENT --json` as a user types
  it (no PATHS), with ASTM_MODEL and ASTM_BASE_URL pointing at the local server; the landed
  branch's tree is checked.
- whole: for each file the task concerns (the file list is given to this arm only, which is
  the generous assumption), one call "here is the file and the intent, return the whole new
  file"; the answers (fences stripped) are written and checked.
- aider (`--arm aider`): Aider 0.86.2 in its `whole` format on the task's files, once, as
  the issue measured it (bench/live/aider_arm.py; `--setup` installs it in its own venv).

Both arms reach the model through a counting proxy, so calls and tokens are counted the
same way (astm's own `--json` token count is shown beside it). The server
(`llama_cpp.server`, one slot) is restarted after an arm that left a request running, so
no abandoned generation slows the next arm. See docs/bench-live.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LIVE = BENCH / "live"
# Appended, not prepended: importing this file from the tests must shadow nothing.
sys.path += [p for p in (str(BENCH), str(LIVE)) if p not in sys.path]

import aider_arm  # bench/live/aider_arm.py
import report  # bench/live/report.py
import serve  # bench/live/serve.py
from _common import GIT_ENV, git

TASKS_FILE = LIVE / "tasks.toml"
NOTES = Path("/work/notes")


@dataclass(frozen=True)
class Task:
    name: str
    project: str
    intent: str
    files: tuple[str, ...]
    check: str
    set: str = "tuned"  # "heldout": written after the tuning, never used for it

    @property
    def project_dir(self) -> Path:
        return LIVE / "projects" / self.project

    @property
    def check_file(self) -> Path:
        return LIVE / self.check

    @property
    def solution_dir(self) -> Path:
        return LIVE / "solutions" / self.name


def load_tasks(path: Path = TASKS_FILE) -> list[Task]:
    """The tasks, checked for shape: unique names, existing projects, files and checks."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    tasks: list[Task] = []
    for entry in raw.get("task", []):
        extra = set(entry) - {"name", "project", "intent", "files", "check", "set"}
        if extra:
            raise ValueError(f"{path.name}: task {entry.get('name')!r} has unknown keys {extra}")
        task = Task(entry["name"], entry["project"], entry["intent"].strip(),
                    tuple(entry["files"]), entry["check"], entry.get("set", "tuned"))
        if task.set not in ("tuned", "heldout"):
            raise ValueError(f"{path.name}: task {task.name}: set is 'tuned' or 'heldout'")
        if not re.fullmatch(r"[a-z0-9-]+", task.name):
            raise ValueError(f"{path.name}: bad task name {task.name!r}")
        if not task.intent or not task.files:
            raise ValueError(f"{path.name}: task {task.name} needs an intent and files")
        if not task.project_dir.is_dir() or not task.check_file.is_file():
            raise ValueError(f"{path.name}: task {task.name}: no project or check file")
        for rel in task.files:
            if not (task.project_dir / rel).is_file():
                raise ValueError(f"{path.name}: task {task.name}: no file {rel}")
        tasks.append(task)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: duplicate task names")
    return tasks


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    detail: str  # pytest's summary line, or its first failure


def run_check(task: Task, project: Path, timeout: float = 300) -> CheckResult:
    """The task's check plus the project's own tests, on PROJECT (a changed copy)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           f"--rootdir={project}", "tests", str(task.check_file)]
    # No plugin autoload: the checks need none, and a project's addopts are cleared anyway.
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    try:
        proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return CheckResult(False, f"check timed out after {timeout:.0f}s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    failures = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    summary = lines[-1] if lines else proc.stderr.strip()[-200:]
    return CheckResult(proc.returncode == 0, failures[0] if failures else summary)


def copy_project(task: Task, dest: Path) -> Path:
    shutil.copytree(task.project_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@dataclass
class ArmResult:
    task: str
    arm: str
    passed: bool = False
    landed: bool | None = None  # astm only
    calls: int = 0
    tokens: int = 0  # prompt + completion, as the server reported them (proxy)
    tokens_reported: int | None = None  # astm only: its own --json count
    wall: float = 0.0
    detail: str = ""  # the check's line, or astm's error
    exit_code: int | None = None
    server_restarted: bool = False
    raw: dict = field(default_factory=dict)


def astm_arm(task: Task, work: Path, model: str, base_url: str, extra: list[str],
             timeout: float, settings: Sequence[str] = ()) -> ArmResult:
    """`astm apply INTENT --json` on a fresh repository of the project; check the branch.

    SETTINGS (`key = toml-value` lines) go into a `[tool.astm]` table of the working tree's
    pyproject.toml only, uncommitted: astm reads its settings there, while the base commit,
    which the model sees and edits, stays as it was.
    """
    repo = copy_project(task, work / "repo")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    if settings:
        with (repo / "pyproject.toml").open("a", encoding="utf-8") as f:
            f.write("\n[tool.astm]\n" + "\n".join(settings) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTM_", "OPENAI_"))}
    env.update(GIT_ENV)
    env.update({"ASTM_MODEL": model, "ASTM_BASE_URL": base_url})
    # astm's sandboxes go under WORK, so whatever a killed run leaves goes with it.
    (work / "tmp").mkdir()
    env["TMPDIR"] = str(work / "tmp")
    cmd = [sys.executable, "-m", "astm", "apply", task.intent, "--json", *extra]
    result = ArmResult(task.name, "astm")
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        code = None
        stderr += f"\n(bench: astm killed after {timeout:.0f}s)"
    result.wall = time.monotonic() - start
    result.exit_code = code
    try:
        out = json.loads(stdout)
    except ValueError:
        out = {}
    result.raw = {"cmd": cmd[2:], "exit": code, "json": out, "stderr": stderr[-4000:]}
    tokens = out.get("tokens") or {}
    if tokens:
        result.tokens_reported = int(tokens.get("prompt", 0)) + int(tokens.get("completion", 0))
    branch = out.get("branch")
    result.landed = bool(branch) and code == 0
    if not result.landed:
        err = out.get("error") or (stderr.strip().splitlines() or ["(no output)"])[-1]
        result.detail = f"not landed (exit {code}): {err}"
        return result
    tree = work / "landed"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", str(branch)], cwd=repo,
                             env={**os.environ, **GIT_ENV}, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    result.raw["diff"] = git(repo, "diff", "main", str(branch))
    check = run_check(task, tree)
    result.passed, result.detail = check.passed, check.detail
    return result


WHOLE_SYSTEM = ("You are an expert Python developer. You change files exactly as asked and "
                "keep everything else in them as it is.")

WHOLE_PROMPT = """Change request: {intent}

This change concerns these files of the project: {files}.
Here is the current content of `{path}`:

```{lang}
{text}```

Return the complete new content of `{path}` with the change applied (unchanged if this file \
needs no change), as one fenced code block and nothing else."""

FENCE = re.compile(r"```[\w.+-]*[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL)


def strip_fences(answer: str) -> str:
    """The first fenced block of ANSWER, else the answer itself; one final newline."""
    m = FENCE.search(answer)
    text = m.group(1) if m else answer
    return text.rstrip("\n") + "\n"


def whole_arm(task: Task, work: Path, model: str, base_url: str, temperature: float | None,
              timeout: float) -> ArmResult:
    """One whole-file call per file the task concerns; write the answers; check."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="not-needed", timeout=timeout, max_retries=0)
    project = copy_project(task, work / "whole")
    result = ArmResult(task.name, "whole")
    answers: dict[str, str] = {}
    start = time.monotonic()
    try:
        for rel in task.files:
            text = (project / rel).read_text(encoding="utf-8")
            lang = "toml" if rel.endswith(".toml") else "python"
            prompt = WHOLE_PROMPT.format(intent=task.intent, files=", ".join(task.files),
                                         path=rel, lang=lang, text=text)
            kwargs = {} if temperature is None else {"temperature": temperature}
            resp = client.chat.completions.create(
                model=model, messages=[{"role": "system", "content": WHOLE_SYSTEM},
                                       {"role": "user", "content": prompt}], **kwargs)
            answer = resp.choices[0].message.content or ""
            answers[rel] = answer
            (project / rel).write_text(strip_fences(answer), encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - a model error is this arm's failure, shown
        result.wall = time.monotonic() - start
        result.detail = f"model error: {type(exc).__name__}: {exc}"[:300]
        result.raw = {"answers": answers}
        return result
    result.wall = time.monotonic() - start
    result.raw = {"answers": answers}
    check = run_check(task, project)
    result.passed, result.detail = check.passed, check.detail
    return result


def aider(task: Task, work: Path, model: str, base_url: str, timeout: float) -> ArmResult:
    """Aider on the task's files, once, in a git repository of the project; check."""
    project = copy_project(task, work / "aider")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        git(project, *args)
    got = aider_arm.run(project, task.intent, task.files, model, base_url, timeout)
    result = ArmResult(task.name, "aider", wall=got.wall)
    result.raw = {"output": got.output}
    if got.error:
        result.detail = got.error
        return result
    check = run_check(task, project)
    result.passed, result.detail = check.passed, check.detail
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["0.5b", "1.5b"], default="1.5b")
    ap.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    ap.add_argument("--set", dest="task_set", choices=["tuned", "heldout", "all"], default="all",
                    help="the tasks astm was tuned on, the held-out ones, or all (default)")
    ap.add_argument("--arm", choices=["astm", "whole", "aider", "both"], default="both",
                    help="both: astm and the whole-file edit; aider: Aider's whole format (bench/live/aider_arm.py)")
    ap.add_argument("--transcript", type=Path, default=None,
                    help="append every call's messages and answer to this JSON-lines file")
    ap.add_argument("--setup", action="store_true",
                    help="create the server venv, download and verify the model, then run")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs for inspection")
    ap.add_argument("--json", dest="json_out", type=Path, help="write the results here")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--server", help="use this running server (http://host:port) instead")
    ap.add_argument("--server-python", type=Path, default=serve.SERVER_PY,
                    help="the Python that has llama_cpp.server (default: the cached venv's)")
    ap.add_argument("--temperature", type=float, default=None,
                    help="whole-file arm only; default: none sent, as astm sends none")
    ap.add_argument("--astm-args", default="", help="extra flags for astm apply, e.g. '--jobs 1'")
    ap.add_argument("--astm-setting", action="append", default=[], metavar="'KEY = VALUE'",
                    help="a [tool.astm] line for the working tree only (repeatable), "
                    "e.g. 'json_schema = \"off\"'")
    ap.add_argument("--astm-timeout", type=float, default=1800.0, help="seconds per astm run")
    ap.add_argument("--call-timeout", type=float, default=900.0, help="whole-file arm, per call")
    ap.add_argument("--failures", type=Path, default=NOTES / "live-astm-failures.md",
                    help="where astm's raw output is appended for each task it did not pass")
    args = ap.parse_args(argv)
    tasks = [t for t in load_tasks() if args.task_set in ("all", t.set)]
    if args.tasks:
        wanted = args.tasks.split(",")
        unknown = set(wanted) - {t.name for t in tasks}
        if unknown:
            ap.error(f"unknown tasks: {', '.join(sorted(unknown))}")
        tasks = [t for t in tasks if t.name in wanted]
    spec = serve.MODELS[args.model]
    if args.arm == "aider" and not aider_arm.AIDER.exists():
        if not args.setup:
            ap.error(f"no aider in {aider_arm.VENV}; run with --setup")
        aider_arm.ensure()
    server: serve.Server | None = None
    if args.server:
        upstream = args.server.rstrip("/")
    else:
        if args.setup:
            serve.ensure_server_venv()
            serve.ensure_model(spec)
        if not args.server_python.exists() or not spec.gguf.exists():
            ap.error(f"no server venv or model in {serve.CACHE}; run with --setup")
        server = serve.Server(spec.gguf, args.port, python=args.server_python)
        serve.log(f"starting llama_cpp.server on {spec.gguf.name} (port {args.port})")
        server.start()
        upstream = server.url
    proxy = serve.CountingProxy(upstream, args.transcript)
    model = serve.get_json(f"{upstream}/v1/models")["data"][0]["id"]
    serve.log(f"model {model} ({spec.description}) via {proxy.url}")
    arms = ["astm", "whole"] if args.arm == "both" else [args.arm]
    extra = args.astm_args.split()
    if args.failures.parent.is_dir():
        with args.failures.open("a", encoding="utf-8") as f:
            f.write(f"# run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
                    f"{spec.description}, astm args {extra or 'none'}, "
                    f"[tool.astm] {args.astm_setting or 'none'}\n\n")
    results: list[ArmResult] = []
    root = Path(tempfile.mkdtemp(prefix="astm-live-"))
    interrupted = False
    try:
        # Arm by arm: the cheap whole-file figures are all in before the long astm runs.
        for arm in arms[::-1]:
            for task in tasks:
                work = root / task.name / arm
                work.mkdir(parents=True)
                proxy.reset()
                if arm == "astm":
                    r = astm_arm(task, work, model, proxy.url, extra, args.astm_timeout,
                                 args.astm_setting)
                elif arm == "aider":
                    r = aider(task, work, model, proxy.url, args.call_timeout)
                else:
                    r = whole_arm(task, work, model, proxy.url, args.temperature,
                                  args.call_timeout)
                if not proxy.wait_idle(5) and server is not None:
                    serve.log(f"{task.name}/{arm}: a request is still running; restarting")
                    server.restart()
                    r.server_restarted = True
                tally = proxy.reset()
                r.calls, r.tokens = tally.calls, tally.tokens
                results.append(r)
                serve.log(f"{task.name}/{arm}: {'PASS' if r.passed else 'fail'} "
                          f"({r.calls} calls, {r.tokens} tokens, {r.wall:.0f}s) {r.detail}")
                if arm == "astm" and not r.passed and args.failures.parent.is_dir():
                    report.record_astm_failure(args.failures, args.model, r)
                if args.json_out:
                    report.write_json(args.json_out, spec, results, args)
    except KeyboardInterrupt:
        # Ctrl-C ends the run early; the table still shows what finished.
        interrupted = True
        serve.log("interrupted: the table holds the tasks that finished")
    finally:
        proxy.close()
        if server is not None:
            server.stop()
        if args.keep:
            serve.log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"model: {spec.description} ({args.model}); "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}; whole-file arm given each task's "
          f"file list; temperature {args.temperature if args.temperature is not None else 'server default'}; "
          f"astm args {extra or 'none'}; [tool.astm] {args.astm_setting or 'none'}")
    report.print_table(results, {t.name: t.set for t in load_tasks()})
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
