"""``astm demo``: the core scenario on a fresh temporary repository, offline by default."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from astm import errors


def fixture_dir() -> Path:
    """``fixtures/demo`` of the source checkout astm runs from."""
    here = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
    if not (here / "pyproject.toml").is_file():
        raise errors.UsageError(f"the demo fixture is missing ({here}); run from a source checkout")
    return here


@click.command("demo")
@click.option("--dir", "target", type=click.Path(file_okay=False), help="Where to build the demo repository.")
def command(target: str | None) -> int:
    """Build a repository from fixtures/demo and run `astm apply` in it: with the bundled
    plan standing in for a model, or with the model configured in the environment."""
    from astm import config as cfg
    from astm import render
    from astm.config import safe_url
    from astm.core import plan as planfile
    from astm.core.result import ApplyResult
    from astm.engine import apply as engine
    from astm.llm import make_provider, spent
    from astm.workspace import scratch
    from astm.workspace.repo import Repo

    src = fixture_dir()
    plan = planfile.load(src / "plan.json")
    root = Path(target) if target else Path(tempfile.mkdtemp(prefix="astm-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise errors.UsageError(f"{root}: not empty; give an empty or new --dir")
    scratch.init_repo(root, {"pyproject.toml": (src / "pyproject.toml").read_bytes()})
    settings = cfg.load(root)
    use_model = bool(settings.model)
    progress = render.Progress()
    # What works at the endpoint is remembered in the demo repository's git directory.
    provider = make_provider(
        settings, None if use_model else plan,
        state=Repo.open(root).common / "astm", notify=render.model_notice(progress),
    )
    out = sys.stdout
    print(f"demo repository: {root}", file=out)
    print(f"intent: {plan.intent}", file=out)
    if use_model:
        where = safe_url(settings.base_url) if settings.base_url else "the OpenAI default endpoint"
        print(f"model: {settings.model} at {where}", file=out)
    else:
        print("model: none configured; the bundled fixtures/demo/plan.json stands in for it", file=out)
    opts = engine.ApplyOptions(intent=plan.intent, cwd=root, plan=None if use_model else plan)
    try:
        with progress:
            result = engine.apply(opts, settings, provider, progress)
    except errors.AstmError as exc:
        partial: ApplyResult | None = getattr(exc, "result", None)
        if partial is not None:  # what was spent, the token line included, before the error
            partial.usage = spent(provider) or partial.usage
            render.summary(partial, sys.stderr, review=None)
        raise
    result.usage = spent(provider) or result.usage
    render.summary(result, out, review=f"cd {root} && git diff HEAD {result.branch}")
    print(file=out)
    render.diff(scratch.diff_text(root, "HEAD", result.branch or "HEAD"), out)
    if not use_model:
        print("(the plan stood in for a model: set ASTM_MODEL, ASTM_BASE_URL and "
              "OPENAI_API_KEY to run the same scenario with one)", file=out)
    return errors.EXIT_OK
