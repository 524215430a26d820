"""What a spec agent is shown: its spec, its module's skeleton, its dependencies' APIs
(their stubs: signature and docstring) and, for implementations, the already generated
code of the modules it depends on. A tester sees APIs only, never implementations."""

from __future__ import annotations

import ast
import functools

from astm.specs.deps import Graph
from astm.specs.discover import Spec, SpecModule
from astm.specs.prompting import Prompt
from astm.specs.source import Source

MAX_GENERATED_LINES = 120


def _skeleton(m: SpecModule) -> str:
    return _skeleton_of(m.path, m.text)


@functools.lru_cache(maxsize=256)
def _skeleton_of(path: str, text: bytes) -> str:
    """Once per module, not once per spec: every agent of a module shows the same one."""
    from astm.views import skeleton

    out = skeleton(path, text).text.strip()
    return out or "(empty)"


def _api_stub(source: Source, discovery_path: str | None, name: str) -> str | None:
    """A hand-written definition as signature and docstring."""
    if discovery_path is None:
        return None
    data = source.read(discovery_path)
    try:
        tree = ast.parse(data or b"")
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            doc = ast.get_docstring(node)
            stub = ast.Expr(ast.Constant(doc)) if doc else ast.Expr(ast.Constant(...))
            if isinstance(node, ast.ClassDef):
                members = [n for n in node.body if not isinstance(n, ast.Expr)]
                for n in members:
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        d = ast.get_docstring(n)
                        n.body = [ast.Expr(ast.Constant(d if d else ...))]
                node.body = [stub, *members]
            else:
                node.body = [stub]
            return ast.unparse(node)
    return None


def dependencies(spec: Spec, g: Graph, source: Source, by_module: dict[str, str]) -> str:
    parts = []
    for d in g.deps[spec.ref]:
        module, _, name = d.target.partition(":")
        if d.kind == "spec":
            text = g.specs[d.target].source
            where = ("defined beside it in the same generated module: call it by name"
                     if module == spec.module else f"from {module} import {name}")
        else:
            text = _api_stub(source, by_module.get(module), name) or ""
            where = ("hand-written in the spec module" if module == spec.module
                     else f"from {module} import {name}")
        if text:
            parts.append(f"# {where}\n```python\n{text}\n```")
    return "\n".join(parts) or "(none)"


def generated_context(spec: Spec, g: Graph, texts: dict[str, bytes]) -> str:
    parts = []
    seen: set[str] = set()
    for d in g.deps[spec.ref]:
        module = d.target.partition(":")[0]
        if d.kind != "spec" or module == spec.module or module in seen:
            continue
        seen.add(module)
        text = texts.get(module)
        if not text:
            continue
        lines = text.decode("utf-8", "replace").rstrip().split("\n")
        clipped = lines[:MAX_GENERATED_LINES]
        if len(lines) > MAX_GENERATED_LINES:
            clipped.append(f"# ... ({len(lines) - MAX_GENERATED_LINES} more lines)")
        parts.append(f"# {g.modules[module].generated_path}\n```python\n" + "\n".join(clipped) + "\n```")
    return "\n".join(parts) or "(none)"


def render(prompt: Prompt, spec: Spec, m: SpecModule, g: Graph, source: Source,
           by_module: dict[str, str], texts: dict[str, bytes]) -> str:
    extra = f"\nThe developer adds: {spec.prompt}\n" if spec.prompt else ""
    return prompt.render(
        ref=spec.ref, spec=spec.source, extra=extra, module=m.module, skeleton=_skeleton(m),
        dependencies=dependencies(spec, g, source, by_module),
        generated=generated_context(spec, g, texts) if spec.role == "impl" else "(none)",
        generated_path=m.generated_path, kind=spec.kind, name=spec.name,
    )
