"""Find specs: the ``@astm.magic`` / ``@astm.test`` definitions of the configured roots.

Spec modules are read with ``ast`` and never executed: discovery is fast (a no-op build
of hundreds of specs stays well under a second), safe (a module that runs code at import
runs none here) and sees what the runtime would refuse (a closure, a method, a custom
metaclass, a name clash with hand-written code) as one problem per spec, naming it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from astm.specs.config import BuildConfig
from astm.specs.digest import SpecDigest, api_digest, spec_digest
from astm.specs.runtime import generated_module, spec_ref
from astm.specs.source import Source

Role = Literal["impl", "test"]
_DECORATORS: dict[str, Role] = {"magic": "impl", "test": "test"}
_BACKTICK = re.compile(r"`([A-Za-z_][A-Za-z0-9_.]*)`")
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str
    ref: str | None = None

    def __str__(self) -> str:
        where = self.ref or self.path
        if self.ref:
            where = f"{self.ref} ({self.path}" + (f", line {self.line})" if self.line else ")")
        elif self.line:
            where = f"{self.path} (line {self.line})"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Spec:
    ref: str
    module: str
    name: str
    kind: Literal["function", "class"]
    role: Role
    path: str
    line: int
    source: str  # the stub as written, decorators included
    digest: SpecDigest
    deps: tuple[str, ...]  # "module:name" targets: explicit, bases, inferred
    explicit: tuple[str, ...]
    prompt: str = ""


@dataclass(frozen=True)
class SpecModule:
    module: str
    path: str
    root: str
    role: Role
    specs: tuple[Spec, ...]
    text: bytes
    generated_path: str
    generated_module: str
    local_apis: dict[str, str] = field(default_factory=dict)  # hand-written name -> API digest

    def spec(self, name: str) -> Spec | None:
        return next((s for s in self.specs if s.name == name), None)


def module_name(path: str, root: str) -> str:
    rel = path if root == "." else path[len(root) + 1:]
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def generated_path(path: str, generated: str) -> str:
    folder, _, name = path.rpartition("/")
    if name == "__init__.py":  # a package's specs: beside the package, under its name
        folder, _, pkg = folder.rpartition("/")
        name = f"{pkg}.py"
    return f"{folder}/{generated}/{name}" if folder else f"{generated}/{name}"


def root_of(path: str, conf: BuildConfig) -> tuple[str, Role] | None:
    """The most specific configured root holding ``path``, and its role."""
    best: tuple[str, Role] | None = None
    placed: tuple[tuple[tuple[str, ...], Role], ...] = (
        (conf.source_roots, "impl"), (conf.test_roots, "test"))
    for roots, role in placed:
        for r in roots:
            if (r == "." or path.startswith(r + "/")) and (best is None or len(r) > len(best[0])):
                best = (r, role)
    return best


@dataclass
class Discovery:
    modules: list[SpecModule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every .py file under the roots
    by_module: dict[str, str] = field(default_factory=dict)  # module name -> path

    def module(self, name: str) -> SpecModule | None:
        return next((m for m in self.modules if m.module == name), None)


def discover(source: Source, conf: BuildConfig) -> Discovery:
    out = Discovery()
    roots = tuple(dict.fromkeys(conf.source_roots + conf.test_roots))
    for path in source.files(roots):
        if not path.endswith(".py") or conf.generated in path.split("/")[:-1]:
            continue
        placed = root_of(path, conf)
        if placed is None:
            continue
        out.files.append(path)
        out.by_module.setdefault(module_name(path, placed[0]), path)
        data = source.read(path)
        if data is None or b"astm" not in data:
            continue
        found = read_module(path, placed[0], data, conf, out.problems)
        if found is not None:
            out.modules.append(found)
    return out


def read_module(path: str, root: str, data: bytes, conf: BuildConfig,
                problems: list[Problem]) -> SpecModule | None:
    """The specs of one file, or None when it has none; problems are appended."""
    try:
        tree = ast.parse(data, filename=path)
    except SyntaxError as exc:
        problems.append(Problem(path, exc.lineno, f"not valid Python: {exc.msg}"))
        return None
    except ValueError as exc:  # NUL bytes, bad encoding
        problems.append(Problem(path, None, f"cannot be read as Python: {exc}"))
        return None
    names = _astm_names(tree)
    if not names[0] and not names[1]:
        return None
    module = module_name(path, root)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    imports = _imports(tree, package)
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    specs: list[Spec] = []
    bound = _top_bindings(tree)
    for node, scope in _definitions(tree):
        role, call = _spec_decorator(node, names)
        if role is None:
            continue
        ref = spec_ref(module, node.name)
        if scope != "module":
            what = "a method" if scope == "class" else "defined inside a function (a closure)"
            problems.append(Problem(path, node.lineno, f"{what}; specs must be top-level "
                                    "functions or classes", spec_ref(module, node.name)))
            continue
        if isinstance(node, ast.ClassDef) and any(k.arg == "metaclass" for k in node.keywords):
            problems.append(Problem(path, node.lineno, "a class with a custom metaclass "
                                    "cannot be generated; drop the metaclass or write the class "
                                    "by hand", ref))
            continue
        clash = [ln for name, ln in bound if name == node.name and ln != node.lineno]
        if clash:
            problems.append(Problem(path, node.lineno, f"name clash: {node.name} is also bound "
                                    f"by hand-written code at line {clash[0]}", ref))
            continue
        kind: Literal["function", "class"] = "class" if isinstance(node, ast.ClassDef) else "function"
        explicit, prompt, infer = _arguments(call, imports, module)
        deps = list(explicit)
        if isinstance(node, ast.ClassDef):
            deps += [t for t in (_resolve(b, imports, module) for b in node.bases) if t]
        if infer:
            deps += _inferred(node, imports, module)
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        source = "\n".join(lines[start - 1: node.end_lineno or node.lineno])
        own = f"{module}:{node.name}"
        specs.append(Spec(
            ref=ref, module=module, name=node.name, kind=kind, role=role, path=path,
            line=node.lineno, source=source, digest=spec_digest(node),
            deps=tuple(d for d in dict.fromkeys(deps) if d != own),
            explicit=tuple(dict.fromkeys(explicit)), prompt=prompt,
        ))
    if not specs:
        return None
    roles = {s.role for s in specs}
    if len(roles) > 1:
        problems.append(Problem(path, None, "holds both @astm.magic and @astm.test specs; "
                                "keep tests in their own module"))
        return None
    role = specs[0].role
    spec_names = {s.name for s in specs}
    local = {n.name: api_digest(n) for n in tree.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
             and n.name not in spec_names}
    gpath = generated_path(path, conf.generated)
    return SpecModule(module, path, root, role, tuple(specs), data, gpath,
                      generated_module(module, conf.generated), local)


# ---- reading one module ----------------------------------------------------------


def _astm_names(tree: ast.Module) -> tuple[set[str], dict[str, Role]]:
    """Names bound to the astm module, and names bound to its decorators."""
    modules: set[str] = set()
    direct: dict[str, Role] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "astm":
                    modules.add(a.asname or "astm")
        elif isinstance(node, ast.ImportFrom) and node.module in ("astm", "astm.specs.runtime") \
                and not node.level:
            for a in node.names:
                if a.name in _DECORATORS:
                    direct[a.asname or a.name] = _DECORATORS[a.name]
    return modules, direct


def _spec_decorator(node: Def, names: tuple[set[str], dict[str, Role]]) -> tuple[Role | None, ast.Call | None]:
    modules, direct = names
    for dec in node.decorator_list:
        call = dec if isinstance(dec, ast.Call) else None
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                and target.value.id in modules and target.attr in _DECORATORS:
            return _DECORATORS[target.attr], call
        if isinstance(target, ast.Name) and target.id in direct:
            return direct[target.id], call
    return None, None


def _definitions(tree: ast.Module) -> Iterator[tuple[Def, str]]:
    """Every function and class, with the kind of scope it sits in: ``module``,
    ``class`` (a method or nested class) or ``function`` (a closure)."""

    class Visitor(ast.NodeVisitor):
        def __init__(self) -> None:
            self.scope = "module"
            self.found: list[tuple[Def, str]] = []

        def _def(self, node: Def) -> None:
            self.found.append((node, self.scope))
            outer = self.scope
            inner = "class" if isinstance(node, ast.ClassDef) else "function"
            self.scope = inner if outer == "module" else ("function" if outer == "function" else inner)
            for stmt in node.body:
                self.visit(stmt)
            self.scope = outer

        visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _def

    v = Visitor()
    v.visit(tree)
    yield from v.found


def _top_bindings(tree: ast.Module) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.name, node.lineno))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                out.append(((a.asname or a.name).split(".")[0], node.lineno))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out.append((n.id, node.lineno))
    return out


def _imports(tree: ast.Module, package: str) -> dict[str, str]:
    """Top-level import bindings: name -> ``module`` or ``module:attr``."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                keep = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*keep, base] if base else keep)
            for a in node.names:
                if a.name != "*":
                    out[a.asname or a.name] = f"{base}:{a.name}"
    return out


def _resolve(expr: ast.expr, imports: dict[str, str], module: str) -> str | None:
    """``module:name`` that an expression names, best effort."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        v = expr.value.strip()
        return v if ":" in v else f"{module}:{v}"
    if isinstance(expr, ast.Name):
        got = imports.get(expr.id)
        if got is None:
            return f"{module}:{expr.id}"
        return got if ":" in got else None
    if isinstance(expr, ast.Attribute):
        chain = []
        cur: ast.expr = expr
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        if not isinstance(cur, ast.Name):
            return None
        head = imports.get(cur.id)
        if head is None:
            return None
        head = head.replace(":", ".")
        chain.reverse()
        full = ".".join([head, *chain])
        mod, _, name = full.rpartition(".")
        return f"{mod}:{name}"
    if isinstance(expr, ast.Subscript):
        return _resolve(expr.value, imports, module)
    return None


def _arguments(call: ast.Call | None, imports: dict[str, str], module: str) -> tuple[list[str], str, bool]:
    """(explicit deps, prompt, infer_deps) from the decorator's arguments."""
    deps: list[str] = []
    prompt, infer = "", True
    if call is None:
        return deps, prompt, infer
    args: list[tuple[str, ast.expr]] = [("deps", a) for a in call.args[:1]]
    args += [(k.arg or "", k.value) for k in call.keywords]
    for name, value in args:
        if name == "deps" and isinstance(value, (ast.List, ast.Tuple, ast.Set)):
            deps += [t for t in (_resolve(e, imports, module) for e in value.elts) if t]
        elif name == "prompt" and isinstance(value, ast.Constant) and isinstance(value.value, str):
            prompt = value.value
        elif name == "infer_deps" and isinstance(value, ast.Constant):
            infer = bool(value.value)
    return deps, prompt, infer


def _inferred(node: Def, imports: dict[str, str], module: str) -> list[str]:
    """Names the spec mentions: in its signature, its body, and `backticked` in its
    docstring, that resolve to something defined in (or imported into) its module."""
    found: list[str] = []
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Name, ast.Attribute)):
            t = _resolve(sub, imports, module)
            if t:
                found.append(t)
    doc = ast.get_docstring(node) or ""
    words = set(_BACKTICK.findall(doc)) | {w for w in _WORD.findall(doc) if w in imports}
    for word in sorted(words):
        head = word.split(".")[0]
        if head in imports:
            try:
                t = _resolve(ast.parse(word, mode="eval").body, imports, module)
            except SyntaxError:
                t = None
            if t:
                found.append(t)
        elif "." not in word:
            found.append(f"{module}:{word}")
    return found
