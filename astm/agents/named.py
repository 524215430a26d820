"""Routes the intent decides by itself: when it names its targets exactly, no model
call chooses them (issue 10.3).

A small model routes worse than the intent's own words. Asked to fix
``TextStats.top_words``, the 1.5B model also created a top-level ``top_words``; asked to
change ``slugify``, it picked the file that calls it. So when every name the intent
writes as code resolves (an existing definition, a new member of an existing class, a
file path, a new name added to a named file, a new parameter of a named function), the
route from the repository down to those targets is decided here, and the model only
generates, and routes inside a named class or a named file that holds no target.
Anything unresolved returns None: the model routes as before (``routing``,
``candidates.add_named``).

Names are told apart from references by the word before them: "fix ``Cart.total``" acts,
"raises ``UnknownItemError``", "using ``core.initials``", "a subclass of ``Base``"
only mention. A class named bare acts only after a verb of change ("give ``Item`` a
field"); a function named bare acts unless a reference word precedes it.
"""

from __future__ import annotations

import builtins
import itertools
import re
from dataclasses import dataclass, field

from astm.agents import config_route
from astm.agents.candidates import named_paths
from astm.core.node import Node
from astm.lang import find
from astm.llm.base import Act, Create, Route

REPO = "."  # the repository node's id (astm.engine.run.REPO_ID)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
_QUOTED = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
_NAME = re.compile(r"(?<![\w./-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?![\w/-])")
_SKIP = frozenset({"a", "an", "the", "its", "their", "class", "method", "function", "helper",
                   "private", "public", "existing", "exception", "dataclass", "property"})
_CHANGE = frozenset({"give", "fix", "change", "update", "modify", "extend", "rename", "refactor",
                     "edit", "rewrite", "make", "let", "to", "in", "into", "remove", "delete"})
_REFER = frozenset({"using", "use", "uses", "call", "calls", "calling", "via", "like", "raise",
                    "raises", "raising", "records", "record", "returns", "return", "with",
                    "than", "as", "import", "imports", "by"})
_OF_KIND = frozenset({("subclass",), ("subclasses",), ("instance",), ("instances",), ("type",), ("kind",), ("copy",)})
_BUILTIN = frozenset(dir(builtins))
_FULL_ID = re.compile(r"(?<![\w/.-])([\w./-]+)::([\w.()\"'-]+\w\)?)")


@dataclass
class _Found:
    targets: list[Node] = field(default_factory=list)  # existing nodes that act
    new: list[tuple[Node, str]] = field(default_factory=list)  # (container, new key)
    loose: list[str] = field(default_factory=list)  # unresolved names that read as code


def decide(intent: str, repo: Node, data: dict[str, bytes]) -> dict[str, Route] | None:
    """Each deciding node's route (``"."`` for the repository), or None when the intent
    does not name its targets exactly. ``repo``'s children are the candidate files,
    ``data`` their bytes (a renamed definition's users act too)."""
    files = {c.id: c for c in repo.children}
    code = _decide_code(intent, repo, files, data)
    only_config = code is not None and set(code) == {REPO} and [a.node_id for a in code[REPO].act] == ["pyproject.toml"]
    if (code is not None and not only_config) or "pyproject.toml" not in files:
        return code
    table = config_route.decide(intent, files["pyproject.toml"])
    return code if table is None else {REPO: Route((Act("pyproject.toml", intent),)), "pyproject.toml": table}


def _decide_code(intent: str, repo: Node, files: dict[str, Node], data: dict[str, bytes]) -> dict[str, Route] | None:
    paths = named_paths(intent, list(files))
    text = _QUOTED.sub(" ", _URL.sub(" ", intent))
    ids: list[Node] = []  # full ids written out (a ticket's "Targets: src/app.py::Cart.total")
    for m in reversed(list(_FULL_ID.finditer(text))):
        path = m.group(1)
        node = files[path].find(m.group(0)) if path in files else None
        if node is not None and not node.is_file:
            ids.insert(0, node)
            text = text[: m.start()] + " " + text[m.end() :]
    paths = [p for p in paths if p in text or not any(n.path == p for n in ids)]
    for p in sorted(paths, key=len, reverse=True):
        text = text.replace(p, " ")
    text = re.sub(r"(?<![\w/])(?:[\w.-]+/)+[\w.-]+\.\w+", " ", text)  # partial paths
    text = re.sub(r"(\w)\([^()]*\)", r"\1", text)  # f(a, b): the arguments name nothing
    found = _resolve(text, repo)
    if found is None:
        return None
    found.targets[:0] = [n for n in ids if n not in found.targets]
    if found.loose:
        # New names: new definitions in the one named file that holds no target, or
        # (snake_case) the new parameters, fields and names of the targets.
        spare = [p for p in paths if not any(t.path == p for t in found.targets)
                 and (lang := find(p)) is not None and not lang.config]
        snake = all(re.fullmatch(r"_*[a-z][a-z0-9_]*", n) for n in found.loose)
        if len(spare) == 1 and all("." not in n for n in found.loose):
            found.new.extend((files[spare[0]], n) for n in found.loose)
        elif not (snake and (found.targets or found.new)):
            return None
    if (not found.targets and not found.new and not paths) or _nested(found):
        return None
    renames = bool(re.search(r"\brenam", intent, re.IGNORECASE))
    routes: dict[str, tuple[list[Act], list[Create]]] = {}

    def add(parent: str, item: Act | Create) -> None:
        acts, creates = routes.setdefault(parent, ([], []))
        if isinstance(item, Act) and all(a.node_id != item.node_id for a in acts):
            acts.append(item)
        elif isinstance(item, Create) and all(c.key != item.key for c in creates):
            creates.append(item)

    def reach(node: Node, last: Act | None) -> None:
        """The repository and every node above ``node`` route toward it; ``last`` is
        how ``node``'s parent sends it the intent (None: it routes)."""
        chain = _chain(files[node.path], node)
        add(REPO, Act(node.path, intent))
        for i, (above, below) in enumerate(itertools.pairwise(chain)):
            end = i == len(chain) - 2
            add(above.id, last if end and last is not None else Act(below.id, intent, mode="route"))

    for t in found.targets:
        reach(t, Act(t.id, intent, rename=renames and t.kind != "class"))
    if renames:  # every node that uses a renamed definition follows it, in any file
        for user, followed in _users(found.targets, files, data, _new_names(intent, found.targets)):
            reach(user, Act(user.id, intent, proposed=followed))
    for owner, key in found.new:
        reach(owner, None)
        add(owner.id, Create(key, intent, position="end"))
    for p in paths:
        every = _every(intent, files[p]) if p not in routes else []
        for n in every:  # "type hints to the functions in core.py": each acts, no router
            reach(n, Act(n.id, intent))
        add(REPO, Act(p, intent))
    return {nid: Route(tuple(acts), tuple(creates)) for nid, (acts, creates) in routes.items()}


_EVERY = re.compile(r"\b(?:every|all|each)\b[^.;]*?\b(functions?|methods?|classes)\b|\bthe (functions|methods|classes)\b",
                    re.IGNORECASE)


def _every(intent: str, file: Node) -> list[Node]:
    """The definitions of ``file`` an intent about all of a kind of them names: "every
    function" (top-level functions), "all methods" (every class's), "the classes"."""
    m = _EVERY.search(intent)
    if m is None:
        return []
    word = (m.group(1) or m.group(2)).lower()
    if word.startswith("function"):
        return [c for c in file.children if c.kind == "function"]
    if word.startswith("method"):
        return [d for c in file.children if c.kind == "class" for d in c.children if d.kind == "function"]
    return [c for c in file.children if c.kind == "class"]


def defined(repo: Node, routes: dict[str, Route]) -> set[str]:
    """Every name the candidate files define (any depth) and every key a route creates."""
    names = {n.key for f in repo.children for n in f.walk() if n.key and not n.key.startswith("(")}
    return names | {c.key for r in routes.values() for c in r.create}


def summary(routes: dict[str, Route]) -> str:
    """The nodes a decided route sets acting and creating, for the run's notices."""
    acting = [a.node_id for r in routes.values() for a in r.act if a.mode != "route" and "::" in a.node_id]
    acting += [f"{nid}::{c.key} (new)" if "::" not in nid else f"{nid}.{c.key} (new)"
               for nid, r in routes.items() for c in r.create]
    files = [a.node_id for a in routes[REPO].act if not any(n.startswith(a.node_id + "::") for n in acting)]
    return ", ".join(acting + files)


def _resolve(text: str, repo: Node) -> _Found | None:
    """The targets, new members and unresolved code names of ``text``; None when a name
    is ambiguous (two definitions of it)."""
    quals: dict[str, list[Node]] = {}
    keys: dict[str, list[Node]] = {}
    for f in repo.children:
        lang = find(f.path)
        if lang is None or lang.config:
            continue
        for n in f.walk():
            if n.kind in ("function", "class") and "::" in n.id:
                quals.setdefault(n.id.split("::", 1)[1], []).append(n)
                if n.key:
                    keys.setdefault(n.key, []).append(n)
    modules = {m: f for f in repo.children if (lang := find(f.path)) for m in lang.module_names(f.path)}
    out = _Found()
    for m in _NAME.finditer(text):
        name = m.group(1).rstrip(".")
        before = _words_before(text, m.start())
        nodes = quals.get(name) or (keys.get(name) if "." not in name else None)
        if nodes is None and "." in name:
            nodes = _by_module(name, modules)
        if nodes:
            if len(nodes) > 1:
                return None
            # A name written as code acts unless a reference word precedes it; a plain
            # word ("slugify", "Item", "total") only after a verb of change or as the
            # subject of its clause ("total must round"): "cut the slug" names nothing.
            subject = not before and not _verb(text, m.end())
            if _refers(before) or not ("." in name or _code_like(name) or subject or (before and before[0] in _CHANGE)):
                continue  # mentioned, not changed
            if nodes[0] not in out.targets:
                out.targets.append(nodes[0])
            continue
        if "." in name:
            owner, new = name.rsplit(".", 1)
            holders = quals.get(owner) or []
            if len(holders) == 1 and holders[0].kind == "class" and not _refers(before):
                if (holders[0], new) not in out.new:
                    out.new.append((holders[0], new))
                continue
            out.loose.append(name)
        elif name in _BUILTIN:
            continue
        elif _code_like(name) and name not in out.loose:
            out.loose.append(name)
    return out


def _new_names(intent: str, targets: list[Node]) -> dict[str, str]:
    """``{"_norm": "_normalize"}`` from "rename _norm to _normalize" (each target's key)."""
    out: dict[str, str] = {}
    for t in targets:
        if t.key:
            m = re.search(rf"(?<![\w.]){re.escape(t.key)}\b.*?\b(?:to|into|as)\s+`?([A-Za-z_]\w*)", intent)
            if m and m.group(1) != t.key:
                out[t.key] = m.group(1)
    return out


def _users(
    targets: list[Node], files: dict[str, Node], data: dict[str, bytes], renamed: dict[str, str]
) -> list[tuple[Node, str | None]]:
    """The innermost nodes, other than ``targets``, whose text uses a target's name, each
    with its text under the new name when the intent says it (no model call needed)."""
    out: dict[str, tuple[Node, str | None]] = {}
    for t in targets:
        if not t.key:
            continue
        word = re.compile(rb"(?<![\w.])" + re.escape(t.key.encode()) + rb"\b")
        for path, f in files.items():
            for m in word.finditer(data.get(path, b"")):
                node = _innermost(f, m.start())
                if node is None or node in targets or node.id in out or node.is_file:
                    continue
                out[node.id] = (node, None)
    if not renamed or any(t.key not in renamed for t in targets if t.key):
        return list(out.values())
    done = []
    for node, _ in out.values():
        text = data[node.path][node.start : node.end]
        for old, new in renamed.items():
            text = re.sub(rb"(?<![\w.])" + re.escape(old.encode()) + rb"\b", new.encode(), text)
        done.append((node, text.decode("utf-8", "replace")))
    return done


def _innermost(node: Node, at: int) -> Node | None:
    """The deepest node of ``node``'s tree whose range holds byte ``at``."""
    for c in node.children:
        if c.start <= at < c.end:
            return _innermost(c, at) or c
    return None


def _by_module(name: str, modules: dict[str, Node]) -> list[Node] | None:
    """``textkit.core.initials``: a definition named through its module."""
    for mod, f in modules.items():
        if name.startswith(mod + "."):
            qual = name[len(mod) + 1 :]
            hit = [n for n in f.walk() if "::" in n.id and n.id.split("::", 1)[1] == qual]
            if hit:
                return hit
    return None


def _code_like(word: str) -> bool:
    """A word that reads as code: snake_case, _private, CamelCase. Not a capitalised
    word ("Item") nor an acronym ("URL", "CLI"): those are plain words."""
    return "_" in word.strip("_") or word.startswith("_") or (
        any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)
    )


def _words_before(text: str, at: int) -> tuple[str, ...]:
    """The two words before position ``at``, nearest first, skipping articles and kind
    words ("the method")."""
    clause = re.split(r"[;:.,!?()]\s|[;:!?()]|\n", text[:at])[-1]  # a name may start a clause
    words = [w.lower() for w in re.findall(r"[A-Za-z_]+", clause) if w.lower() not in _SKIP]
    return tuple(reversed(words[-2:]))


def _verb(text: str, end: int) -> bool:
    """Whether the word ending at ``end`` reads as a verb: an article or a name follows
    ("add a method", "add Cart.clear"), not a verb ("total rounds")."""
    nxt = re.match(r"\s+([A-Za-z_][\w.]*)", text[end:])
    return nxt is not None and (nxt.group(1).lower() in ("a", "an", "the") or "." in nxt.group(1)
                                or _code_like(nxt.group(1)) or nxt.group(1)[:1].isupper())


def _refers(before: tuple[str, ...]) -> bool:
    """Whether the words before a name make it a reference: "using f", "raises E",
    "a subclass of Base"."""
    if not before:
        return False
    return before[0] in _REFER or (before[0] == "of" and before[1:2] in _OF_KIND)


def _chain(file: Node, node: Node) -> list[Node]:
    """``file`` .. ``node``, the nodes between them included."""
    if file is node:
        return [file]
    for c in file.children:
        if c is node or any(d is node for d in c.walk()):
            return [file, *_chain(c, node)]
    return [file]


def _nested(found: _Found) -> bool:
    """Whether one named node holds another: the model routes that (the outer one's own
    lines and its members both change)."""
    spans = [(t.path, t.start, t.end) for t in found.targets]
    return any(
        p == q and (s, e) != (s2, e2) and s <= s2 and e2 <= e
        for p, s, e in spans for q, s2, e2 in spans
    ) or any(o in found.targets for o, _ in found.new)
