"""The ``astm`` command: dispatch to ``astm.commands`` and map errors to exit codes.

Exit codes (docs/cli.md): 0 landed/ok, 1 the intent could not be applied, 2 usage or
configuration error, 3 model error, 70 unexpected error (a crash log is written),
130 interrupted.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from astm import __version__, errors

if TYPE_CHECKING:
    import click

# Commands load on first use: a hook run must not pay for the model client or pydantic,
# and `astm --help` lists them from this table without importing any (their one-line help
# is here; tests/test_cli.py checks it matches the command's own).
COMMANDS = {
    "apply": "astm.commands.apply",
    "build": "astm.commands.build",
    "config": "astm.commands.config",
    "demo": "astm.commands.demo",
    "gc": "astm.commands.gc",
    "hook": "astm.commands.hook",
    "index": "astm.commands.index",
    "new": "astm.commands.new",
    "pick": "astm.commands.pick",
    "runs": "astm.commands.runs",
    "server": "astm.commands.server",
    "skill": "astm.commands.skill",
    "test": "astm.commands.test",
    "track": "astm.commands.track",
    "undo": "astm.commands.undo",
    "view": "astm.commands.view",
}
SHORT_HELP = {
    'apply': "Turn INTENT into one commit on a new branch, touching only PATHS (default: the files the repository's index ranks for the intent, the root TOML files among them).",
    'build': 'Generate the implementations of the stale @astm.magic specs of this repository and land them as one commit on a new branch (or --write them into the working tree).',
    'config': 'Print the effective settings ([tool.astm] in pyproject.toml, then the environment); the API key is masked.',
    'demo': 'Build a repository from fixtures/demo and run `astm apply` in it: with the bundled plan standing in for a model, or with the model configured in the environment.',
    'gc': 'Remove leftover sandboxes (worktrees), the astm/tmp/ branches of an older astm, and run refs older than the configured age: only what astm provably made.',
    'hook': 'Gate commits node by node: a git pre-commit hook that checks (and on request repairs) the staged Python and TOML nodes a commit changes.',
    'index': 'Index the committed Python and TOML files at HEAD under .git/astm/index/; a refresh parses only the blobs the index has not seen.',
    'new': "Create PATH (absent at the base commit) from the template that matches it: pyproject.toml, a Python module, a test module, or a project's own under .astm/templates/.",
    'pick': 'Replay the change of commit REV onto --onto (default HEAD) as one commit on a new branch.',
    'runs': 'List runs (newest last): id, status, branch, intent.',
    'server': 'The command server: a warm process that runs astm\'s commands without paying for Python\'s imports each time (started by the first command; ASTM_SERVER=0 turns it off).',
    'skill': 'Guides for coding assistants working in a project that uses astm.',
    'test': "Build the stale implementations, generate the stale @astm.test specs (the tester sees the specs' APIs, never their implementations), and run the generated test files with pytest: on the landed branch in a sandbox, or in the working tree with --write.",
    'track': 'Turn INTENT into a track of tickets (a small DAG, each ticket one engine run), or list, show or run tracks.',
    'undo': "Reverse astm's last operation (a landed branch, a planned track, a file it wrote).",
    'view': 'Show files reduced to what an agent needs: signatures (skeleton) or docstrings and marked bodies (curated).',
}


@cache
def group() -> click.Group:
    """The ``astm`` click group, built on first use: the pre-commit hook's fast path
    (``_hook_fast_path``) never imports click."""
    import click

    class LazyGroup(click.Group):
        def list_commands(self, ctx: click.Context) -> list[str]:
            return sorted(COMMANDS)

        def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
            if name not in COMMANDS:
                return None
            import importlib

            return importlib.import_module(COMMANDS[name]).command  # type: ignore[no-any-return]

        def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            """The command list of ``astm --help``, from ``SHORT_HELP``: no command is imported."""
            from click.utils import make_default_short_help

            names = self.list_commands(ctx)
            limit = formatter.width - 6 - max(map(len, names))  # as click.Group does it
            rows = [(n, make_default_short_help(SHORT_HELP.get(n, ""), limit)) for n in names]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(version=__version__, prog_name="astm")
    def cli() -> None:
        """AST Momentum: turn an intent into one reviewable, validated git commit."""

    return cli


def _hook_fast_path(args: list[str]) -> Callable[[], int] | None:
    """``astm hook run [--fix|--no-fix] [FILES]`` runs on every commit: it is dispatched
    here without click (its import is a good part of a hook's time); anything else it
    could mean (``--help``, a bad option) goes through click."""
    if args[:2] != ["hook", "run"]:
        return None
    from astm.hook import main as hook

    parsed = hook.parse(args[2:])
    if parsed is None:
        return None
    files, fix = parsed
    return lambda: hook.run(files, fix)


_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


def _secrets() -> list[str]:
    """Values that must never reach a log: the API key and any secret-looking variable."""
    names = {n for n in os.environ if _SECRET_NAME.search(n)}
    known: list[str] = []
    try:  # the key variable may have any name ([tool.astm] api_key_env)
        from astm import config as cfg
        from astm.workspace.repo import Repo

        settings = cfg.load(Repo.open(Path.cwd()).workdir)
        names.add(settings.api_key_env)
        known = cfg.secrets(settings)  # and a password in base_url, a key in its query
    except Exception:  # noqa: BLE001, S110 - a crash report must not crash
        pass
    values = {os.environ.get(n, "") for n in names} | set(known)
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def redact(text: str) -> str:
    from astm.config import redact as mask_credentials

    return mask_credentials(text, _secrets())


def crash_log(exc: BaseException) -> str:
    """Write the traceback (no environment; secrets masked) and return the path.

    The temp directory is the user's word too ($TMPDIR): never a git directory or a link.
    """
    import tempfile  # a crash's business: not imported by every command
    import time
    import traceback

    from astm.workspace.paths import safe_output_path

    try:
        where = safe_output_path(None, Path(tempfile.gettempdir()) / "astm-crash.log").parent
    except errors.UsageError as why:
        return f"not written: {why}"
    fd, path = tempfile.mkstemp(
        prefix=f"astm-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log", dir=where
    )
    text = f"astm crash, argv={sys.argv[1:]!r}\n" + "".join(traceback.format_exception(exc))
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(redact(text))
    return path


def _one_line(exc: BaseException) -> str:
    text = errors.printable(redact(" ".join(str(exc).split())))
    return text if len(text) <= 300 else text[:297] + "..."


def main(argv: list[str] | None = None) -> int:
    from astm.render import guard_streams

    with guard_streams():  # nothing from outside reaches the terminal raw (render.py)
        return _main(argv)


def _during_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a Ctrl-C was being handled: ``asyncio.run`` whose
    loop a second Ctrl-C stopped raises RuntimeError("Event loop stopped before Future
    completed") from the KeyboardInterrupt, as it shuts down."""
    seen: set[int] = set()
    at: BaseException | None = exc
    while at is not None and id(at) not in seen:
        if isinstance(at, KeyboardInterrupt):
            return True
        seen.add(id(at))
        at = at.__cause__ or at.__context__
    return False


def interrupted_message(branch: str | None = None, *, cleaned: bool = False) -> str:
    """The one line of a Ctrl-C (docs/cli.md): what is left, and where a landed run is."""
    from astm import render

    branch = branch or render.landed_branch
    if branch:
        return (
            f"astm: interrupted after landing: {errors.printable(branch)} holds the validated result "
            f"(review: git diff HEAD {errors.printable(branch)}); `astm gc` removes what the run left"
        )
    if cleaned:  # the run stopped, waited for its threads and removed what it made
        return "astm: interrupted; nothing landed; the run's sandboxes were removed"
    return "astm: interrupted; nothing was changed (run `astm gc` if a run was cut short)"


def _cwd_exists() -> bool:
    """A shell can stand in a directory that was deleted since: every command would then
    fail where it first asks for it (a crash log for ``astm runs``)."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


def _main(argv: list[str] | None) -> int:
    from astm import render
    from astm.faults import pause_at

    render.landed_branch = None  # (in-process callers run several commands)
    try:
        pause_at("startup")
        args = list(sys.argv[1:] if argv is None else argv)
        if not _cwd_exists() and not {"-h", "--help", "--version"} & set(args):
            print("astm: error: the current directory no longer exists (deleted or moved); "
                  "cd into the repository and run the command again", file=sys.stderr)
            return errors.EXIT_USAGE
        fast = _hook_fast_path(args)
        if fast is not None:
            return fast()
        rv = group().main(args=argv, prog_name="astm", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except KeyboardInterrupt:
        print(interrupted_message(), file=sys.stderr)
        return errors.EXIT_INTERRUPTED
    except errors.QuitAtReview as exc:  # --step: the user said quit; the run removed its sandboxes
        print(f"astm: {errors.printable(str(exc))}; the run's sandboxes were removed", file=sys.stderr)
        return errors.EXIT_INTERRUPTED
    except errors.Interrupted as exc:  # the run stopped and removed its sandboxes
        partial = getattr(exc, "result", None)
        if partial is None and exc.message != errors.RUN_INTERRUPTED:
            # Not an engine run's Ctrl-C (a track's quit or Ctrl-C): its own line says what is kept.
            print(f"astm: error: {errors.printable(str(exc))}", file=sys.stderr)
        else:
            print(interrupted_message(getattr(partial, "branch", None), cleaned=True), file=sys.stderr)
        return errors.EXIT_INTERRUPTED
    except errors.AstmError as exc:
        if exc.exit_code == errors.EXIT_CRASH:  # an internal failure (git refused): keep details
            print(f"astm: unexpected error: {_one_line(exc)} (details: {crash_log(exc)})", file=sys.stderr)
        else:
            print(f"astm: error: {errors.printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - a bug: one line and a log, never a traceback
        if "click" in sys.modules:  # loaded unless the hook's fast path ran (then none is raised)
            import click

            if isinstance(exc, click.exceptions.Abort):
                print(interrupted_message(), file=sys.stderr)
                return errors.EXIT_INTERRUPTED
            if isinstance(exc, click.ClickException):
                exc.show()
                return errors.EXIT_USAGE
        if _during_interrupt(exc):  # a second Ctrl-C in asyncio.run's shutdown: no bug
            print(interrupted_message(), file=sys.stderr)
            return errors.EXIT_INTERRUPTED
        path = crash_log(exc)
        print(f"astm: unexpected error: {type(exc).__name__}: {_one_line(exc)} (details: {path})", file=sys.stderr)
        return errors.EXIT_CRASH
