"""astm's shape, checked: one home per language (docs/architecture.md).

Everything astm knows about a language is in ``astm/lang/<name>/``; the rest of astm asks
the ``Language``. The first tests read astm's own source for the switches that would break
that; the last ones register a toy third language in-process and run it through the
agents' answer and routing paths, a whole ``engine.apply``, and the pre-commit hook's
check and repair cut, with no edit anywhere else.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import types
from pathlib import Path

import pytest
from conftest import git, make_repo

import astm.lang
from astm.agents import answer, candidates, requests, routing
from astm.config import load
from astm.core.node import Node, node_id, text_hash
from astm.core.patch import Patch
from astm.core.plan import Insert, Plan, Replace
from astm.core.view import Line, View
from astm.engine.apply import ApplyOptions, apply
from astm.errors import TargetError
from astm.hook import main as hook
from astm.hook.repair import _tighten
from astm.index import summarize
from astm.lang import language_of, parse_file
from astm.lang.base import Base
from astm.llm.base import Create, Route
from astm.llm.plan_provider import PlanProvider
from astm.llm.prompting import node_shape
from astm.validate.diagnostic import Diagnostic

ASTM = Path(__file__).resolve().parents[1] / "astm"

# Where a language's name or suffix may stand as a literal outside astm/lang/, and why.
# Folders whose subject is one language by design:
ALLOWED_DIRS = {
    "astm/lang/": "the languages' own home",
    "astm/specs/": "@astm.magic / @astm.test specs are Python modules by design",
}
# Single sites, (file, literal): why. An entry is no licence for a new switch in the file.
ALLOWED = {
    # Not language switches: a program's name.
    ("astm/validate/commands.py", "python"): "an interpreter a kind's command may start with",
    ("astm/validate/tests.py", "python"): "the interpreter's file name (.venv/bin/python)",
    # The spec-driven build is Python by design (as astm/specs/).
    ("astm/commands/build.py", ".py"): "astm build lists the Python files that hold specs",
    ("astm/hook/checks.py", ".py"): "the spec-freshness check looks at staged spec modules",
    # Python tooling, not the language: ruff's first-party modules, pytest's output.
    ("astm/workspace/sandbox.py", ".py"): "top-level modules ruff's import sorting reads",
    ("astm/workspace/sandbox.py", ".pyi"): "top-level modules ruff's import sorting reads",
    # Still to move behind the Language (owned elsewhere; see docs/architecture.md):
    ("astm/engine/apply.py", ".toml"): "root candidates of a plan: should ask Language.config",
}
# Literal text (regular expressions) naming a suffix; same rule.
ALLOWED_PATTERNS = {
    ("astm/validate/tests.py", r"\.py"): "pytest's test file names (test_*.py, *_test.py)",
    ("astm/agents/hints.py", r"\.py"): "a pytest failure's `path.py:line:` location",
}
# Modules of one language imported outside astm/lang/, and why.
ALLOWED_IMPORTS = {
    ("astm/agents/answer.py", "astm.lang.python.answers"): "answer.rewrap, the old name kept",
    ("astm/agents/router.py", "astm.lang.python"): "folded: a class router's children cut to headers",
    ("astm/validate/pyproject.py", "astm.lang.toml"): "validate-pyproject reads pyproject.toml",
}


def _sources() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(ASTM.rglob("*.py")):
        rel = path.relative_to(ASTM.parent).as_posix()
        if not rel.startswith(tuple(ALLOWED_DIRS)):
            out.append((rel, ast.parse(path.read_text("utf-8"), rel)))
    return out


def test_no_language_switch_outside_astm_lang() -> None:
    """A literal language name or suffix outside astm/lang/ is a switch on the language:
    ``path.endswith(".toml")``, ``language == "python"``, ``{"toml": ...}``,
    ``Literal["toml", "python"]``. File names (``pyproject.toml``) are not."""
    words = set(astm.lang.suffixes()) | set(astm.lang.names())
    escaped = {re.escape(s) for s in astm.lang.suffixes()}
    found = []
    for rel, tree in _sources():
        for n in ast.walk(tree):
            if not isinstance(n, ast.Constant) or not isinstance(n.value, str):
                continue
            if n.value in words and (rel, n.value) not in ALLOWED:
                found.append(f"{rel}:{n.lineno}: {n.value!r}")
            for e in escaped:
                if e in n.value and (rel, e) not in ALLOWED_PATTERNS:
                    found.append(f"{rel}:{n.lineno}: {n.value!r}")
    assert not found, "language switches outside astm/lang/ (ask the Language):\n" + "\n".join(found)


def test_no_language_module_imported_outside_astm_lang() -> None:
    """The rest of astm reaches a language through ``astm.lang`` (find, language_for,
    by_name), not by importing its package."""
    langs = tuple(f"astm.lang.{name}" for name in astm.lang.names())
    found = []
    for rel, tree in _sources():
        for n in ast.walk(tree):
            mods: list[str] = []
            line = 0
            if isinstance(n, ast.ImportFrom) and n.module:
                mods, line = [n.module] + [f"{n.module}.{a.name}" for a in n.names], n.lineno
            elif isinstance(n, ast.Import):
                mods, line = [a.name for a in n.names], n.lineno
            for m in mods:
                lang = next((x for x in langs if m == x or m.startswith(x + ".")), None)
                if lang is None:
                    continue
                if not any((rel, a) in ALLOWED_IMPORTS for a in (m, lang)):
                    found.append(f"{rel}:{line}: {m}")
                break
    assert not found, "language packages imported outside astm/lang/:\n" + "\n".join(found)


def test_lang_never_imports_the_hook() -> None:
    """The hook asks the languages (``Language.problems``); never the other way round."""
    found = []
    for path in sorted((ASTM / "lang").rglob("*.py")):
        for n in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(n, ast.ImportFrom):
                mods = [n.module or ""]
            elif isinstance(n, ast.Import):
                mods = [a.name for a in n.names]
            else:
                continue
            found += [f"{path.relative_to(ASTM)}:{n.lineno}: {m}" for m in mods if m.startswith("astm.hook")]
    assert not found, "astm/lang/ imports the hook:\n" + "\n".join(found)


def test_the_checks_above_see_a_switch() -> None:
    """The scan itself: a switch in a module it reads is found (guards the walk and the
    allow-lists from silently matching nothing)."""
    tree = ast.parse('if path.endswith(".toml") or lang == "python":\n    pass\n')
    values = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert {".toml", "python"} <= values
    assert ("astm/agents/answer.py", ".toml") not in ALLOWED
    assert any(rel == "astm/agents/answer.py" for rel, _ in _sources())


# ---- a toy third language ------------------------------------------------------------

_HEADER = re.compile(rb"^\[([A-Za-z0-9_.-]+)\][ \t]*\r?$")
_PAIR = re.compile(rb"^[A-Za-z0-9_.-]+[ \t]*=")


class Ini(Base):
    """An INI-like language in a few lines: ``[section]`` headers, ``key = value`` lines,
    blank lines between. Sections are the nodes; they route nothing and nest nothing.
    Everything else comes from ``astm.lang.base.Base``."""

    name = "ini"

    def check_file(self, data: bytes, path: str) -> Diagnostic | None:
        seen_header = False
        for row, line in enumerate(data.split(b"\n"), 1):
            if not line.strip():
                continue
            if _HEADER.match(line):
                seen_header = True
            elif not (_PAIR.match(line) and seen_header):
                return Diagnostic("expected [section] or key = value", "ini", row, relative=False)
        return None

    def parse(self, path: str, data: bytes) -> Node:
        diag = self.check_file(data, path)
        if diag is not None:
            raise TargetError(f"not valid INI: {diag.message}", path=path, line=diag.line)
        return self.build(path, data)

    def build(self, path: str, data: bytes) -> Node:
        sections: list[tuple[str, int, int]] = []  # name, start, end (whole lines)
        pos = 0
        for line in data.splitlines(keepends=True):
            m = _HEADER.match(line.rstrip(b"\n"))
            if m:
                sections.append((m.group(1).decode(), pos, pos + len(line)))
            elif sections and line.strip():
                sections[-1] = (sections[-1][0], sections[-1][1], pos + len(line))
            pos += len(line)
        kids = tuple(
            Node(node_id(path, n), "section", path, s, e, n, text_hash(data[s:e])) for n, s, e in sections
        )
        return Node(node_id(path), "file", path, 0, len(data), None, text_hash(data), kids)

    def outline(self, data: bytes) -> str:
        return "\n".join(ln.decode() for ln in data.split(b"\n") if _HEADER.match(ln))

    def view(self, path: str, data: bytes, kind: str) -> View:
        return View(path, kind, tuple(Line(ln, path) for ln in self.outline(data).split("\n")))

    def key_of(self, text: bytes) -> tuple[str, str] | None:
        m = next((m for ln in text.split(b"\n") if (m := _HEADER.match(ln))), None)
        return ("section", m.group(1).decode()) if m else None

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None:
        diag = self.check_file(patched, path)
        if diag is not None:
            return diag
        heads = [m.group(1).decode() for ln in new_text.split(b"\n") if (m := _HEADER.match(ln))]
        if len(heads) != 1 or (key is not None and heads[0] != key and not rename):
            return Diagnostic(f"expected the one section [{key}]", "shape")
        return None

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]:
        prefix = b"" if not base.strip() else (b"\n" if base.endswith(b"\n") else b"\n\n")
        return Patch(parent.path, len(base), len(base), prefix + text, owner, seq), len(prefix)

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch:
        return Patch(parent.path, node.start, node.end, b"", parent.id)

    # What a model's answer looks like in INI.
    def shape(self, kind: str) -> str:
        return "the [section] header line and its key = value lines"

    def defines(self, block: str, key: str) -> bool:
        return self.key_of(block.encode()) == ("section", key)

    def starts_code(self, line: bytes) -> bool:
        return bool(_HEADER.match(line) or _PAIR.match(line))

    def bare_key(self, key: str) -> str:
        return key.strip("[]").strip()

    # Where the hook's repair cuts a section tree-sitter-like recovery ran on too far.
    def sibling_header(self, lines: list[bytes]) -> tuple[int, re.Pattern[bytes]] | None:
        header = next((i for i, ln in enumerate(lines) if _HEADER.match(ln.rstrip(b"\n"))), None)
        return None if header is None else (header, re.compile(rb"\["))


@pytest.fixture
def ini(monkeypatch: pytest.MonkeyPatch) -> Ini:
    """The toy registered the way a real language is: a module exposing ``LANGUAGE`` and
    one ``REGISTRY`` entry (for this test only)."""
    module = types.ModuleType("astm_test_ini")
    language = Ini()
    setattr(module, "LANGUAGE", language)  # noqa: B010 (a module made at run time)
    monkeypatch.setitem(sys.modules, "astm_test_ini", module)
    monkeypatch.setattr(astm.lang, "REGISTRY", (*astm.lang.REGISTRY, ("ini", (".ini",), "astm_test_ini")))
    return language


BASE = b"[a]\nx = 1\n\n[b]\ny = 2\n"


def test_answer_routing_and_prompts_ask_a_new_language(ini: Ini) -> None:
    assert language_of("conf.ini") == "ini"
    tree = parse_file("conf.ini", BASE)
    a, b = tree.children
    assert [c.id for c in tree.children] == ["conf.ini::a", "conf.ini::b"]

    def absorb(text: str) -> tuple[bytes, list[bytes], list[requests.Ask], Diagnostic | None]:
        return answer.absorb(text, max_bytes=10_000, path="conf.ini", language="ini", tree=tree,
                             base=BASE, node=b, parent=tree, kind="section", key="b", owner=b.id)

    # Of two fences the one that defines [b] is taken (Language.defines), not the first.
    assert absorb("Both:\n```ini\n[a]\nx = 1\n```\n\n```ini\n[b]\ny = 3\n```\n") == (
        b"[b]\ny = 3\n", [], [], None)
    # Prose around unfenced code goes (Language.starts_code, Language.parses): "Updated"
    # alone would be code in Python.
    assert answer.strip_prose(b"Here it is:\n[b]\ny = 3\nUpdated\n", "ini") == b"[b]\ny = 3\n"
    # A whole-file answer: the node's own section, and a proposal for the other one it
    # changed; ids below an INI file are flat.
    text, imports, asks, diag = absorb("[a]\nx = 5\n\n[b]\ny = 3\n")
    assert (text, imports, diag) == (b"[b]\ny = 3\n", [], None)
    assert [(k.what, k.name, k.text) for k in asks] == [("change", "a", b"[a]\nx = 5\n")]
    assert requests.parent_of_new(tree, requests.Ask("sibling", "a.c", "i", a.id, b"[a.c]\n")) is tree
    # A model names a new section by its header: the key is the bare name (Language.bare_key).
    route, unknown = routing.resolve(Route(create=(Create("[c]", "add c"),)), tree)
    assert [c.key for c in route.create] == ["c"] and unknown == []
    # The prompt says what a node of this language is; the intent's paths know its suffix.
    assert node_shape("ini", "section") == ini.shape("section")
    assert candidates.named_paths("set y in conf.ini", ["conf.ini", "src/app.py"]) == ["conf.ini"]
    # The index summarises it with the neutral defaults.
    s = summarize("ini", BASE)
    assert (s.lang, s.status) == ("ini", "ok")
    assert [(e.qual, e.kind, e.signature) for e in s.nodes] == [("a", "section", "[a]"), ("b", "section", "[b]")]


def test_a_new_language_runs_through_the_engine(ini: Ini, tmp_path: Path) -> None:
    """``engine.apply`` on an INI file with a plan: parse, route, leaf, compose, land."""
    repo = make_repo(tmp_path / "repo", {"conf.ini": BASE})
    plan = Plan(intent="y is 3; add c", edits=[
        Replace(op="replace", node="conf.ini::b", text="[b]\ny = 3\n"),
        Insert(op="insert", parent="conf.ini", position="end", text="[c]\nz = 4\n"),
    ])
    result = apply(ApplyOptions(intent=plan.intent, cwd=repo, paths=("conf.ini",), plan=plan),
                   load(repo, {}), PlanProvider(plan))
    assert result.branch is not None
    assert git(repo, "show", f"{result.branch}:conf.ini") + "\n" == "[a]\nx = 1\n\n[b]\ny = 3\n\n[c]\nz = 4\n"
    assert {n.id: n.status for n in result.nodes if n.id.startswith("conf.ini::")} == {
        "conf.ini::b": "changed", "conf.ini::c": "changed"}
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # the user's HEAD untouched
    # A change the language refuses fails the run naming the node, and lands nothing.
    bad = Plan(intent="break b", edits=[Replace(op="replace", node="conf.ini::b", text="[b]\nnot a pair\n")])
    with pytest.raises(Exception, match=r"conf\.ini::b") as exc:
        apply(ApplyOptions(intent=bad.intent, cwd=repo, paths=("conf.ini",), plan=bad, branch="astm/bad"),
              load(repo, {}), PlanProvider(bad))
    assert getattr(exc.value, "exit_code", None) == 1
    assert git(repo, "branch", "--list", "astm/bad") == ""


def test_the_hook_checks_a_new_language_through_the_protocol(
    ini: Ini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``astm hook run`` on a staged INI file: its syntax problems are the language's
    (``Base.problems``: ``check_file``'s message, source ``ini``), placed in the section
    the commit changed. INI lines such as ``oops`` are valid Python: a hook that still
    picked a syntax check by name would pass this commit."""
    repo = make_repo(tmp_path / "repo", {"conf.ini": BASE})
    monkeypatch.chdir(repo)

    def run(text: bytes) -> tuple[int, str]:
        (repo / "conf.ini").write_bytes(text)
        git(repo, "add", "conf.ini")
        code = hook.run((), False)
        return code, capsys.readouterr().out

    code, out = run(BASE + b"oops\n")
    assert code == 1
    assert out.splitlines()[:2] == [
        "conf.ini::b (line 6): expected [section] or key = value [ini]", "  6 | oops"]
    # Bytes that are not UTF-8 fail at the file, before the language is asked.
    code, out = run(b"[a]\nx = \xff\n")
    assert code == 1 and out.startswith("conf.ini: not UTF-8 (byte 8) [utf-8]\n")
    # A problem in a section the commit did not change does not block it.
    git(repo, "reset", "-q", "--hard")
    (repo / "conf.ini").write_bytes(b"[a]\nbroken\n\n[b]\ny = 2\n")
    git(repo, "commit", "-q", "-am", "a broken")
    assert run(b"[a]\nbroken\n\n[b]\ny = 3\n") == (0, "")
    code, out = run(b"[a]\nbroken, still\n\n[b]\ny = 3\n")
    assert code == 1 and out.startswith("conf.ini::a (line 2): expected [section] or key = value [ini]\n")

def test_the_hook_repair_cuts_a_new_language_at_its_sibling_header(ini: Ini) -> None:
    """A node that ran on over its siblings is cut where the language's
    ``sibling_header`` says (comments and blank lines above the sibling go with it)."""
    data = b"[a]\nx = 1\n\n# about b\n[b]\ny = 2\n"
    a = ini.build("conf.ini", data).children[0]  # tolerant: the comment runs [a] on
    swollen = dataclasses.replace(a, end=len(data))
    assert data[: _tighten(swollen, data).end] == b"[a]\nx = 1\n"
    assert _tighten(a, data) == a  # nothing to cut
