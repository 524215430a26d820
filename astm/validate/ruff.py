"""ruff as a validator: only diagnostics a change introduces count, at the level they belong to.

ruff runs as a subprocess in the node's sandbox (its working directory, where the file and
the project's ruff configuration are materialised). The content is passed on stdin with
``--stdin-filename`` so the base and the new version are checked under the same
configuration; pre-existing problems never block an edit.

**The lint gate follows the project.** Where the project configures ruff (``[tool.ruff]``
in pyproject.toml, a ``ruff.toml`` or ``.ruff.toml``), its configuration decides which
rules run. Where it does not, astm runs ruff ``--isolated`` (no stray user or parent
configuration applies) with ``--select`` set to ``CORRECTNESS``: an explicit list of
pyflakes codes that mean the code is wrong (undefined names, impossible statements, broken
format strings), never style; codes, not prefixes, so the answer does not change with the
ruff release (the tested range is pinned in pyproject.toml).

**Levels.** A leaf judges only what is true of its node alone: codes in ``CROSS_NODE``
(undefined and unused names, redefinitions, import order and placement, what a sibling's
import decides) are left to the parent that composes every node involved (the file).

**Pre-existing findings** are matched by code, message (with line numbers taken out) and
the stripped source line they point at, never by row: rows shift when lines are added
above, and so do messages such as "redefinition of unused `x` from line 12".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from astm.validate.diagnostic import Diagnostic
from astm.workspace.gitenv import clean_env  # hook-exported GIT_* must not reach validators

CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
TIMEOUT = 60

# Pyflakes codes that mean the code is wrong, not unstyled (docs/configuration.md).
CORRECTNESS = (
    "F402", "F404", "F406", "F407",  # import shadowed by a loop variable; misplaced or unknown __future__
    "F501", "F502", "F503", "F504", "F505", "F506", "F507", "F508", "F509",  # broken % formats
    "F521", "F522", "F523", "F524", "F525",  # broken str.format calls
    "F601", "F602",  # a dict key given twice
    "F621", "F622",  # impossible starred assignments
    "F631", "F632", "F633",  # assert on a tuple, `is` with a literal, print >>
    "F701", "F702", "F704", "F706", "F707",  # break/continue/yield/return out of place, bare except not last
    "F722",  # an annotation that is not an expression
    "F811",  # a name redefined before it was ever used
    "F821", "F822", "F823",  # undefined names (in code, in __all__, a local used before assignment)
    "F901",  # raise NotImplemented
)

# Codes whose truth depends on other nodes: judged by the composing parent, not the leaf.
CROSS_NODE = frozenset({
    "F401", "F402", "F403", "F405", "F811", "F821", "F822", "F823",  # names and bindings
    "F404", "I001", "I002", "E402",  # import order and placement
    "FA100", "FA102",  # whether `from __future__ import annotations` is there
    "TC001", "TC002", "TC003", "TC004", "TC005", "TCH001", "TCH002", "TCH003", "TCH004", "TCH005",
    "W391", "E301", "E302", "E303", "E304", "E305", "E306",  # blank lines between nodes
})

_LINE_REF = re.compile(r"\b(line|row)s? \d+(:\d+)?")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    row: int  # 1-based, in the file checked
    column: int = 0
    text: str = ""  # the stripped source line it points at

    def key(self) -> tuple[str, str, str]:
        """What identifies a finding across versions of a file: never its row."""
        return self.code, _LINE_REF.sub(r"\1 N", self.message), self.text


def configured(cwd: Path) -> bool:
    """Whether the project (materialised at ``cwd``) configures ruff itself."""
    if (cwd / "ruff.toml").is_file() or (cwd / ".ruff.toml").is_file():
        return True
    pyproject = cwd / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (ValueError, OSError, UnicodeDecodeError):
        return b"[tool.ruff" in pyproject.read_bytes()  # broken: ruff will say so itself
    tool = data.get("tool")
    return isinstance(tool, dict) and "ruff" in tool


def src_roots(cwd: Path) -> list[str]:
    """The project's source roots for ruff (``src``; ruff's default ``[".", "src"]``), when
    the project configures ruff: its isort tells first-party imports by what they hold."""
    if not configured(cwd):
        return []
    for name, table in (("ruff.toml", ()), (".ruff.toml", ()), ("pyproject.toml", ("tool", "ruff"))):
        conf = cwd / name
        if not conf.is_file():
            continue
        try:
            data: object = tomllib.loads(conf.read_text(encoding="utf-8"))
        except (ValueError, OSError, UnicodeDecodeError):
            return []
        for key in table:
            data = data.get(key, {}) if isinstance(data, dict) else {}
        if not isinstance(data, dict) or (name == "pyproject.toml" and not data):
            continue
        src = data.get("src")
        if isinstance(src, list) and all(isinstance(x, str) for x in src):
            return [x for x in src if ".." not in x and not x.startswith("/")]
        return [".", "src"]
    return [".", "src"]


def gate(cwd: Path) -> list[str]:
    """ruff arguments of the lint gate: none under the project's configuration, else
    astm's correctness set in isolation."""
    if configured(cwd):
        return []
    return ["--isolated", "--select", ",".join(CORRECTNESS)]


def ruff_command() -> list[str] | None:
    """ruff beside this Python first (a virtual environment), then on PATH, then -m ruff."""
    here = os.path.dirname(sys.executable)
    exe = shutil.which("ruff", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


def run(
    cwd: Path, relpath: str, data: bytes, cmd: list[str] | None = None, *, gated: bool = False
) -> list[Finding] | str:
    """ruff's findings for ``data`` checked as ``relpath`` under ``cwd``, or an error line.

    ``gated``: under the lint gate (``gate``), as the engine's validators run it; else
    ruff as the project (or its absence of configuration) makes it, as the hook runs it.

    The text goes in on stdin, so the project's configuration (and its excludes, with
    ``--force-exclude``) applies as if the file were on disk; nothing is written. Syntax
    errors are left to ``compile()``, which reports them better.
    """
    cmd = cmd or ruff_command()
    if cmd is None:
        return "ruff is not installed"
    try:
        proc = subprocess.run(
            [*cmd, "check", *(gate(cwd) if gated else []), "--output-format=json", "--no-cache", "--exit-zero", "--no-fix",
             "--force-exclude", "--stdin-filename", relpath, "-"],
            cwd=cwd, input=data, capture_output=True, env=clean_env(), timeout=TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ruff could not run: {exc}"
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"ruff failed on {relpath}: {err[-1] if err else f'exit {proc.returncode}'}"
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        return f"ruff gave unreadable output on {relpath}"
    out = []
    lines = data.split(b"\n")
    for item in items:
        if not item.get("code"):
            continue  # a syntax error
        loc = item.get("location") or {}
        row = int(loc.get("row") or 0)
        out.append(Finding(str(item["code"]), str(item.get("message", "")), row, int(loc.get("column") or 0),
                           source_line(lines, row)))
    return out


def run_files(
    cwd: Path, files: dict[str, bytes], cmd: list[str], extra: list[str] | tuple[str, ...] = ()
) -> dict[str, list[Finding]] | str:
    """``run`` for files whose text is on disk under ``cwd`` as given (``files``: relative
    path -> that text): one ruff process for all of them, or an error line. ``extra``:
    more arguments (the lint gate's)."""
    try:
        proc = subprocess.run(
            [*cmd, "check", *extra, "--output-format=json", "--no-cache", "--exit-zero", "--no-fix",
             "--force-exclude", "--", *files],
            cwd=cwd, capture_output=True, env=clean_env(), timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ruff could not run: {exc}"
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"ruff failed: {err[-1] if err else f'exit {proc.returncode}'}"
    try:
        items = json.loads(proc.stdout or b"[]")
    except ValueError:
        return "ruff gave unreadable output"
    root = cwd.resolve()
    out: dict[str, list[Finding]] = {path: [] for path in files}
    lines = {path: data.split(b"\n") for path, data in files.items()}
    for item in items:
        try:
            path = Path(str(item.get("filename", ""))).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        if path not in out or not item.get("code"):
            continue  # not asked for; a syntax error (compile() reports it)
        loc = item.get("location") or {}
        row = int(loc.get("row") or 0)
        out[path].append(Finding(str(item["code"]), str(item.get("message", "")), row,
                                 int(loc.get("column") or 0), source_line(lines[path], row)))
    return out


def source_line(lines: list[bytes], row: int) -> str:
    """Row ``row`` (1-based) of a file split on LF, stripped; empty when out of range."""
    return lines[row - 1].decode("utf-8", "replace").strip() if 0 < row <= len(lines) else ""


def findings(cwd: Path, relpath: str, data: bytes) -> list[Finding] | None:
    """ruff's findings, or None when ruff cannot tell (absent, or a broken configuration:
    the project's business, not the node's)."""
    got = run(cwd, relpath, data, gated=True)
    return None if isinstance(got, str) else got


def new_inside(
    before: list[Finding], after: list[Finding], old_rows: range, new_rows: range
) -> list[Finding]:
    """Findings in ``new_rows`` of ``after`` that ``old_rows`` of ``before`` did not have,
    matched by ``Finding.key`` (code, message, pointed text), as many times as they occur."""
    baseline = Counter(f.key() for f in before if f.row in old_rows)
    out = []
    for f in sorted(after, key=lambda f: f.row):
        if f.row not in new_rows:
            continue
        key = f.key()
        if baseline[key]:
            baseline[key] -= 1
        else:
            out.append(f)
    return out


def check(
    cwd: Path,
    relpath: str,
    base: bytes,
    patched: bytes,
    old_range: tuple[int, int],
    new_range: tuple[int, int],
    baseline: list[Finding] | None = None,
    after: list[Finding] | None = None,
    *,
    level: str = "node",
) -> Diagnostic | None:
    """The first new ruff finding inside the range, as a Diagnostic.

    At ``level="node"`` (a leaf) codes in ``CROSS_NODE`` are left out and the line is
    relative to the node; at ``level="parent"`` (the file, which composes every node a
    module-level name can involve) every code counts and the line is the file's (the
    parent attributes it to the child it falls on); ``level="class"`` (a class composing
    its methods, which does not see the file's other nodes) leaves ``CROSS_NODE`` to the
    file and gives the file's line. ``baseline`` and ``after``
    are the findings on ``base`` and ``patched`` when the caller has them already
    (computed once per content); missing ones are computed here."""
    after = after if after is not None else findings(cwd, relpath, patched)
    if after is None:
        return None
    before = baseline if baseline is not None else findings(cwd, relpath, base) or []
    if level != "parent":
        after = [f for f in after if f.code not in CROSS_NODE]
    old_rows = _rows(base, *old_range)
    new_rows = _rows(patched, *new_range)
    fresh = new_inside(before, after, old_rows, new_rows)
    if not fresh:
        return None
    f = fresh[0]
    more = f" (+{len(fresh) - 1} more)" if len(fresh) > 1 else ""
    message = f"ruff {f.code}: {f.message}{more}"
    raw = "\n".join(f"{relpath}:{x.row}: {x.code} {x.message}" for x in fresh)  # tier-4 hints
    if level == "node":
        return Diagnostic(message, "ruff", f.row - new_rows.start + 1, True, f.text, raw=raw)
    return Diagnostic(message, "ruff", f.row, False, f.text, raw=raw)


def _rows(data: bytes, start: int, end: int) -> range:
    first = data.count(b"\n", 0, start) + 1
    last = first + data.count(b"\n", start, max(start, end - 1))
    return range(first, last + 1) if end > start else range(first, first)


def sort_imports(cwd: Path, relpath: str, original: bytes | None, new: bytes) -> bytes:
    """``new`` (an import block) in the project's import order, by ruff's isort rules.

    Left as it is when ruff is absent or when the ``original`` block was not sorted to
    begin with: a project that does not sort its imports keeps its order.
    """
    cmd = ruff_command()
    if cmd is None:
        return new
    base = [*cmd, "check", "--select", "I", "--no-cache", "--exit-zero", "--stdin-filename", relpath]
    if original is not None:
        probe = subprocess.run(  # noqa: PLW1510 - the output is read, not the exit code
            [*base, "--output-format=json", "-"], cwd=cwd, input=original, capture_output=True, env=clean_env(),
            timeout=TIMEOUT,
        )
        try:
            if json.loads(probe.stdout or b"[]"):
                return new
        except ValueError:
            return new
    fixed = subprocess.run(  # noqa: PLW1510
        [*base, "--fix", "-"], cwd=cwd, input=new, capture_output=True, env=clean_env(), timeout=TIMEOUT
    )
    out = fixed.stdout
    return out if out.strip() and fixed.returncode == 0 else new
