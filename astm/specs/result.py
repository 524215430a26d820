"""What a build is asked (``BuildOptions``), what it read (``Prepared``) and what it did
(``BuildResult``): plain data shared by ``build``, ``run`` and the commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from astm.llm.base import Usage
from astm.specs import config as build_config
from astm.specs import prompting
from astm.specs.deps import Graph
from astm.specs.discover import Discovery
from astm.specs.plan import BuildPlan
from astm.specs.source import Source
from astm.specs.stale import ModuleState
from astm.workspace.repo import Repo

if TYPE_CHECKING:
    import pygit2


@dataclass
class BuildOptions:
    cwd: Path
    plan: BuildPlan | None = None
    write: bool = False
    force: bool = False
    targets: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("impl",)
    save_plan: Path | None = None
    check_only: bool = False  # --explain / --check: assess, generate nothing
    latency: float = 0.0  # benchmarks: a plan that answers like a slow model


@dataclass
class BuildResult:
    base: str
    modules: list[ModuleState] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # generated path -> new bytes
    branch: str | None = None
    commit: str | None = None
    run: str | None = None
    written: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    error: str | None = None
    conf: build_config.BuildConfig | None = None

    @property
    def stale(self) -> list[ModuleState]:
        return [m for m in self.modules if m.stale]

    def to_json(self) -> dict[str, object]:
        return {
            "base": self.base, "branch": self.branch, "commit": self.commit, "run": self.run,
            "modules": [m.to_json() for m in self.modules], "built": self.built,
            "written": self.written, "notices": self.notices, "model_calls": self.calls,
            "tokens": {"prompt": self.usage.prompt, "completion": self.usage.completion},
            "error": self.error,
        }


@dataclass
class Prepared:
    repo: Repo
    base: pygit2.Commit
    source: Source
    conf: build_config.BuildConfig
    discovery: Discovery
    graph: Graph
    prompts: dict[str, prompting.Prompt]
    states: list[ModuleState]
