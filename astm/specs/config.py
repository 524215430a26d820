"""``[tool.astm.build]`` in pyproject.toml: where specs live and how builds run.

    [tool.astm.build]
    source_roots = ["src"]        # default: ["src"] when it exists, else ["."]
    test_roots = ["tests"]        # test specs (@astm.test) live here
    generated = "__generated__"   # the generated package's name beside each spec module
    jobs = 8                      # modules' agents at once (default: [tool.astm] jobs)
    model = "..."                 # a model for builds (default: [tool.astm] model)
    prompts = ".astm/prompts"     # impl.txt / test.txt here override astm's own
    ruff = true                   # ruff (undefined names, redefinitions) on generated modules
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from astm.errors import UsageError


class BuildConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_roots: tuple[str, ...] = ()
    test_roots: tuple[str, ...] = ("tests",)
    generated: str = Field(default="__generated__", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    jobs: int | None = Field(default=None, ge=1, le=64)
    model: str | None = None
    prompts: str | None = None
    ruff: bool = True

    @field_validator("source_roots", "test_roots")
    @classmethod
    def _roots(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for r in v:
            r = r.strip().strip("/") or "."
            if r.startswith(("..", "/")) or "/../" in f"/{r}/":
                raise ValueError(f"root {r!r} is outside the repository")
            out.append(r)
        return tuple(out)


def parse(raw: bytes | None, is_dir: Callable[[str], bool]) -> BuildConfig:
    """The build settings from pyproject.toml bytes (None: no file); ``is_dir`` answers
    whether a repository-relative folder exists in the build's input."""
    section: object = {}
    if raw is not None and b"astm" in raw:
        try:
            data = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"not valid TOML, so [tool.astm.build] cannot be read: {exc}",
                             path="pyproject.toml") from None
        section = data.get("tool", {}).get("astm", {}).get("build", {})
    if not isinstance(section, dict):
        raise UsageError("[tool.astm.build] must be a table", path="pyproject.toml")
    try:
        conf = BuildConfig.model_validate({k.replace("-", "_"): v for k, v in section.items()})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        raise UsageError(f"[tool.astm.build] {key}: {err['msg']}", path="pyproject.toml") from None
    if not conf.source_roots:
        conf = conf.model_copy(update={"source_roots": ("src",) if is_dir("src") else (".",)})
    return conf
