"""A spec agent's answer, absorbed as real models write it, and checked at node level.

The answer has been through the engine's ``normalise`` (fences, blank lines). Here: its
import lines are kept apart (they go to the module's import block), the spec's definition
is taken out of it even when the model answered with a whole module, a copied
``@astm.magic`` decorator is dropped (it would make the implementation forward to itself),
and the node-level checks run: it compiles, defines exactly the spec's name with the
spec's kind and parameters, and uses no helper it defines outside the definition.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from astm.specs.discover import Spec
from astm.validate.diagnostic import Diagnostic

Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Definition:
    text: str  # the definition alone, decorators included, no trailing newline
    imports: tuple[str, ...]  # its import statements, one per entry


def _is_astm(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(a.name == "astm" or a.name.startswith("astm.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "astm" and not node.level
    return False


def _astm_decorator(dec: ast.expr) -> bool:
    target = dec.func if isinstance(dec, ast.Call) else dec
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return target.value.id == "astm" and target.attr in ("magic", "test")
    return isinstance(target, ast.Name) and target.id in ("magic",)


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = node.args
    out = [x.arg for x in (*a.posonlyargs, *a.args)]
    out += [f"*{a.vararg.arg}"] if a.vararg else []
    out += [x.arg for x in a.kwonlyargs]
    out += [f"**{a.kwarg.arg}"] if a.kwarg else []
    return out


def _spec_params(spec: Spec) -> list[str] | None:
    try:
        tree = ast.parse(spec.source.strip() + "\n")
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    return _params(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def take_definition(text: bytes, spec: Spec, generated_dir: str) -> tuple[Definition | None, Diagnostic | None]:
    source = text.decode("utf-8")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return None, Diagnostic(f"not valid Python: {exc.msg}", "compile", exc.lineno)
    lines = source.split("\n")
    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not _is_astm(node):
            seg = ast.get_source_segment(source, node) or ""
            mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if generated_dir in (mod or "").split(".") or any(
                    generated_dir in a.name.split(".") for a in node.names):
                return None, Diagnostic(f"do not import from a {generated_dir} module; import "
                                        "from the spec modules", "shape", node.lineno)
            if any((a.asname or a.name) == spec.name for a in node.names):
                return None, Diagnostic(f"the answer imports {spec.name}, the name it must "
                                        "define", "shape", node.lineno)
            imports.append(" ".join(seg.split()) if "\n" not in seg else seg)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    mine = [n for n in defs if n.name == spec.name]
    if not mine:
        others = ", ".join(n.name for n in defs)
        return None, Diagnostic(f"the answer does not define {spec.name}"
                                + (f" (it defines {others})" if others else ""), "shape")
    if len(mine) > 1:
        return None, Diagnostic(f"the answer defines {spec.name} {len(mine)} times", "shape",
                                mine[1].lineno)
    node = mine[0]
    is_class = isinstance(node, ast.ClassDef)
    if is_class != (spec.kind == "class"):
        got = "a class" if is_class else "a function"
        return None, Diagnostic(f"{spec.name} must be a {spec.kind}; the answer defines {got}", "shape",
                                node.lineno)
    if not is_class:
        want, got = _spec_params(spec), _params(node)  # type: ignore[arg-type]
        if want is not None and want != got:
            return None, Diagnostic(f"keep the spec's parameters ({', '.join(want) or 'none'}); the "
                                    f"answer has ({', '.join(got) or 'none'})", "shape", node.lineno)
    outside = _outside_names(tree, node)
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    helpers = sorted(used & outside)
    if helpers:
        return None, Diagnostic(f"{spec.name} uses {', '.join(helpers)}, defined outside it; keep "
                                f"helpers inside {spec.name} (module-level code is dropped)", "shape")
    kept = [d for d in node.decorator_list if not _astm_decorator(d)]
    head = [f"@{ast.get_source_segment(source, d)}" for d in kept]
    body = "\n".join(lines[node.lineno - 1: node.end_lineno])
    return Definition("\n".join([*head, body]).rstrip(), tuple(dict.fromkeys(imports))), None


def _outside_names(tree: ast.Module, keep: Def) -> set[str]:
    """Names the answer binds at module level outside the spec's definition (dropped)."""
    out: set[str] = set()
    for node in tree.body:
        if node is keep or isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                out.add(sub.id)
    return out


def definitions_in(body: bytes) -> tuple[dict[str, str], tuple[str, ...]]:
    """An existing generated body's top-level definitions by name, and its imports (so
    unchanged specs keep their code without a model call)."""
    try:
        source = body.decode("utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return {}, ()
    lines = source.split("\n")
    defs: dict[str, str] = {}
    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            defs[node.name] = "\n".join(lines[start - 1: node.end_lineno]).rstrip()
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node) or "")
    return defs, tuple(i for i in imports if i)
