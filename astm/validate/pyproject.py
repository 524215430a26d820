"""``pyproject.toml`` against its standards (PEP 517/518 ``[build-system]``, PEP 621
``[project]``), with ``validate-pyproject``; offline.

A table that is valid TOML can still be wrong where it matters: a top-level
``[dependencies]`` table, ``dependencies`` written as a table, a ``[project]`` without a
name. The failure becomes the node's hint, so it retries. Only the failures that fall on
the node's own table count (validate-pyproject names the offending path): the rest of the
file is other nodes' business, and a problem the file already had never blocks an edit.

No schema is fetched at run time: the validator is built without plugins (``[tool.*]``
tables are free-form here; their tools check them), and trove classifiers are checked
with the ``trove-classifiers`` package when it is installed, never downloaded.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
import tomllib
from typing import Any

from astm.validate.diagnostic import Diagnostic

# Tables a model writes at the top level that belong in [project] (PEP 621).
_PROJECT_KEYS = frozenset(
    ["dependencies", "optional-dependencies", "scripts", "gui-scripts", "entry-points", "urls",
     "authors", "maintainers", "classifiers", "keywords", "requires-python", "license", "readme",
     "name", "version", "description", "dynamic", "dev-dependencies"]
)


_TOP = frozenset(["build-system", "project", "tool", "dependency-groups"])  # PEP 518/621/735


def applies(path: str) -> bool:
    return path == "pyproject.toml" or path.endswith("/pyproject.toml")


def misplaced(path: str, key: str) -> str | None:
    """Why a new table ``key`` cannot stand at the top of this pyproject.toml (None: it can).

    Asked of a routing decision, before any generation: a stray ``[dev]`` or
    ``[dependencies]`` is a wrong place, which the router can still correct."""
    top = key.strip().strip("[]").split(".", 1)[0].strip().strip('"')
    if not applies(path) or not top or top in _TOP:
        return None
    return hint(top, f"`{top}` is not a table pyproject.toml may have")


@functools.cache
def _validator() -> Any:
    from validate_pyproject import api

    formats = dict(api.FORMAT_FUNCTIONS)
    try:
        from trove_classifiers import classifiers

        formats["trove-classifier"] = lambda v: v in classifiers or v.lower().startswith("private ::")
    except ImportError:  # without the list, a classifier is not checked (never downloaded)
        formats["trove-classifier"] = lambda v: True
    return api.Validator(plugins=(), format_validators=formats)


def problem(doc: dict[str, Any]) -> tuple[str, str] | None:
    """``(path, message)`` of the first way ``doc`` breaks the standards, or None.
    ``path`` is the dotted key of the offending value (``project.dependencies``)."""
    from validate_pyproject import errors

    try:
        _validator()(doc)
    except errors.ValidationError as exc:
        name = str(getattr(exc, "name", "") or "").strip("`").removeprefix("data").lstrip(".")
        message = str(getattr(exc, "summary", "") or exc.message).replace("`data.", "`").replace("`data`", "the file")
        if not name:
            extra = re.search(r"must not contain \{'([^']+)'", message)
            name = extra.group(1) if extra else ""
        return name, message
    except Exception:  # noqa: BLE001 - a validator bug must not fail a node: tomllib has spoken
        return None
    return None


def hint(path: str, message: str) -> str:
    """The standards' complaint, with the fix a model needs for the usual mistakes."""
    top = path.split(".", 1)[0]
    if "." not in path and top in _PROJECT_KEYS:
        return (f"[{top}] is not a top-level table of pyproject.toml (PEP 621); "
                f"write {top} inside [project] instead, e.g. {top} = [...]")
    if "." not in path and top not in _TOP:
        # The two usual meanings of a stray table, each with its right place.
        return (f"[{top}] is not a table pyproject.toml may have (PEP 518: only [build-system], "
                f"[project], [dependency-groups] and [tool.NAME]); an optional dependency group "
                f"goes in [project.optional-dependencies] as {top} = [...], tool settings under [tool.{top}]")
    if path == "project.dependencies" or path.startswith("project.dependencies["):
        return f"{message}: [project] dependencies is a list of PEP 508 strings, e.g. dependencies = [\"requests>=2.31\"]"
    return f"pyproject.toml does not follow PEP 517/518/621: {message}"


def check_node(
    patched: bytes, new_text: bytes, *, path: str, base: bytes | None = None
) -> Diagnostic | None:
    """The standards' verdict on the node whose new text is ``new_text`` (a table), in
    the whole ``patched`` file; None when the file is fine, the problem is elsewhere, or
    the ``base`` file had it already."""
    if not applies(path):
        return None
    doc = _load(patched)
    if doc is None:
        return None  # tomllib's own check reports it
    old = _load(base) if base is not None else None
    unknown, had = set(doc) - _TOP, set(old or {}) - _TOP
    # A file that has other top-level tables already is used loosely: only a [project]
    # key written as a table (``[dependencies]``) is still a mistake there.
    from astm.lang.toml import syntax as ts

    table = bool(ts.table_headers(new_text))  # a [table], not a top-level pair
    for key in sorted(unknown - had):
        if _owns(new_text, key) and (not had or (key in _PROJECT_KEYS and table)):
            return Diagnostic(hint(key, f"`{key}` is not a table pyproject.toml may have"), "pyproject")
    found = problem({k: v for k, v in doc.items() if k in _TOP})
    if found is None:
        return None
    before = problem({k: v for k, v in old.items() if k in _TOP}) if old is not None else None
    where, message = found
    if before == found or not _owns(new_text, where):
        return None
    return Diagnostic(hint(where, message), "pyproject")


def _load(data: bytes) -> dict[str, Any] | None:
    try:
        return tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def _owns(new_text: bytes, where: str) -> bool:
    """Whether the offending key ``where`` lies in the table ``new_text`` defines."""
    from astm.lang.toml import syntax as ts

    headers = ts.table_headers(new_text)
    if not headers:
        # The preamble: top-level keys; the offending one is top-level.
        return "." not in where and bool(re.search(rf"^\s*{re.escape(where)}\s*=", new_text.decode("utf-8", "replace"), re.MULTILINE))
    key = headers[0][1].replace('"', "")
    flat = where.replace('"', "")
    return bool(flat) and (flat == key or flat.startswith((key + ".", key + "[")))


_REMOVES = re.compile(r"\b(remov|drop|delet|replac|bump|upgrad|downgrad|pin|updat|chang|swap|mov|renam|clean|prun)",
                      re.IGNORECASE)


def lost_dependencies(base: bytes, patched: bytes, *, intent: str, path: str) -> Diagnostic | None:
    """A model asked to *add* a dependency that rewrote the list without the old ones
    (the 1.5B replaced ``click`` with ``requests``): the dependencies it dropped, unless
    the intent speaks of removing, replacing or changing some."""
    if not applies(path) or _REMOVES.search(intent):
        return None
    old, new = _load(base), _load(patched)
    if old is None or new is None:
        return None
    lost = [d for d in _dependencies(old) if d not in _dependencies(new)]
    if not lost:
        return None
    names = ", ".join(f'"{d}"' for d in lost)
    return Diagnostic(f"the answer drops the dependencies {names}; keep every existing one and add to them",
                      "pyproject")


def _dependencies(doc: dict[str, Any]) -> list[str]:
    """Every dependency string of [project]: the runtime ones and each optional group's."""
    project = doc.get("project")
    if not isinstance(project, dict):
        return []
    out = [d for d in project.get("dependencies", []) if isinstance(d, str)] if isinstance(
        project.get("dependencies"), list) else []
    groups = project.get("optional-dependencies")
    if isinstance(groups, dict):
        out += [d for g in groups.values() if isinstance(g, list) for d in g if isinstance(d, str)]
    return out


_OPTION = re.compile(r"^  ([A-Za-z_][\w-]*) \(")


def unknown_pytest_options(base: bytes, patched: bytes, *, path: str, python: str) -> Diagnostic | None:
    """Keys new in ``[tool.pytest.ini_options]`` that the project's pytest (with its
    plugins) does not know: the 1.5B wrote ``cov = true`` and ``min_coverage = 80.0``
    there, which pytest ignores with a warning. None when pytest cannot be asked."""
    if not applies(path):
        return None
    old, new = _load(base), _load(patched)
    added = set(_pytest_table(new)) - set(_pytest_table(old))
    if not added:
        return None
    known = _pytest_options(python)
    bad = sorted(k for k in added if known and k not in known)
    if not bad:
        return None
    return Diagnostic(
        f"pytest has no option {', '.join(bad)} in [tool.pytest.ini_options]; a plugin's "
        'command-line flags go in addopts, e.g. addopts = "--cov=PACKAGE --cov-fail-under=80"',
        "pyproject",
    )


def _pytest_table(doc: dict[str, Any] | None) -> dict[str, Any]:
    table = ((doc or {}).get("tool") or {}).get("pytest") or {}
    ini = table.get("ini_options") if isinstance(table, dict) else None
    return ini if isinstance(ini, dict) else {}


@functools.lru_cache(maxsize=4)
def _pytest_options(python: str) -> frozenset[str]:
    """The ini options ``python -m pytest --help`` lists (plugins' included); empty when
    pytest is not there. Run outside the project so no conftest of it is imported."""
    try:
        out = subprocess.run(  # noqa: PLW1510 - an unreadable help means "unknown"
            [python, "-m", "pytest", "--help"], capture_output=True, text=True, timeout=60,
            cwd=tempfile.gettempdir(), stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    section = out.split("ini-options in the first", 1)[-1] if "ini-options in the first" in out else (
        out.split("configuration options in the first", 1)[-1] if "configuration options in the first" in out else "")
    names = set()
    for line in section.splitlines()[1:]:
        if line and not line.startswith(" "):
            break  # the next section ("Environment variables:")
        m = _OPTION.match(line)
        if m:
            names.add(m.group(1))
    return frozenset(names)


def value_hint(path: str, key: str, intent: str, new: bytes = b"", base: bytes = b"") -> str:
    """Where a value the intent states goes in table ``key``, when a standard says: a
    coverage percentage in pytest's table is pytest-cov's ``--cov-fail-under`` in addopts.

    The hint is the whole line to write: the answer's own addopts with the flag added (the
    1.5B, told ``"... --cov-fail-under=80"``, wrote exactly that and lost its ``--cov``),
    else ``--cov`` of the project's package and the flag (the fail-under alone measures
    nothing)."""
    if not applies(path) or key != "tool.pytest.ini_options":
        return ""
    m = re.search(r"(\d+(?:\.\d+)?)\s*%", intent)
    if not (m and re.search(r"cov", intent, re.IGNORECASE)):
        return ""
    flag = f"--cov-fail-under={m.group(1)}"
    opts = _string_at(new, "tool", "pytest", "ini_options", "addopts")
    if opts is None:
        name = _string_at(base, "project", "name")
        opts = f"--cov={name.replace('-', '_')}" if name else "--cov"
    return f' (pytest-cov: addopts = "{opts} {flag}")'


def _string_at(text: bytes, *path: str) -> str | None:
    """The string (or list, joined by spaces) at ``path`` of a TOML text."""
    try:
        node: Any = tomllib.loads(text.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return None
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, list):
        node = " ".join(str(x) for x in node)
    return node.strip() if isinstance(node, str) and node.strip() else None
