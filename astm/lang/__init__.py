"""Languages astm edits: the ``Language`` protocol and the only path -> language map.

Each language lives in one package, ``astm/lang/<name>/`` (syntax, edits, view, summary,
answers, checks), whose ``__init__`` exposes ``LANGUAGE`` (made on first use, from its
``language`` module: a package's ``__init__`` runs before any of its modules, and the
hook reads only ``problems``). ``REGISTRY`` below is the one place that maps a file name
to a language: adding a language is its package and one line here. Nothing else in astm
asks which language a file is by name or suffix; it asks the language
(``tests/test_architecture.py`` holds the rest of astm to that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from astm.errors import TargetError

if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Sequence

    from astm.core.node import Node
    from astm.core.patch import Patch
    from astm.core.view import View
    from astm.lang.problems import Problem
    from astm.lang.summary import Entry
    from astm.validate.diagnostic import Diagnostic

# name, suffixes, module whose ``LANGUAGE`` implements it (imported on first use: a hook
# that sees only TOML never loads the Python grammar).
REGISTRY: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("toml", (".toml",), "astm.lang.toml"),
    ("python", (".py", ".pyi"), "astm.lang.python"),
)


class Language(Protocol):
    """What astm asks of a language. ``astm.lang.base.Base`` holds the neutral defaults a
    new language may keep; docs/architecture.md says which part of astm asks what."""

    name: str
    routers: tuple[str, ...]  # node kinds that route to their children by default
    external: bool  # runs subprocess validators in the sandbox (ruff for Python)
    typecheck: bool  # a composed file is type-checked (pyright) when the project asks
    nested: bool  # a node's id nests its children's (``A.b``); TOML keys have dots but no nesting
    block_gap: int  # line breaks joining a new file's template blocks
    tested: bool  # a changed file of this language runs the project's tests at the root
    config: bool  # its files at the repository root configure the project (pyproject.toml):
    #               every repository-wide intent has them among its candidates
    loose_keys: bool  # an intent names a node by its key with quotes, brackets, case ignored

    # ---- the node tree ---------------------------------------------------------------

    def parse(self, path: str, data: bytes) -> Node: ...

    def build(self, path: str, data: bytes) -> Node: ...

    def outline(self, data: bytes) -> str: ...

    def context(self, path: str, data: bytes) -> str: ...

    def view(self, path: str, data: bytes, kind: str) -> View: ...

    def key_of(self, text: bytes) -> tuple[str, str] | None: ...

    def summary(self, data: bytes) -> tuple[str, str | None, tuple[Entry, ...]]:
        """``(status, note, entries)`` of a file for the index (``astm.index.summary``)."""
        ...

    def grammar_tag(self) -> str:
        """What ``summary`` depends on besides astm's code (its grammar's version)."""
        ...

    # ---- a model's answer ------------------------------------------------------------

    def shape(self, kind: str) -> str:
        """What "the complete text of this node" means for a node of ``kind`` (prompts)."""
        ...

    def defines(self, block: str, key: str) -> bool:
        """Whether a fenced block of an answer holds the definition of ``key``."""
        ...

    def starts_code(self, line: bytes) -> bool:
        """Whether a line at the margin reads as code, not prose (``def f(``, ``x = 1``)."""
        ...

    def parses(self, text: bytes) -> bool:
        """Whether ``text`` alone is valid in this language (an answer's stray line)."""
        ...

    def mend(self, text: bytes) -> bytes | None:
        """An answer that does not parse for a slip small models make, mended (Python: a
        ``def`` line's ``)`` after its return annotation); None: nothing to mend."""
        ...

    def dedent(self, text: bytes) -> bytes:
        """An answer's text as a file of its own (Python: common indentation removed)."""
        ...

    def inert(self, line: bytes) -> bool:
        """Whether a stripped line outside every node is no code (a comment, a docstring)."""
        ...

    def wrap_body(self, text: bytes, old: bytes, kind: str) -> bytes | None:
        """An answer that is only a node's body, under the node's own header ``old``;
        ``None`` when it is not such an answer."""
        ...

    def bare_key(self, key: str) -> str:
        """A new child's key without the language's own wrapping (TOML: ``[...]``)."""
        ...

    def check_member(self, new_text: bytes, siblings: dict[str, bytes]) -> Diagnostic | None:
        """A member's new text checked against its siblings' (name -> text): Python
        refuses ``self.words`` used as data when ``words`` is a method."""
        ...

    def check_asked(self, new_text: bytes, intent: str) -> Diagnostic | None:
        """What ``intent`` visibly asks of the new text and it lacks (Python: type hints
        asked for, parameters left bare)."""
        ...

    def stub(self, key: str, *, member: bool = False, intent: str = "") -> bytes:
        """What a new node ``key`` starts from in its worker's prompt (TOML: its header
        line; Python: a function's ``def`` line, its parameters as the intent writes them,
        ``member`` inside a class), which a small model otherwise does not write; ``b""``:
        nothing."""
        ...

    def section(self, text: bytes, key: str) -> bytes | None:
        """The lines of an answer that no parser reads (a whole file with junk in another
        table) that still hold node ``key`` by the language's line structure (TOML: from
        ``[key]`` to the next header); ``None`` when it has no such structure."""
        ...

    def requests(self, text: bytes) -> tuple[bytes, list[bytes]]: ...

    def import_lines(self, text: bytes) -> list[bytes]:
        """The statements of an ``imports`` node's text, one each (``[]``: no imports)."""
        ...

    def prepare(self, text: bytes, *, node: Node | None, parent: Node, base: bytes) -> bytes: ...

    # ---- checks ----------------------------------------------------------------------

    def check_node(
        self, patched: bytes, new_start: int, new_text: bytes, *, kind: str, key: str | None,
        rename: bool, path: str,
    ) -> Diagnostic | None: ...

    def check_file(self, data: bytes, path: str) -> Diagnostic | None: ...

    def check_change(
        self, base: bytes, data: bytes, path: str, patches: Sequence[Patch] = ()
    ) -> Diagnostic | None:
        """``check_file`` of ``data``, a composed text: ``base`` (valid) changed by
        ``patches``. A language may check only what changed (Python: the top-level
        statements around the patches, re-parsed incrementally); the answer is the same."""
        ...

    def check_block(
        self, text: bytes, *, kind: str, key: str, tables: list[str]
    ) -> Diagnostic | None:
        """A template block of ``astm new`` alone: valid, and only what its kind allows."""
        ...

    def module_names(self, path: str) -> list[str]:
        """Import names a changed file may be imported by (the root tests that import
        one of them run); ``[]`` for a language nothing imports."""
        ...

    def importable(self, file: Node) -> list[str]:
        """Names another file of the project can import from ``file`` (its top-level
        definitions); ``[]`` for a language nothing imports."""
        ...

    def imports_for(
        self, text: bytes, path: str, importable: dict[str, str], cycle: Callable[[str], bool] = ...
    ) -> list[bytes]:
        """Import lines ``text`` (a composed file) needs for the names it reads unbound that
        another file defines (``importable``: name -> path), none from a file ``cycle``
        says imports ``path`` as it loads."""
        ...

    def module_imports(self, path: str, data: bytes) -> frozenset[str]:
        """The modules ``path`` imports as it loads (a cycle's test)."""
        ...

    # ---- the hook (astm/hook/) -------------------------------------------------------

    def problems(self, data: bytes, path: str) -> list[Problem]:
        """A staged file's syntax problems: the language's authority first (``compile()``,
        ``tomllib``), then tree-sitter's errors when the authority fails the file."""
        ...

    def sibling_header(self, lines: list[bytes]) -> tuple[int, re.Pattern[bytes]] | None:
        """The repair's cut of a node tree-sitter ran on over its siblings: the index of the
        node's own header among its ``lines`` and what a sibling's header matches after it;
        ``None`` when the language cannot tell."""
        ...

    # ---- placing text ----------------------------------------------------------------

    def insert(
        self, parent: Node, base: bytes, text: bytes, *, after: Node | None, before: Node | None,
        position: str | None, owner: str, seq: int, first: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> tuple[Patch, int]: ...

    def delete(
        self, parent: Node, node: Node, base: bytes, *, refilled: bool = False,
        deleted: frozenset[str] = frozenset(),
    ) -> Patch: ...


def language_of(path: str) -> str | None:
    """The name of ``path``'s language, or ``None`` for a file astm does not understand."""
    return next((name for name, suffixes, _ in REGISTRY if path.endswith(suffixes)), None)


# The languages ruff lints. Light on purpose (no language module imported): the hook asks
# it for every staged file before anything else is loaded.
_RUFF_LINTS = ("python",)


def ruff_lints(path: str) -> bool:
    """Whether ruff lints ``path`` (its language's code, not a configuration file)."""
    return language_of(path) in _RUFF_LINTS


def find(path: str) -> Language | None:
    """``path``'s language, or ``None`` for a file astm does not understand."""
    for _, suffixes, module in REGISTRY:
        if path.endswith(suffixes):
            return importlib.import_module(module).LANGUAGE  # type: ignore[no-any-return]
    return None


def problems_of(path: str, data: bytes) -> list[Problem]:
    """The pre-commit hook's syntax check of ``path`` (``Language.problems``). A language
    package with a ``problems`` module (``problems(data, path)``, what its ``LANGUAGE``
    answers too) is asked through that module alone: a hook run does not load the rest
    of the language (its edits, answers, views). Others are asked through ``LANGUAGE``.
    A file no language claims has no authority on its syntax: no problems."""
    for _, suffixes, module in REGISTRY:
        if not path.endswith(suffixes):
            continue
        try:
            light = importlib.import_module(f"{module}.problems")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"{module}.problems", module):
                raise  # something the module itself needs is missing: not a fallback
            return importlib.import_module(module).LANGUAGE.problems(data, path)  # type: ignore[no-any-return]
        return light.problems(data, path)  # type: ignore[no-any-return]
    return []


def language_for(path: str) -> Language:
    """``path``'s language; TargetError for a file astm cannot edit."""
    lang = find(path)
    if lang is None:
        raise TargetError("astm does not know this kind of file", path=path)
    return lang


def find_name(name: str) -> Language | None:
    """The language called ``name``, or ``None`` (``"repo"``, the repository node's)."""
    module = next((m for n, _, m in REGISTRY if n == name), None)
    return None if module is None else importlib.import_module(module).LANGUAGE  # type: ignore[no-any-return]


def by_name(name: str) -> Language:
    lang = find_name(name)
    if lang is None:
        raise KeyError(f"no language called {name!r}")
    return lang


def names() -> tuple[str, ...]:
    """Every language's name, in ``REGISTRY`` order."""
    return tuple(n for n, _, _ in REGISTRY)


def suffixes(name: str | None = None) -> tuple[str, ...]:
    """Every suffix astm understands (for listing candidate files), or the suffixes of the
    language called ``name``."""
    return tuple(s for n, sfx, _ in REGISTRY if name is None or n == name for s in sfx)


def nests(path: str) -> bool:
    """Whether ids below ``path`` nest (``A.b`` under ``A``); a path no language claims
    (the repository node's) counts as nesting."""
    lang = find(path)
    return lang is None or lang.nested


def parse_file(path: str, data: bytes) -> Node:
    """The node tree of ``data`` (the content of ``path``); TargetError if it cannot act."""
    return language_for(path).parse(path, data)
