"""The dependency graph: which specs and hand-written APIs each spec builds on, the
module graph they induce, its cycles, and the order and priority modules build in."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from astm.errors import UsageError
from astm.specs.digest import api_digest
from astm.specs.discover import Discovery, Spec, SpecModule
from astm.specs.source import Source


@dataclass(frozen=True)
class Dep:
    target: str  # module:name
    digest: str
    kind: str  # "spec" (another spec's digest) or "api" (hand-written code's API)


@dataclass
class Graph:
    specs: dict[str, Spec] = field(default_factory=dict)
    modules: dict[str, SpecModule] = field(default_factory=dict)
    deps: dict[str, list[Dep]] = field(default_factory=dict)  # spec ref -> its deps
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> modules it needs

    def module_deps(self, module: str) -> list[Dep]:
        """Every dependency of a module's specs that lies outside the module's specs."""
        m = self.modules[module]
        own = {s.ref for s in m.specs}
        seen: dict[str, Dep] = {}
        for s in m.specs:
            for d in self.deps[s.ref]:
                if d.target not in own:
                    seen.setdefault(d.target, d)
        return [seen[k] for k in sorted(seen)]

    def dependents(self, module: str) -> set[str]:
        return {m for m, needs in self.edges.items() if module in needs}

    def cycle(self) -> list[str] | None:
        """One cycle of the module graph (first module repeated at the end), or None."""
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(m: str) -> list[str] | None:
            state[m] = 1
            stack.append(m)
            for n in sorted(self.edges.get(m, ())):
                if state.get(n) == 1:
                    return [*stack[stack.index(n):], n]
                if n not in state:
                    found = visit(n)
                    if found:
                        return found
            stack.pop()
            state[m] = 2
            return None

        for m in sorted(self.edges):
            if m not in state:
                found = visit(m)
                if found:
                    return found
        return None

    def depth(self) -> dict[str, int]:
        """Longest chain of modules that wait on each module (itself included): the
        critical path first."""
        memo: dict[str, int] = {}
        dependents = {m: self.dependents(m) for m in self.edges}

        def d(m: str) -> int:
            if m not in memo:
                memo[m] = 0
                memo[m] = 1 + max((d(x) for x in dependents[m]), default=0)
            return memo[m]

        return {m: d(m) for m in self.edges}


class _Apis:
    """API digests of hand-written top-level definitions in the project's modules."""

    def __init__(self, discovery: Discovery, source: Source) -> None:
        self.discovery, self.source = discovery, source
        self.cache: dict[str, dict[str, str]] = {}

    def digest(self, target: str) -> str | None:
        module, _, name = target.partition(":")
        m = self.discovery.module(module)
        if m is not None:
            return m.local_apis.get(name)
        path = self.discovery.by_module.get(module)
        if path is None:
            return None
        if module not in self.cache:
            self.cache[module] = {}
            data = self.source.read(path)
            try:
                tree = ast.parse(data or b"", filename=path)
            except (SyntaxError, ValueError):
                tree = ast.Module(body=[], type_ignores=[])
            for n in tree.body:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.cache[module][n.name] = api_digest(n)
        return self.cache[module].get(name)


def build_graph(discovery: Discovery, source: Source) -> Graph:
    g = Graph()
    for m in discovery.modules:
        g.modules[m.module] = m
        for s in m.specs:
            g.specs[s.ref] = s
    apis = _Apis(discovery, source)
    for m in discovery.modules:
        g.edges[m.module] = set()
        for s in m.specs:
            out: list[Dep] = []
            for t in s.deps:
                other = g.specs.get(t)
                if other is not None:
                    if other.role == "test" and s.role == "impl":
                        continue
                    out.append(Dep(t, other.digest.full, "spec"))
                    if other.module != m.module:
                        g.edges[m.module].add(other.module)
                    continue
                api = apis.digest(t)
                if api is not None:
                    out.append(Dep(t, api, "api"))
                elif t in s.explicit and t.partition(":")[0] in discovery.by_module:
                    raise UsageError(f"deps names {t}, which its module does not define at "
                                     "top level", node=s.ref)
            g.deps[s.ref] = out
    return g


def check_cycles(g: Graph) -> None:
    cycle = g.cycle()
    if cycle:
        raise UsageError("dependency cycle between spec modules: " + " -> ".join(cycle)
                         + "; break it (deps=..., or infer_deps=False on the spec that "
                         "names the other)")
