"""A method's text that uses a sibling method as if it were data (issue 10, real models).

The 1.5B wrote ``sum(len(w) for w in self.words) / len(self.words)`` in a class whose
``words`` is a method: valid Python, lint-clean, and a ``TypeError`` on the first call.
Neither ``compile()`` nor ruff sees it; pyright would, where the project has it. This
check reads the new method alone (``ast``): ``self.NAME`` for a sibling method NAME (not a
property) iterated, measured, indexed, tested for membership or truth, or computed with,
is refused with a hint naming the call to write. Passing ``self.NAME`` on (a callback,
``key=self.NAME``) is left alone.
"""

from __future__ import annotations

import ast
import re
import textwrap

from astm import pyast
from astm.validate.diagnostic import Diagnostic

_PROPERTY = re.compile(rb"^[ \t]*@(?:\w+\.)*(?:cached_)?property\b|^[ \t]*@\w+\.setter\b", re.MULTILINE)


def methods(siblings: dict[str, bytes]) -> frozenset[str]:
    """The names among ``siblings`` (name -> text) that are methods, not properties."""
    return frozenset(
        name for name, text in siblings.items()
        if re.search(rb"^[ \t]*(?:async[ \t]+)?def[ \t]+" + re.escape(name.encode()) + rb"\b", text, re.MULTILINE)
        and not _PROPERTY.search(text)
    )


def misused(new_text: bytes, names: frozenset[str]) -> Diagnostic | None:
    """The first ``self.NAME`` (NAME in ``names``) that ``new_text`` uses as data."""
    if not names:
        return None
    try:
        tree = pyast.parse(textwrap.dedent(new_text.decode("utf-8", "replace")))
    except (SyntaxError, ValueError, RecursionError):
        return None  # the syntax checks speak to it
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and node.attr in names and isinstance(node.ctx, ast.Load)):
            continue
        if _as_data(node, parents.get(node)):
            return Diagnostic(
                f"self.{node.attr} is a method: call it, self.{node.attr}()", "shape", node.lineno,
            )
    return None


def _as_data(node: ast.Attribute, parent: ast.AST | None) -> bool:
    """Whether the bound method ``node`` is used where its value, not a call, is meant."""
    if parent is None or (isinstance(parent, ast.Call) and parent.func is node):
        return False
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)):
        return parent.iter is node
    if isinstance(parent, ast.Call):  # len(self.words), sum(self.words), sorted(...)
        return isinstance(parent.func, ast.Name) and parent.func.id in _TAKES_DATA and node in parent.args
    if isinstance(parent, ast.Subscript):
        return parent.value is node
    if isinstance(parent, ast.Compare):
        return any(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops) or parent.left is node
    if isinstance(parent, (ast.UnaryOp, ast.BinOp, ast.BoolOp)):  # not self.m, self.m + 1
        return True
    if isinstance(parent, (ast.If, ast.IfExp, ast.While)):  # if self.m: (always true)
        return parent.test is node
    return False


_TAKES_DATA = frozenset({"len", "sum", "sorted", "list", "tuple", "set", "dict", "min", "max", "any",
                         "all", "enumerate", "zip", "reversed", "iter", "next", "str", "int", "float", "bool"})
