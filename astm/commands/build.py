"""``astm build``: generate the implementations of stale ``@astm.magic`` specs."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from astm import errors


def spec_options(f: Any) -> Any:
    """Options ``astm build`` and ``astm test`` share."""
    opts = [
        click.option("--plan", "plan_file", type=click.Path(dir_okay=False),
                     help="A build plan answers by spec ref instead of the model."),
        click.option("--save-plan", type=click.Path(dir_okay=False),
                     help="Write the answers this build accepted as a build plan."),
        click.option("--write", is_flag=True,
                     help="Write the generated files into the working tree instead of a branch."),
        click.option("--force", is_flag=True, help="Regenerate even what is up to date."),
        click.option("--target", "targets", multiple=True, metavar="MODULE[:QUALNAME]",
                     help="Limit the build to this module (or regenerate this one spec)."),
        click.option("--jobs", "-j", type=int, help="Model calls at once."),
        click.option("--retries", type=int, help="Retries of a spec whose answer fails validation."),
        click.option("--model", help="Model name (overrides [tool.astm.build] model)."),
        click.option("--base-url", help="OpenAI-compatible endpoint."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the result."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def settings_for(cwd: Path, jobs: int | None, retries: int | None, model: str | None,
                 base_url: str | None) -> Any:
    from astm import config as cfg
    from astm.workspace.repo import Repo

    repo = Repo.open(cwd)
    flags = {"jobs": jobs, "retries": retries, "model": model, "base_url": base_url}
    return cfg.load(repo.workdir, flags)


def run_build(opts: Any, settings: Any, as_json: bool) -> Any:
    """The build with progress on stderr; on failure, what was known goes to stderr."""
    from astm import render
    from astm.specs.build import SpecProblems, build

    try:
        with render.Progress(quiet=as_json) as progress:
            return build(opts, settings, on_event=progress)
    except SpecProblems as exc:
        for p in exc.problems[1:]:
            print(f"astm: also: {p}", file=sys.stderr)
        raise
    except errors.AstmError as exc:
        partial = getattr(exc, "result", None)
        if partial is not None:
            if as_json:
                print(json.dumps(partial.to_json(), indent=2))
            else:
                for n in partial.notices:
                    print(f"  FAILED     {n}", file=sys.stderr)
        raise


def summary(result: Any, out: Any, *, verb: str = "build") -> None:
    for n in result.notices:
        print(f"note: {n}", file=out)
    for name in result.built:
        st = next(s for s in result.modules if s.name == name)
        print(f"  built      {st.module.generated_path} ({name})", file=out)
    if result.branch:
        print(f"landed: {result.branch} ({result.commit[:10]}, run {result.run})", file=out)
        print(f"review: git diff HEAD {result.branch}", file=out)
        print(f"take it: git merge {result.branch}", file=out)
    elif result.written:
        print(f"wrote: {', '.join(result.written)}", file=out)
    elif not result.built:
        print(f"nothing to {verb}: {len(result.modules)} generated modules up to date", file=out)
    if result.calls:
        tokens = result.usage.prompt + result.usage.completion
        print(f"model calls: {result.calls}" + (f", tokens: {tokens}" if tokens else ""), file=out)


def print_explain(result: Any, out: Any) -> None:
    for st in result.modules:
        label = "stale" if st.stale else "fresh"
        print(f"{label:<6} {st.name} ({st.module.generated_path})", file=out)
        for r in st.reasons:
            print(f"         {r}", file=out)
        if st.edited:
            print("         edited by hand since it was generated", file=out)
    for n in result.notices:
        print(f"note: {n}", file=out)


# ---- astm build --demo --------------------------------------------------------------
# The spec-driven scenario on a fresh temporary repository: fixtures/specs-demo (money
# parsing, prices with tax, a price book, two test specs) is built as one commit on a
# branch and its generated tests run there. With no model configured, the bundled plan
# answers; with one, it is used.


def fixture_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "fixtures" / "specs-demo"
    if not (here / "plan.json").is_file():
        raise errors.UsageError(f"the specs demo fixture is missing ({here}); run from a source checkout")
    return here


def run_demo(out: Any) -> int:
    from astm import config as cfg
    from astm import render
    from astm.specs.build import BuildOptions, build
    from astm.specs.plan import load
    from astm.specs.test import run_tests
    from astm.validate.tests import python_of
    from astm.workspace import scratch
    from astm.workspace.repo import Repo

    src = fixture_dir()
    files = {p.relative_to(src).as_posix(): p.read_bytes() for p in sorted(src.rglob("*"))
             if p.is_file() and p.name != "plan.json" and "__pycache__" not in p.parts}
    root = Path(tempfile.mkdtemp(prefix="astm-specs-demo-"))
    scratch.init_repo(root, files)
    settings = cfg.load(root)
    use_model = bool(settings.model)
    print(f"demo repository: {root}", file=out)
    for path in sorted(files):
        if path.endswith(".py") and b"astm" in files[path]:
            print(f"  specs in {path}", file=out)
    if use_model:
        print(f"model: {settings.model}", file=out)
    else:
        print("model: none configured; the bundled fixtures/specs-demo/plan.json stands in for it", file=out)
    opts = BuildOptions(cwd=root, plan=None if use_model else load(src / "plan.json"),
                        roles=("impl", "test"))
    with render.Progress() as progress:
        result = build(opts, settings, on_event=progress)
    summary(result, out)
    assert result.conf is not None and result.commit is not None
    tests = sorted(s.module.generated_path for s in result.modules if s.module.role == "test")
    repo = Repo.open(root)
    ran = run_tests(repo, result.commit, tests, result.conf, python_of(root))
    print(f"tests on {result.branch}: {ran.summary}", file=out)
    print(f"\nlook: cd {root} && git show --stat {result.branch} && git show {result.branch}:"
          "src/shop/__generated__/pricing.py", file=out)
    return errors.EXIT_OK if ran.code == 0 else 4


def load_plan(plan_file: str | None) -> Any:
    if not plan_file:
        return None
    from astm.specs.plan import load

    return load(plan_file)


@click.command("build")
@spec_options
@click.option("--explain", is_flag=True, help="Say which modules are stale and which input changed; build nothing.")
@click.option("--demo", is_flag=True, help="Build the bundled fixtures/specs-demo project offline in a temporary repository.")
def command(
    plan_file: str | None, save_plan: str | None, write: bool, force: bool,
    targets: tuple[str, ...], jobs: int | None, retries: int | None, model: str | None,
    base_url: str | None, as_json: bool, explain: bool, demo: bool,
) -> int:
    """Generate the implementations of the stale @astm.magic specs of this repository and
    land them as one commit on a new branch (or --write them into the working tree).
    Nothing stale: no model call, nothing written."""
    from astm.specs.build import BuildOptions

    if demo:
        return run_demo(sys.stdout)
    cwd = Path.cwd()
    settings = settings_for(cwd, jobs, retries, model, base_url)
    opts = BuildOptions(cwd=cwd, plan=load_plan(plan_file), write=write, force=force,
                        targets=targets, save_plan=Path(save_plan) if save_plan else None,
                        check_only=explain)
    result = run_build(opts, settings, as_json)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    elif explain:
        print_explain(result, sys.stdout)
    else:
        summary(result, sys.stdout)
    return errors.EXIT_OK
