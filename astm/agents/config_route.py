"""The pyproject.toml tables a configuration intent is about, decided by the standards
(PEP 621 and the ``[tool.NAME]`` convention) instead of a small model (issue 10.3).

The 1.5B model routed "add requests as a runtime dependency" to a key it made up
(``project.dependencies``) and "an optional dependency group named dev" to a new top-level
``[dev]`` table, both runs running out of attempts. The words of such an intent say which
table it is about: dependencies live in ``[project]``, optional groups in
``[project.optional-dependencies]``, URLs in ``[project.urls]``, scripts in
``[project.scripts]``, a tool's settings in its ``[tool.NAME]`` table. Used only for an
intent about pyproject.toml alone (``candidates.toml_only``) that writes no table header
of its own; anything it cannot place returns None and the model routes.
"""

from __future__ import annotations

import re

from astm.agents.candidates import code_suffixes, tokens, toml_only
from astm.core.node import Node
from astm.llm.base import Act, Create, Route

# A [project] sub-table, by the words that mean it; the first match wins.
_SUBTABLES = (
    ("project.optional-dependencies", re.compile(r"optional[- ]dependenc|\bextras?\b|dependency group|\bgroup\b")),
    ("project.urls", re.compile(r"\burls?\b|homepage|repository url|documentation url|bug tracker")),
    ("project.scripts", re.compile(r"console script|entry[- ]point|\bscripts?\b|\bcommand\b")),
)
_PROJECT = re.compile(r"dependenc|requires-python|python version|\bversion\b|description|licen[cs]e|author|"
                      r"maintainer|classifier|keyword|readme")
_BUILD = re.compile(r"build[- ](backend|system|requires)")
_CONFIGURE = re.compile(r"configur|setting|\boptions?\b|enable|turn on|set up|\bset\b")
# Tools whose settings live in a table other than [tool.NAME].
_TOOL_TABLE = {"pytest": "tool.pytest.ini_options", "pytest-cov": "tool.pytest.ini_options",
               "coverage": "tool.coverage.report", "mypy": "tool.mypy", "ruff": "tool.ruff"}


def decide(intent: str, file: Node) -> Route | None:
    """The route of ``file`` (a pyproject.toml) for a configuration intent, or None."""
    code_file = any(t.endswith(code_suffixes()) for t in tokens(intent))
    if file.path != "pyproject.toml" or "[" in intent or code_file or re.search(r"\w\(", intent):
        return None
    text = intent.lower()
    keys = {c.key: c for c in file.children if c.key}
    tool = _tool_table(text, keys) if _CONFIGURE.search(text) else None
    if not toml_only(intent) and tool is None:
        return None  # neither about pyproject.toml nor configuring one known tool
    tables: list[str] = []
    if _PROJECT.search(text) or any(p.search(text) for _, p in _SUBTABLES):
        tables.append(_project_table(text))
    elif _BUILD.search(text):
        tables.append("build-system")
    if tool is not None:
        tables.append(tool)
    if not tables:
        return None
    act = tuple(Act(keys[t].id, intent) for t in tables if t in keys)
    create = []
    for t in (t for t in tables if t not in keys):
        after = _after(t, keys)
        create.append(Create(t, intent, after=after.id if after else None, position=None if after else "end"))
    return Route(act=act, create=tuple(create))


def _project_table(text: str) -> str:
    for table, words in _SUBTABLES:
        if words.search(text):
            return table
    return "project"


def _tool_table(text: str, keys: dict[str, Node]) -> str | None:
    """The one tool the intent configures: ``pytest-cov`` -> ``[tool.pytest.ini_options]``."""
    words = re.findall(r"[a-z][a-z0-9_]*(?:-[a-z0-9_]+)*", text)
    found: list[str] = []
    for w in words:
        table = _TOOL_TABLE.get(w)
        if table is None:
            tools = [k for k in keys if k.split(".")[:2] == ["tool", w]]
            table = min(tools, key=len) if tools else None
        if table is not None and table not in found:
            found.append(table)
    # pytest-cov's settings go in pytest's addopts: "coverage" then names nothing more.
    if "tool.pytest.ini_options" in found and "tool.coverage.report" in found:
        found.remove("tool.coverage.report")
    return found[0] if len(found) == 1 else None


def _after(table: str, keys: dict[str, Node]) -> Node | None:
    """Where a new table goes: after its parent table or its last sibling table."""
    parent = table.rsplit(".", 1)[0] if "." in table else None
    family = [k for k in keys if parent and (k == parent or k.startswith(parent + "."))]
    if family:
        return keys[family[-1]]
    return None
