"""``ast.parse`` that threads may share.

CPython 3.11 keeps the recursion depth of its C-AST to Python-object conversion in the
interpreter, not per thread: two threads building Python ASTs at once can fail with
``SystemError: AST constructor recursion depth mismatch`` (cpython gh-106905). Tracks run
tickets on threads, so every Python AST astm builds goes through this lock. Plain
``compile()`` to code builds no Python objects and needs none.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    with _LOCK:
        return ast.parse(source, filename)


def parse_only(source: str | bytes, filename: str = "<view>") -> ast.AST:
    """``compile(..., PyCF_ONLY_AST)``: the AST, without ``ast.parse``'s feature flags."""
    with _LOCK:
        return compile(source, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
