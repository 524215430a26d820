"""``astm test``: build, generate the stale ``@astm.test`` specs, run them with pytest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from astm import errors
from astm.commands.build import load_plan, run_build, settings_for, spec_options, summary


@click.command("test")
@spec_options
@click.option("--no-build", is_flag=True, help="Do not build stale implementations first (tests are still generated).")
def command(
    plan_file: str | None, save_plan: str | None, write: bool, force: bool,
    targets: tuple[str, ...], jobs: int | None, retries: int | None, model: str | None,
    base_url: str | None, as_json: bool, no_build: bool,
) -> int:
    """Build the stale implementations, generate the stale @astm.test specs (the tester
    sees the specs' APIs, never their implementations), and run the generated test files
    with pytest: on the landed branch in a sandbox, or in the working tree with --write.
    Exit 4 when tests fail."""
    from astm.specs.build import BuildOptions
    from astm.specs.test import EXIT_TESTS_FAILED, TestsFailed, run_tests
    from astm.validate.tests import python_of

    cwd = Path.cwd()
    settings = settings_for(cwd, jobs, retries, model, base_url)
    roles = ("test",) if no_build else ("impl", "test")
    opts = BuildOptions(cwd=cwd, plan=load_plan(plan_file), write=write, force=force,
                        targets=targets, roles=roles,
                        save_plan=Path(save_plan) if save_plan else None)
    result = run_build(opts, settings, as_json)
    out = sys.stderr if as_json else sys.stdout
    summary(result, out, verb="generate")
    files = sorted(s.module.generated_path for s in result.modules if s.module.role == "test")
    if not files:
        print("no test specs (@astm.test) found; nothing to run", file=out)
        if as_json:
            print(json.dumps({**result.to_json(), "tests": None}, indent=2))
        return errors.EXIT_OK
    from astm.workspace.repo import Repo

    repo = Repo.open(cwd)
    commit = None if write else (result.commit or result.base)
    ran = run_tests(repo, commit, files, result.conf, python_of(repo.workdir))
    if as_json:
        print(json.dumps({**result.to_json(), "tests": {
            "files": files, "exit": ran.code, "summary": ran.summary, "where": ran.where}}, indent=2))
    else:
        print(f"tests: {len(files)} generated files, on {ran.where}", file=out)
        print(ran.output.rstrip(), file=out)
    if ran.code in (0, 5):
        return errors.EXIT_OK
    if ran.code == 1:
        raise TestsFailed(f"tests failed: {ran.summary}")
    assert EXIT_TESTS_FAILED == 4
    raise errors.ApplyError(f"pytest could not run the generated tests (exit {ran.code}): {ran.summary}")

