"""Every function of textkit/core.py has annotated parameters and return; behaviour kept."""

import ast
from pathlib import Path


def test_every_function_is_annotated():
    tree = ast.parse(Path("src/textkit/core.py").read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert {f.name for f in functions} >= {"_norm", "slugify", "word_count", "truncate", "initials"}
    for f in functions:
        args = f.args.posonlyargs + f.args.args + f.args.kwonlyargs
        assert all(a.annotation is not None for a in args), f.name
        assert f.returns is not None, f.name
