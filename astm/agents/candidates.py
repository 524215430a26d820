"""Which files a repository-wide intent may concern, before the model routes among them.

Cheap and deterministic: the intent's words (identifiers split at case and underscores)
are looked up in each file's path and text; the best-scoring files go to the repository
router with their skeletons. Root TOML files are always candidates.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from astm.core.node import Node
from astm.lang import by_name, find, names, suffixes
from astm.llm.base import Act, Create, Route

MAX_CANDIDATES = 40
_STOP = frozenset(
    ["a", "an", "and", "the", "to", "of", "in", "on", "for", "with", "by", "from", "as", "is", "are", "be", "must", "should", "add", "make", "use", "it", "its", "that", "this", "into", "at", "or", "not", "new", "method", "function", "class", "file"]
)


def words(intent: str) -> set[str]:
    """``"Cart.total must round"`` -> {cart, total, round} (+ the dotted names as written)."""
    raw = re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", intent)
    out: set[str] = set()
    for token in raw:
        for part in re.split(r"[._]|(?<=[a-z0-9])(?=[A-Z])", token):
            if len(part) > 2 and part.lower() not in _STOP:
                out.add(part.lower())
    return out


def named_paths(intent: str, paths: Iterable[str]) -> list[str]:
    """The files the intent names by path (``src/app.py``, or ``app.py`` when only one
    file has that name): they are candidates whatever the index ranks."""
    wanted = {t.lstrip("./") for t in tokens(intent) if t.endswith(suffixes())}
    out: list[str] = []
    for w in sorted(wanted):
        hits = [p for p in paths if p == w or p.endswith("/" + w)]
        if len(hits) == 1 or w in hits:
            out.append(w if w in hits else hits[0])
    return out


def rank(
    paths: Iterable[str], intent: str, read: Callable[[str], bytes], *, limit: int = MAX_CANDIDATES
) -> list[str]:
    """The files worth routing over, best first; root TOML files always included."""
    keys = words(intent)
    named_paths = {t.lstrip("./") for t in tokens(intent) if t.endswith(suffixes())}
    scored: list[tuple[int, str]] = []
    always: list[str] = []
    for path in paths:
        if "/" not in path and _configures(path):
            always.append(path)
            continue
        name = path.lower()
        score = sum(3 for k in keys if k in name)
        if any(path == p or path.endswith("/" + p) for p in named_paths):
            score += 100  # the intent names the file: it is a candidate first
        if keys:
            text = read(path).lower()
            score += sum(1 for k in keys if k.encode() in text)
        if score:
            scored.append((score, path))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return always + [p for _, p in scored[:limit]]


# ---- what the intent names (issue 10.3) ------------------------------------------------
#
# Names, paths and table keys written in the intent are strong evidence of which nodes
# must act: ``Inventory.recent_movements``, ``src/app.py``, ``[tool.pytest.ini_options]``,
# ``_norm``. Only names that read as code count (dotted, snake_case, CamelCase,
# back-quoted, called ``f()``, a bracketed header): "add a total" names nothing. A child
# the intent names acts even when the router left it out. Plain words that point at a
# pyproject table (``pytest`` -> ``[tool.pytest.ini_options]``, ``dependencies`` ->
# ``[project]``) are weak evidence: they act only when the router found nothing to do.

_TICKED = re.compile(r"`([^`\n]+)`")
_HEADER = re.compile(r"\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?")
_DOTTED = re.compile(r"(?<![\w./])([A-Za-z_][\w-]*(?:\.[A-Za-z_\"'][\w\"'-]*)+)")
_IDENT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(\()?")
_PROJECT_WORDS = ("dependency", "dependencies", "requires-python", "version", "description", "license",
                  "authors", "classifiers", "keywords", "readme", "entry point", "scripts")


def _code_like(word: str, called: bool) -> bool:
    return called or "_" in word.strip("_") or word.startswith("_") or any(c.isupper() for c in word[1:]) or word[:1].isupper()


def tokens(intent: str) -> set[str]:
    """The names the intent writes as code."""
    out: set[str] = set()
    out.update(t.strip() for t in _TICKED.findall(intent))
    out.update(h.strip() for h in _HEADER.findall(intent))
    out.update(_path_pattern(suffixes()).findall(intent))
    out.update(t.rstrip(".") for t in _DOTTED.findall(intent))
    for word, call in _IDENT.findall(intent):
        if len(word) > 1 and _code_like(word, bool(call)):
            out.add(word)
    return out


def _loose(text: str) -> str:
    return re.sub(r"[\"'`\[\]\s]", "", text).lower()


def _qual(n: Node) -> str:
    return n.id.split("::", 1)[1] if "::" in n.id else ""


def _names_node(n: Node, toks: set[str], loose: set[str]) -> bool:
    """Whether the intent's tokens name node ``n`` (a definition or a table)."""
    q = _qual(n)
    if not q or q.startswith("("):
        return False
    lang = find(n.path)
    if lang is not None and lang.loose_keys:
        return _loose(q) in loose
    if q in toks or (n.key is not None and n.key in toks and _code_like(n.key, False)):
        return True
    return any(t.startswith(q + ".") or t.endswith("." + q) for t in toks if "." in t)


def named(intent: str, parent: Node) -> list[str]:
    """Ids of ``parent``'s children that the intent names, or that hold a node it names."""
    toks = tokens(intent)
    if not toks:
        return []
    loose = {_loose(t) for t in toks}
    out = []
    for c in parent.children:
        if c.kind == "file" and any(
            c.id == t.lstrip("./") or c.id.endswith("/" + t.lstrip("./")) for t in toks if "." in t
        ):
            out.append(c.id)
            continue
        if any(_names_node(d, toks, loose) for d in c.walk()):
            out.append(c.id)
    return out


def hinted_tables(intent: str, file: Node) -> list[str]:
    """pyproject tables that plain words of the intent point at (weak evidence)."""
    if not file.path.endswith("pyproject.toml") or file.kind != "file":
        return []
    text = intent.lower()
    keys = {c.key: c.id for c in file.children if c.key}
    out: list[str] = []
    words = set(re.findall(r"[a-z0-9][a-z0-9_-]*", text))
    tools: dict[str, str] = {}
    for key, cid in keys.items():
        parts = key.replace('"', "").split(".")
        shorter = len(parts) > 1 and (parts[1] not in tools or len(key) < len(tools[parts[1]].split("::", 1)[1]))
        if parts[0] == "tool" and parts[1:2] and parts[1] in words and shorter:
            tools[parts[1]] = cid
    out += tools.values()
    optional = re.search(r"optional[- ]dependenc|extras?\b", text)
    if optional and "project.optional-dependencies" in keys:
        out.append(keys["project.optional-dependencies"])
    elif re.search(r"build[- ](backend|system|requires)", text) and "build-system" in keys:
        out.append(keys["build-system"])
    elif any(w in text for w in _PROJECT_WORDS) and "project" in keys:
        out.append(keys["project"])
    return out


def toml_only(intent: str) -> bool:
    """An intent about pyproject.toml and nothing in Python: it names a table or the
    file, or speaks of dependencies, and writes no Python path or call."""
    text = intent.lower()
    code = code_suffixes()
    if (code and re.search(rf"(?:{_alternation(code)})\b", text)) or re.search(r"\w\(", intent):
        return False
    return bool(re.search(r"pyproject|\[[a-z\"' .-]+\]|dependenc|build-system|\btool\.", text))


def add_named(route: Route, parent: Node, intent: str) -> Route:
    """``route`` with the children the intent names acting (strong evidence), and, when
    it does nothing at all, the tables plain words point at (weak evidence)."""
    if route.rewrite:
        return route
    route = _members_stay_members(route, parent, intent)
    taken = {a.node_id for a in route.act} | set(route.delete)
    created = {c.key for c in route.create}
    act = list(route.act)
    for cid in named(intent, parent):
        child = parent.child(cid)
        if cid not in taken and child is not None and child.key not in created:
            act.append(Act(cid, intent))
            taken.add(cid)
    if parent.kind == "repo":
        for path in defining_files(intent, parent):
            if path not in taken:
                act.append(Act(path, intent))
                taken.add(path)
    if parent.kind == "repo" and toml_only(intent) and not named_python(intent, parent):
        # A pyproject-only intent never goes to a Python file.
        act = [a for a in act if _configures(a.node_id)]
        if not act and not route.create:
            root = parent.child("pyproject.toml")
            if root is not None:
                act.append(Act(root.id, intent))
    if not act and not route.create and not route.delete:
        for cid in hinted_tables(intent, parent):
            if cid not in taken:
                act.append(Act(cid, intent))
    return Route(tuple(act), route.create, route.delete, route.rewrite)


_CODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def defining_files(intent: str, repo: Node) -> list[str]:
    """The files that define a function or class the intent names (``slugify``,
    ``Inventory.recent_movements``): the repository router of a small model sends
    "change slugify" to the file that *calls* it. A name defined in more than two files
    says nothing about which one is meant."""
    words = set(_CODE_NAME.findall(intent))
    owners: dict[str, list[str]] = {}
    for f in repo.children:
        for n in f.walk():
            if n.kind in ("function", "class") and "::" in n.id:
                qual = n.id.split("::", 1)[1]
                if qual in words:
                    owners.setdefault(qual, []).append(f.id)
    found = [p for paths in owners.values() if len(set(paths)) <= 2 for p in dict.fromkeys(paths)]
    return list(dict.fromkeys(found))


def _members_stay_members(route: Route, parent: Node, intent: str) -> Route:
    """A new child ``X`` of ``parent`` that the intent calls ``C.X``, for an existing child
    ``C`` that has children (a class), is ``C``'s to create: the small models create it
    twice, at both levels. ``C`` acts instead (it routes the creation into itself)."""
    keep: list[Create] = []
    act = list(route.act)
    for c in route.create:
        owner = next((k for k in parent.children if k.key and k.children
                      and re.search(rf"(?<![\w.]){re.escape(k.key)}\.{re.escape(c.key)}\b", intent)), None)
        if owner is None:
            keep.append(c)
        elif not any(a.node_id == owner.id for a in act):
            act.append(Act(owner.id, intent))
    return Route(tuple(act), tuple(keep), route.delete, route.rewrite)


def named_python(intent: str, parent: Node) -> bool:
    """Whether the intent names a code file (Python's: a language that does not configure
    the project) among ``parent``'s children."""
    return any((lang := find(c)) is not None and not lang.config for c in named(intent, parent))


def _configures(path: str) -> bool:
    """Whether ``path`` is a configuration file (TOML): root ones are always candidates."""
    lang = find(path)
    return lang is not None and lang.config


def code_suffixes() -> tuple[str, ...]:
    """The suffixes of the languages that do not configure the project (``.py``, ``.pyi``)."""
    return tuple(s for name in names() if not by_name(name).config for s in suffixes(name))


def _alternation(sfx: tuple[str, ...]) -> str:
    return "|".join(re.escape(s) for s in sfx)


@functools.lru_cache(maxsize=4)
def _path_pattern(sfx: tuple[str, ...]) -> re.Pattern[str]:
    """A path written in an intent: ``src/app.py``, ``pyproject.toml``."""
    return re.compile(rf"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+(?:{_alternation(sfx)}))\b")
