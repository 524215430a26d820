"""``astm build --demo``: the spec-driven scenario on a fresh temporary repository.

It copies ``fixtures/specs-demo`` (a small shop: money parsing, prices with tax, a price
book, and two test specs) into a new repository, builds the implementations and the
tests as one commit on a branch, and runs the generated tests there. With no model
configured, the bundled ``fixtures/specs-demo/plan.json`` answers; with one, it is used.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

from astm import errors


def fixture_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "fixtures" / "specs-demo"
    if not (here / "plan.json").is_file():
        raise errors.UsageError(f"the specs demo fixture is missing ({here}); run from a source checkout")
    return here


def run_demo(out: IO[str]) -> int:
    from astm import config as cfg
    from astm import render
    from astm.commands.build import summary
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
