"""Settings: ``[tool.astm]`` in the repository's pyproject.toml < environment < flags.

Environment: ``ASTM_MODEL``, ``ASTM_BASE_URL`` (wins over ``OPENAI_BASE_URL``),
``ASTM_ROUTER_MODEL``, and the API key from the variable that ``api_key_env`` names
(default ``OPENAI_API_KEY``). The key itself is never stored in files astm writes.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from astm.errors import UsageError

KIND_ALIASES = {"function_definition": "function", "class_definition": "class"}


class KindSettings(BaseModel):
    """``[tool.astm.validate.<kind>]``: a node kind's own prompt and validator commands."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, description="prompt template file, from the repo root")
    commands: list[str] = Field(
        default_factory=list,
        description="commands run in the node's sandbox: {file} {start_line} {end_line} {node}",
    )
    ruff: bool | None = Field(default=None, description="override the ruff switch for this kind")


class ValidateSettings(BaseModel):
    """``[tool.astm.validate]``: which validators run at which level."""

    model_config = ConfigDict(extra="forbid")

    ruff: bool = Field(default=True, description="ruff at node, class and file level (new problems only)")
    pyright: Literal["auto", "on", "off"] = Field(
        default="auto", description="pyright/basedpyright at class and file level; auto: when configured"
    )
    tests: str = Field(
        default="auto",
        description="root level: 'auto' (pytest on tests importing a changed module, else all), "
        "'off', or a command",
    )
    test_timeout: float = Field(default=600.0, gt=0)
    tests_unavailable: Literal["fail", "warn"] = Field(
        default="fail",
        description="the project has tests but they cannot be run (no pytest, no command): "
        "'fail' blocks landing; 'warn' lands with a warning",
    )
    kinds: dict[str, KindSettings] = Field(default_factory=dict)

    def kind(self, name: str) -> KindSettings:
        return self.kinds.get(name) or KindSettings()


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    model: str | None = Field(default=None, description="model name; none means: use --plan")
    router_model: str | None = Field(default=None, description="cheaper model for routing")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="env var holding the key")
    timeout: float = Field(default=60.0, gt=0, description="seconds per model request")
    http_retries: int = Field(default=2, ge=0, le=10, description="retries of a failed request")
    retries: int = Field(default=2, ge=0, le=10, description="retries of a node that fails validation")
    jobs: int = Field(default=8, ge=1, le=64, description="nodes worked on at once")
    routing: Literal["structured", "broadcast"] = "structured"
    json_schema: Literal["auto", "on", "off"] = Field(
        default="auto", description="ask for JSON-schema answers; auto falls back to instructions"
    )
    max_answer_bytes: int = Field(default=200_000, gt=0, description="longest accepted answer")
    token_budget: int | None = Field(default=None, gt=0, description="stop a run past this many tokens")
    gc_max_age_days: float = Field(default=14.0, ge=0, description="age past which gc drops run refs")
    reset: bool = Field(default=True, description="a parent resets a failed child once with context")
    validate_: ValidateSettings = Field(default_factory=ValidateSettings, alias="validate")

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None


ENV_VARS = {
    "ASTM_MODEL": "model",
    "ASTM_ROUTER_MODEL": "router_model",
    "OPENAI_BASE_URL": "base_url",
    "ASTM_BASE_URL": "base_url",  # after OPENAI_BASE_URL: astm's own variable wins
}


def from_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        if b"tool.astm" not in raw:
            return {}  # nothing of astm's there; the target check reports the file itself
        raise UsageError(
            f"not valid TOML, so [tool.astm] cannot be read: {exc}", path="pyproject.toml"
        ) from None
    section = data.get("tool", {}).get("astm", {})
    if not isinstance(section, dict):
        raise UsageError("[tool.astm] must be a table", path="pyproject.toml")
    out = {k.replace("-", "_"): v for k, v in section.items() if not isinstance(v, dict)}
    validate = section.get("validate")
    if isinstance(validate, dict):
        scalars = {k.replace("-", "_"): v for k, v in validate.items() if not isinstance(v, dict)}
        kinds = {KIND_ALIASES.get(k, k): v for k, v in validate.items() if isinstance(v, dict)}
        out["validate"] = {**scalars, "kinds": kinds}
    # Other sub-tables ([tool.astm.hook] ...) belong to their own commands.
    return out


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var, key in ENV_VARS.items():
        if environ.get(var):
            out[key] = environ[var]
    return out


def load(
    root: Path | None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The effective settings; UsageError (exit 2) naming the bad key."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    layers = [
        ("pyproject.toml [tool.astm]", from_pyproject(root) if root else {}),
        ("environment", from_env(env)),
        ("flags", {k: v for k, v in (flags or {}).items() if v is not None}),
    ]
    for _, layer in layers:
        merged.update(layer)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        source = next((n for n, layer in reversed(layers) if key in layer), "settings")
        raise UsageError(f"bad setting {key!r} from {source}: {err['msg']}") from None


def mask(secret: str | None) -> str:
    if not secret:
        return "(not set)"
    return f"****** (set, {len(secret)} chars)"


def safe_url(url: str) -> str:
    """``url`` with any ``user:password@`` part masked, for messages and ``astm config``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def describe(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings as printable strings, the API key (and any password in a URL) masked."""
    out = {k: ("" if v is None else str(v)) for k, v in settings.model_dump(by_alias=True).items()}
    if settings.base_url:
        out["base_url"] = safe_url(settings.base_url)
    out["api_key"] = mask(settings.api_key(environ))
    return out
