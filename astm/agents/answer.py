"""Turn a model's (or a plan's) answer into the exact bytes of a node's new text."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

from astm.agents import requests
from astm.agents.requests import Ask
from astm.core.node import Node, node_id
from astm.lang import by_name, nests
from astm.validate.diagnostic import Diagnostic

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE)


def extract(answer: str, want: Callable[[str], bool] | None = None) -> str:
    """The code inside the first fenced block, if the answer has one; else the answer.

    With ``want``, the first block it accepts wins (a model that wrote several fences:
    the one holding the node), else the first non-empty one."""
    blocks = [m.group(2) for m in _FENCE.finditer(answer)]
    if not blocks:
        return answer
    if want is not None:
        chosen = next((b for b in blocks if b.strip() and want(b)), None)
        if chosen is not None:
            return chosen
    return next((b for b in blocks if b.strip()), "")


def normalise(
    answer: str, *, eol: bytes, max_bytes: int, want: Callable[[str], bool] | None = None
) -> tuple[bytes, Diagnostic | None]:
    """Fences stripped, outer blank lines dropped, one final newline, the file's EOLs."""
    if "\x00" in answer:
        return b"", Diagnostic("the answer contains NUL bytes", "answer")
    if len(answer.encode("utf-8", "surrogatepass")) > max_bytes:
        return b"", Diagnostic(f"the answer is longer than {max_bytes} bytes", "answer")
    text = extract(answer, want).replace("\r\n", "\n").replace("\r", "\n")
    # Only whole blank lines at either end go: whitespace inside the text can be data
    # (a TOML multi-line string), so no line is stripped.
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return b"", Diagnostic("the answer is empty; give the whole new text of the node", "answer")
    try:
        data = ("\n".join(lines).rstrip(" \t") + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return b"", Diagnostic("the answer is not valid UTF-8 text", "answer")
    return data.replace(b"\n", eol) if eol != b"\n" else data, None


# ---- what real models answer instead of one node (issue 10) ------------------------


def defines(block: str, language: str, key: str) -> bool:
    """Whether a code block holds the definition of ``key`` (a fence worth taking)."""
    return by_name(language).defines(block, key)


def strip_prose(text: bytes, language: str) -> bytes:
    """Prose a model wrote around its code without fences, taken off: the lines before
    the first line of code and after the last one that read as sentences (they start
    with a letter at the margin and are not code on their own)."""
    lines = text.split(b"\n")
    start, end = 0, len(lines)
    while start < end and (not lines[start].strip() or _prose(lines[start], language)):
        start += 1
    while end > start and (not lines[end - 1].strip() or _prose(lines[end - 1], language)):
        end -= 1
    if start == 0 and end == len(lines):
        return text
    if start == end:
        return text  # all prose: the usual checks say so
    return b"\n".join(lines[start:end]) + b"\n"


def _prose(line: bytes, language: str) -> bool:
    lang = by_name(language)
    if not line[:1].isalpha() or lang.starts_code(line):
        return False
    return not lang.parses(line + b"\n")


def _dedent(text: bytes) -> bytes:
    return textwrap.dedent(text.decode("utf-8", "replace")).encode("utf-8")


def _same(a: bytes, b: bytes) -> bool:
    """Equal up to indentation and trailing whitespace."""
    def canon(t: bytes) -> list[bytes]:
        return [ln.rstrip() for ln in _dedent(t).strip(b"\n").split(b"\n")]

    return canon(a) == canon(b)


@dataclass(frozen=True)
class Extracted:
    """A node's own text taken out of a larger answer, and what the rest proposes."""

    text: bytes
    imports: list[bytes] = field(default_factory=list)  # module imports the answer added
    asks: list[Ask] = field(default_factory=list)  # proposals for other nodes
    diag: Diagnostic | None = None


def absorb(
    answer: str, *, max_bytes: int, path: str, language: str, tree: Node, base: bytes,
    node: Node | None, parent: Node, kind: str | None, key: str | None, owner: str,
    strict: bool = False, rename: bool = False, drop_stray: bool = False,
) -> tuple[bytes, list[bytes], list[Ask], Diagnostic | None]:
    """A model's answer -> the node's own text (LF), the imports and requests it carries.

    Normalised (the fence that holds the node, prose around unfenced code dropped),
    request lines taken out wherever they stand, and the node's definition taken out of
    a larger answer (``extract_node``). The language's own import split and shape checks
    come after. ``strict`` (a plan, which states every edit itself): only the request
    lines are taken; the text is otherwise the node's as written."""
    want = (lambda b: defines(b, language, key)) if key and not strict else None
    new, diag = normalise(answer, eol=b"\n", max_bytes=max_bytes, want=want)
    if diag is not None:
        return b"", [], [], diag
    if not strict:
        new = strip_prose(new, language)
        lang = by_name(language)
        if not lang.parses(new):  # a slip such as ``def f(x: int -> int:`` (lang.mend)
            new = lang.mend(new) or new
    new, asks = requests.take(new, owner)
    if not new.strip():
        return b"", [], [], Diagnostic("the answer has only requests, no text for the node", "answer")
    if strict:
        return new, [], asks, None
    got = extract_node(
        new, path=path, language=language, tree=tree, base=base, node=node, kind=kind, key=key,
        parent=parent, owner=owner, rename=rename, drop_stray=drop_stray,
    )
    return got.text, got.imports, asks + got.asks, got.diag


def extract_node(
    text: bytes, *, path: str, language: str, tree: Node, base: bytes, node: Node | None,
    kind: str | None, key: str | None, parent: Node, owner: str, rename: bool = False,
    drop_stray: bool = False,
) -> Extracted:
    """The node's own definition out of an answer that holds more (the whole file, the
    whole class, a helper next to it), or out of less (a function's body without its
    ``def`` line). Other nodes the answer changed or added become proposals for the
    parent; the ones it left as they were are dropped. An answer that is already one
    node, or that cannot be read, is returned as it is: the usual checks speak to it."""
    if key is None or kind in ("imports", "preamble"):
        return Extracted(text)
    lang = by_name(language)
    if kind is not None and node is not None:
        wrapped = lang.wrap_body(text, base[node.start : node.end], kind)
        if wrapped is not None:
            return Extracted(wrapped)
    data = lang.dedent(text)
    answer = _parse(data, path)
    if answer is None or not lang.parses(data):
        # A whole file that does not parse (junk in another table): the node's own lines
        # may still stand apart by the language's line structure (TOML's headers).
        own_lines = lang.section(data, key)
        if own_lines is not None and own_lines != data and lang.parses(own_lines):
            return Extracted(own_lines)
    if answer is None:
        return Extracted(text)
    kinds = {kind} if kind is not None else {"function", "class", "assignment", "table", "array_table"}
    # Python answers are parsed dedented, so their qualified names start at the top.
    want = requests.qualname(node) if node is not None else _child_qual(parent, key)
    found = [n for n in answer.walk() if n.kind in kinds and n.key == key and n is not answer]
    if not found and rename and node is not None:
        # A renamed node in a whole-file answer: the one definition of its kind, at its
        # level, whose name the file does not have yet (``_norm`` -> ``_normalize``).
        level = _answer_parent_qual(want)
        have = {n.key for n in tree.walk() if n.key}
        found = [n for n in answer.walk() if n.kind in kinds and n is not answer and n.key not in have
                 and _answer_parent_qual(requests.qualname(n)) == level]
        if len(found) == 1:
            want = requests.qualname(found[0])
    exact = [n for n in found if requests.qualname(n) == want]
    if not found and node is None and parent.key and any(c.key == parent.key for c in answer.children):
        # A new member's worker that wrote its class back without the member (the 1.5B
        # did, three times running): say that, not "keep the name".
        return Extracted(text, diag=Diagnostic(
            f"the answer repeats {parent.key} without {key}: write only the new {key}, starting with its first line",
            "shape"))
    if len(found) != 1 and len(exact) != 1:
        return Extracted(text)  # nothing or several to take: the shape check names it
    own = exact[0] if len(exact) == 1 else found[0]
    top = [c for c in answer.children if c.kind not in ("imports", "preamble")]
    if top == [own] and not _loose_code(answer, data, language):
        return Extracted(text)  # the usual case: one node (maybe with imports above)
    own_qual = requests.qualname(own)
    if not want.endswith(own_qual):
        return Extracted(text)
    prefix = want[: len(want) - len(own_qual)]  # answer names -> file names
    stray = _new_loose_code(answer, data, base, language)
    if stray and not drop_stray:  # dropped: a route the intent decided takes only the node
        return Extracted(text, diag=Diagnostic(
            f"the answer has code outside the definition of {key}", "shape", snippet=stray))
    body = data[own.start : own.end]
    imports = _new_imports(answer, data, tree, base, language)
    asks = _proposals(answer, data, own, prefix, tree, base, owner)
    wrong = _against_standards(asks, path, base)
    if wrong is not None:  # e.g. a top-level [dependencies]: the node retries with the hint
        return Extracted(text, diag=wrong)
    if imports:  # each proposal is validated alone: it carries the imports it may need
        head = b"\n".join(imports) + b"\n\n"
        asks = [dataclasses.replace(a, text=head + (a.text or b"")) for a in asks]
    return Extracted(body, imports, asks)


def _answer_parent_qual(qual: str) -> str:
    """``Cart.total`` -> ``Cart``; ``total`` -> ``""``."""
    return qual.rsplit(".", 1)[0] if "." in qual else ""


def _against_standards(asks: list[Ask], path: str, base: bytes) -> Diagnostic | None:
    """A new table the answer proposes for pyproject.toml that breaks its standards."""
    from astm.validate import pyproject

    if not pyproject.applies(path):
        return None
    for a in asks:
        if a.what == "sibling" and a.text is not None:
            sep = b"" if not base or base.endswith(b"\n\n") else (b"\n" if base.endswith(b"\n") else b"\n\n")
            diag = pyproject.check_node(base + sep + a.text, a.text, path=path, base=base)
            if diag is not None:
                return diag
    return None


def _parse(data: bytes, path: str) -> Node | None:
    from astm.errors import TargetError
    from astm.lang import parse_file

    try:
        return parse_file(path, data)
    except TargetError:
        return None


def _child_qual(parent: Node, key: str) -> str:
    qual = requests.qualname(parent)
    return f"{qual}.{key}" if qual and nests(parent.path) else key


def _loose_code(answer: Node, text: bytes, language: str) -> list[bytes]:
    """Lines of code the answer has outside every node (a ``__main__`` guard, a call)."""
    covered = bytearray(len(text))
    for c in answer.children:
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    out: list[bytes] = []
    pos = 0
    for line in text.split(b"\n"):
        inside = pos < len(covered) and covered[pos]
        s = line.strip()
        if s and not inside and not by_name(language).inert(s):
            out.append(s)
        pos += len(line) + 1
    return out


def _new_loose_code(answer: Node, text: bytes, base: bytes, language: str) -> bytes:
    """The first loose line of code that the file does not already have ("" if none)."""
    have = {ln.strip() for ln in base.split(b"\n")}
    return next((s for s in _loose_code(answer, text, language) if s not in have), b"").decode(
        "utf-8", "replace"
    )


def _new_imports(answer: Node, text: bytes, tree: Node, base: bytes, language: str) -> list[bytes]:
    """Module import statements of the answer the file does not already have (none in a
    language without an ``imports`` node)."""
    block = next((c for c in answer.children if c.kind == "imports"), None)
    if block is None:
        return []
    import_lines = by_name(language).import_lines
    stmts = import_lines(text[block.start : block.end])
    mine = next((c for c in tree.children if c.kind == "imports"), None)
    have: set[bytes] = set()
    if mine is not None:
        old = import_lines(base[mine.start : mine.end])
        have = {b" ".join(s.split()) for s in old}
    return [s for s in stmts if b" ".join(s.split()) not in have]


def _proposals(
    answer: Node, text: bytes, own: Node, prefix: str, tree: Node, base: bytes, owner: str
) -> list[Ask]:
    """Other nodes of the answer that differ from the file: proposals for the parent."""
    related = {n.id for n in own.walk()}
    asks: list[Ask] = []
    for n in answer.walk():
        if n is answer or n.id in related or n.kind in ("imports",) or _is_ancestor(n, own):
            continue
        qual = prefix + requests.qualname(n)
        mine = tree.find(node_id(tree.path, qual))
        if mine is not None:
            if mine.children and n.children:
                continue  # a class: its members are compared one by one
            if _same(text[n.start : n.end], base[mine.start : mine.end]):
                continue
            asks.append(Ask("change", qual, f"the change {owner} proposed for it", owner, text[n.start : n.end]))
            continue
        parent = _answer_parent(answer, n)
        if parent is not None and parent is not answer and tree.find(node_id(tree.path, prefix + requests.qualname(parent))) is None:
            continue  # inside a new node: part of its text
        if n.key is None:
            continue
        before = _previous(answer, n)
        after = prefix + requests.qualname(before) if before is not None else None
        if after is not None and tree.find(node_id(tree.path, after)) is None:
            after = None
        asks.append(Ask("sibling", qual, f"the change {owner} proposed for it", owner, text[n.start : n.end], after))
    return asks[: requests.MAX_PROPOSALS]


def _is_ancestor(n: Node, own: Node) -> bool:
    return n is not own and any(d is own for d in n.walk())


def _answer_parent(answer: Node, n: Node) -> Node | None:
    for p in answer.walk():
        if any(c is n for c in p.children):
            return p
    return None


def _previous(answer: Node, n: Node) -> Node | None:
    parent = _answer_parent(answer, n)
    if parent is None:
        return None
    kids = [c for c in parent.children if c.kind not in ("imports", "preamble")]
    i = next(i for i, c in enumerate(kids) if c is n) if any(c is n for c in kids) else 0
    return kids[i - 1] if i > 0 else None


def rewrap(text: bytes, old: bytes) -> bytes | None:
    """A Python function's body answered without its ``def`` line. The rule is Python's
    (``astm.lang.python.answers``, reached through ``Language.wrap_body``); the name
    stays here for its callers."""
    from astm.lang.python.answers import rewrap as python_rewrap

    return python_rewrap(text, old)
