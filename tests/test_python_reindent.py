"""``reindent``'s shortcut (``indent._in_place``): a top-level text it lets through is
exactly what the full walk gives back, over real code and odd indentation."""

from __future__ import annotations

import glob
import random
import sysconfig

import pytest

from astm.lang.python import indent, syntax

ODD = [
    b"def f(x):\n        return x\n",  # a body at 8: the walk moves it to 4
    b"def f(x):\n  return x\n",  # at 2
    b"if x:\n    a = 1\nelse:\n  b = 2\n",  # two blocks of one statement, two indentations
    b"def f(\n    a,\n):\n        return a\n",  # continuation lines at 4, the body at 8
    b"class A:\n    x = 1\n\n    def f(self):\n        return 1\n",
    b"try:\n    pass\nexcept E:\n        pass\n",
    b"x = (\n  1,\n)\n",  # no block: continuation lines keep theirs
    b"@dec\ndef f():\n    '''doc\n  text'''\n    return 1\n",
    b"def f(): return 1\n",
    b"match x:\n    case 1:\n        pass\n",
    b"# a comment first\ndef f():\n    return 1\n",
    b"def f():\n\treturn 1\n",
    b"def f(\n a): return a\n",  # a body on a header's continuation line, at 1
    b"def f():\n    if (x and\n  y): return 1\n",  # a nested one at 2
    b"a = (1,\n 2); b = 3\n",  # a statement after ';' on a continuation line
    b"x = (\n     1,  # a comment after code\n)\n",
]


def top_level_texts(limit: int) -> list[bytes]:
    files = sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py"))
    random.Random(7).shuffle(files)
    out: list[bytes] = []
    for path in files[:40]:
        data = open(path, "rb").read()  # noqa: SIM115 - read whole, closed by the GC
        if syntax.python_error(data):
            continue
        tree = syntax.parse_tree(data)
        out += [data[n.start_byte : n.end_byte] + b"\n" for n in tree.root_node.named_children if n.type != "comment"]
    return out[:limit]


def mutated(text: bytes, rng: random.Random) -> bytes:
    lines = text.split(b"\n")
    if len(lines) > 2:
        i = rng.randrange(1, len(lines))
        lines[i] = b" " * rng.choice([1, 2, 4]) + lines[i]
    return b"\n".join(lines)


@pytest.mark.parametrize("text", ODD)
def test_the_shortcut_agrees_on_odd_indentation(text: bytes) -> None:
    slow = _walk(text)
    if indent._in_place(text, 4):
        assert slow == text
    assert indent.reindent(text, b"", tabs=False, width=4) == slow


def test_the_shortcut_agrees_on_the_standard_library() -> None:
    rng = random.Random(3)
    taken = 0
    for text in top_level_texts(3000):
        for candidate in (text, mutated(text, rng)):
            if indent._in_place(candidate, 4):
                taken += 1
                assert _walk(candidate) == candidate, candidate[:200]
            assert indent.reindent(candidate, b"", tabs=False, width=4) == _walk(candidate)
    assert taken > 1000  # the shortcut is what most top-level code takes


def _walk(text: bytes) -> bytes:
    """``reindent`` without its shortcut."""
    saved = indent._in_place
    indent._in_place = lambda _text, _width: False  # type: ignore[assignment]
    try:
        return indent.reindent(text, b"", tabs=False, width=4)
    finally:
        indent._in_place = saved
