"""``spec-freshness``: the pre-commit check that refuses stale generated files.

A commit that stages a spec module, a generated module, or a module a spec depends on
is checked: every generated file in the index whose specs (as staged) no longer match
its header is one finding, naming the module and the input that changed, with
``astm build --write`` as the fix. Generated files edited by hand are findings too.
A spec never built (no generated file yet) is not: its stub says so at run time. No
model call, nothing written; the check reads the index only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astm.hook.finding import Finding
    from astm.workspace.index import StagedFile, StagedView

SOURCE = "spec-freshness"
HINT = "astm build --write (then stage the generated files)"


@dataclass
class IndexSource:
    """The files as the commit would record them (the index git means)."""

    view: StagedView

    def files(self, roots: tuple[str, ...] = (".",)) -> list[str]:
        from astm.specs.source import SKIP_DIRS, under

        out = []
        for entry in self.view.index:
            p = entry.path
            if under(p, roots) and not any(part in SKIP_DIRS for part in p.split("/")[:-1]):
                out.append(p)
        return sorted(out)

    def read(self, path: str) -> bytes | None:
        import pygit2

        try:
            entry = self.view.index[path]
        except (KeyError, ValueError):
            return None
        blob = self.view.repo.repo[entry.id]
        return blob.data if isinstance(blob, pygit2.Blob) else None

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(e.path.startswith(prefix) for e in self.view.index)


def check(view: StagedView, files: list[StagedFile]) -> list[Finding]:
    staged = {f.path for f in files if f.path.endswith(".py")}
    if not staged:
        return []
    from astm.hook.finding import Finding
    from astm.specs import config, prompting
    from astm.specs.deps import build_graph
    from astm.specs.discover import discover
    from astm.specs.stale import assess, fingerprint

    source = IndexSource(view)
    try:
        conf = config.parse(source.read("pyproject.toml"), source.is_dir)
        found = discover(source, conf)
        graph = build_graph(found, source)
    except Exception:  # noqa: BLE001 - a broken config or spec is for `astm build` to report
        return []
    if not found.modules:
        return []
    out: list[Finding] = []
    for m in found.modules:
        dep_paths = {graph.modules[d].path for d in graph.edges.get(m.module, ())}
        if not ({m.path, m.generated_path} | dep_paths) & staged:
            continue
        if source.read(m.generated_path) is None:
            continue  # never built: not a stale file
        st = assess(m, graph, source, fingerprint(prompting.load(m.role, conf, source).version, None))
        if st.stale:
            more = f" (+{len(st.reasons) - 1} more)" if len(st.reasons) > 1 else ""
            out.append(Finding(m.generated_path, m.generated_path, None, None,
                               f"stale: {m.module}: {st.reasons[0]}{more}", SOURCE, hint=HINT))
        elif st.edited and m.generated_path in staged:
            out.append(Finding(m.generated_path, m.generated_path, None, None,
                               f"edited by hand; it is generated from {m.path}: change the specs "
                               "instead", SOURCE, hint=HINT))
    return out
