"""Module-level validation of a composed generated module.

What only the whole module can tell: it compiles; every spec's name is defined once at
top level with its kind; ruff finds no undefined name or redefinition (when the project
keeps ruff on); and it imports cleanly in the module's sandbox (a missing module, or code
that raises at import, fails here), with the sandbox's source roots on ``sys.path``. A
failure carries the line it falls on, so the build retries the spec that owns the line.
"""

from __future__ import annotations

import ast
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from astm.specs.discover import SpecModule
from astm.specs.warm_import import TimedOut, WarmImporter
from astm.validate.diagnostic import Diagnostic

IMPORT_TIMEOUT = 60
RUFF_CODES = ("F821", "F811", "F822", "F823", "E9")
# Imports the generated module by name; prints "<line in it>\t<error>" when that fails.
_IMPORT_SCRIPT = r"""
import importlib, sys, traceback
name, path = sys.argv[1], sys.argv[2]
try:
    importlib.import_module(name)
except BaseException as exc:
    frames = traceback.extract_tb(exc.__traceback__)
    line = next((f.lineno for f in reversed(frames) if f.filename.replace("\\", "/").endswith(path)), 0)
    if isinstance(exc, SyntaxError) and (exc.filename or "").replace("\\", "/").endswith(path):
        line = exc.lineno or 0
    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    print(f"{line}\t{text}")
    sys.exit(1)
"""


@dataclass(frozen=True)
class ModuleProblem:
    diagnostic: Diagnostic
    line: int | None  # in the composed file, None: the module as a whole


def static_problem(m: SpecModule, text: bytes) -> ModuleProblem | None:
    try:
        tree = ast.parse(text, filename=m.generated_path)
    except SyntaxError as exc:
        return ModuleProblem(Diagnostic(f"not valid Python: {exc.msg}", "compile", exc.lineno,
                                        relative=False), exc.lineno)
    top: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            top.setdefault(node.name, []).append(node)
    for s in m.specs:
        got = top.get(s.name, [])
        if not got:
            return ModuleProblem(Diagnostic(f"the module does not define {s.name}", "shape"), None)
        if len(got) > 1:
            return ModuleProblem(Diagnostic(f"the module defines {s.name} twice", "shape",
                                            got[1].lineno, relative=False), got[1].lineno)
        if isinstance(got[0], ast.ClassDef) != (s.kind == "class"):
            return ModuleProblem(Diagnostic(f"{s.name} must be a {s.kind}", "shape",
                                            got[0].lineno, relative=False), got[0].lineno)
    return None


def ruff_problem(cwd: Path, m: SpecModule, text: bytes) -> ModuleProblem | None:
    from astm.validate import ruff

    found = ruff.findings(cwd, m.generated_path, text) or []
    bad = [f for f in found if f.code.startswith(RUFF_CODES)]
    if not bad:
        return None
    f = bad[0]
    return ModuleProblem(Diagnostic(f"ruff {f.code}: {f.message}", "ruff", f.row, relative=False), f.row)


def type_problem(cwd: Path, m: SpecModule, text: bytes) -> ModuleProblem | None:
    """pyright/basedpyright errors in the generated module (every error counts: the
    module is new), when the project configures a type checker."""
    from astm.validate import pyright

    found = pyright.findings(cwd, m.generated_path, text) or []
    if not found:
        return None
    f = found[0]
    return ModuleProblem(Diagnostic(f"pyright {f.code}: {f.message}", "pyright", f.row,
                                    relative=False), f.row)


def import_env(cwd: Path, roots: tuple[str, ...], generated: str) -> dict[str, str]:
    """The environment generated code runs in: the sandbox's roots first on the path,
    astm itself last (spec modules import it, even from a venv that lacks it)."""
    import astm
    from astm.workspace.git import clean_env

    env = clean_env()
    paths = [str(cwd / r) if r != "." else str(cwd) for r in roots]
    paths.append(env.get("PYTHONPATH", ""))
    paths.append(str(Path(astm.__file__).resolve().parents[1]))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["ASTM_GENERATED_DIR"] = generated
    return env


def import_problem(python: str, cwd: Path, m: SpecModule, roots: tuple[str, ...],
                   generated: str, warm: WarmImporter | None = None) -> ModuleProblem | None:
    """The module imports cleanly in the sandbox: in a child of the build's warm
    interpreter (``warm``), else in a new ``python``."""
    env = import_env(cwd, roots, generated)
    if warm is not None:
        try:
            got = warm.check(str(cwd), env, m.generated_module, m.generated_path, IMPORT_TIMEOUT)
        except TimedOut:
            return _timed_out(m)
        if got is not None:
            return None if got.ok else _failed(got.text, got.line or None)
    try:
        proc = subprocess.run(
            [python, "-c", _IMPORT_SCRIPT, m.generated_module, m.generated_path],
            cwd=cwd, env=env, capture_output=True, text=True,
            timeout=IMPORT_TIMEOUT, stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        return _timed_out(m)
    except OSError as exc:
        return ModuleProblem(Diagnostic(f"cannot run {python}: {exc.strerror}", "import"), None)
    if proc.returncode == 0:
        return None
    out = (proc.stdout.strip().splitlines() or [""])[-1]
    line_text, _, message = out.partition("\t")
    if not message:
        err = proc.stderr.strip().splitlines()
        message = err[-1] if err else f"exit {proc.returncode}"
    line = int(line_text) if line_text.isdigit() and int(line_text) > 0 else None
    return _failed(message, line)


def _failed(message: str, line: int | None) -> ModuleProblem:
    return ModuleProblem(Diagnostic(f"importing the module failed: {message}", "import", line,
                                    relative=False), line)


def _timed_out(m: SpecModule) -> ModuleProblem:
    return ModuleProblem(Diagnostic(f"importing {m.generated_module} did not finish within "
                                    f"{IMPORT_TIMEOUT}s", "import"), None)
