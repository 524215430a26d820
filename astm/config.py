"""Settings: ``[tool.astm]`` in the repository's pyproject.toml < environment < flags.

Environment: ``ASTM_MODEL``, ``ASTM_BASE_URL`` (wins over ``OPENAI_BASE_URL``),
``ASTM_ROUTER_MODEL``, ``ASTM_MODEL_JOBS``, ``ASTM_TIMEOUT``, ``ASTM_JSON_MODE``,
``ASTM_MAX_TOKENS``, ``ASTM_TEMPERATURE``, ``ASTM_NAMED_ROUTES``, and the API key from the variable that
``api_key_env`` names (default ``OPENAI_API_KEY``). The key itself is never stored in files
astm writes, and every credential astm knows is masked in what it prints (``secrets``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from astm.errors import UsageError

JsonMode = Literal["auto", "json_schema", "json_object", "off"]
# ``json_schema`` is the old name of ``json_mode``: its values map onto the new ones.
OLD_JSON_SCHEMA = {"auto": "auto", "on": "json_schema", "off": "off"}
LOCAL_TIMEOUT, REMOTE_TIMEOUT = 600.0, 60.0
LOCAL_MODEL_JOBS, REMOTE_MODEL_JOBS = 1, 8

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
    hint_model: str | None = Field(
        default=None,
        description="cheap model that compresses a failed check's output into a retry hint; "
        "none: router_model when set, else the deterministic hint",
    )
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="env var holding the key")
    timeout: float | None = Field(
        default=None, gt=0,
        description="seconds one model request may take, retries included; none: 600 local, 60 remote",
    )
    http_retries: int = Field(default=2, ge=0, le=10, description="retries of a failed request")
    retries: int = Field(default=2, ge=0, le=10, description="retries of a node that fails validation")
    jobs: int = Field(default=8, ge=1, le=64, description="nodes validated at once (CPU)")
    model_jobs: int | None = Field(
        default=None, ge=1, le=64,
        description="model requests in flight at once; none: 1 local, 8 remote",
    )
    routing: Literal["structured", "broadcast"] = "structured"
    named_routes: bool = Field(
        default=True,
        description="an intent that names its targets exactly routes to them without a model call",
    )
    json_mode: JsonMode = Field(
        default="auto",
        description="structured answers: auto (json_schema, then json_object, then instructions), "
        "or one of them forced",
    )
    max_tokens: int = Field(
        default=16384, ge=16, description="cap on one answer's tokens; each call asks for less"
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="sampling temperature")
    echo_temperature: float = Field(
        default=0.7, ge=0, le=2,
        description="temperature of a node's retries once the model gave it the same answer twice",
    )
    max_answer_bytes: int = Field(default=200_000, gt=0, description="longest accepted answer")
    token_budget: int | None = Field(default=None, gt=0, description="stop a run past this many tokens")
    max_children_per_node: int = Field(
        default=32, ge=1, description="most children one routing decision may set acting (acts + new)"
    )
    max_nodes_per_run: int = Field(
        default=200, ge=1, description="most nodes one run may set acting, all routers together"
    )
    gc_max_age_days: float = Field(default=14.0, ge=0, description="age past which gc drops run refs")
    reset: bool = Field(default=True, description="a parent resets a failed child once with context")
    validate_: ValidateSettings = Field(default_factory=ValidateSettings, alias="validate")

    @model_validator(mode="before")
    @classmethod
    def _old_json_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and "json_schema" in data:
            data = dict(data)
            old = data.pop("json_schema")
            data.setdefault("json_mode", OLD_JSON_SCHEMA.get(old, old))
        return data

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None

    @property
    def local(self) -> bool:
        """The endpoint is on this machine (loopback): one slot, slow, CPU-bound."""
        return is_local(self.base_url)

    @property
    def request_timeout(self) -> float:
        """``timeout``, or the default for where the endpoint is."""
        if self.timeout is not None:
            return self.timeout
        return LOCAL_TIMEOUT if self.local else REMOTE_TIMEOUT

    @property
    def model_slots(self) -> int:
        """``model_jobs``, or the default for where the endpoint is."""
        if self.model_jobs is not None:
            return self.model_jobs
        return LOCAL_MODEL_JOBS if self.local else REMOTE_MODEL_JOBS


def is_local(url: str | None) -> bool:
    """``url``'s host is loopback: localhost, 127.0.0.0/8, ::1 (or 0.0.0.0, which
    clients reach as this machine). No URL means OpenAI's own endpoint: remote."""
    from urllib.parse import urlsplit

    if not url:
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


ENV_VARS = {
    "ASTM_MODEL": "model",
    "ASTM_ROUTER_MODEL": "router_model",
    "ASTM_HINT_MODEL": "hint_model",
    "OPENAI_BASE_URL": "base_url",
    "ASTM_BASE_URL": "base_url",  # after OPENAI_BASE_URL: astm's own variable wins
    "ASTM_MODEL_JOBS": "model_jobs",
    "ASTM_TIMEOUT": "timeout",
    "ASTM_JSON_MODE": "json_mode",
    "ASTM_MAX_TOKENS": "max_tokens",
    "ASTM_TEMPERATURE": "temperature",
    "ASTM_ECHO_TEMPERATURE": "echo_temperature",
    "ASTM_NAMED_ROUTES": "named_routes",
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
    for name, layer in layers:
        if "json_schema" in layer:  # the old name, translated within its own layer
            old = layer.pop("json_schema")
            if old not in OLD_JSON_SCHEMA:
                raise UsageError(
                    f"bad setting 'json_schema' from {name}: it must be auto, on or off "
                    "(json_schema is the old name of json_mode: auto, json_schema, json_object, off)"
                )
            layer.setdefault("json_mode", OLD_JSON_SCHEMA[old])
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


# Query-string parameters that carry credentials (``?api-key=``, ``?token=``, ``?sig=`` ...).
_SECRET_PARAM = re.compile(r"key|token|secret|passw|auth|sig|credential", re.IGNORECASE)


def safe_url(url: str) -> str:
    """``url`` with any ``user:password@`` part and credential query values masked, for
    messages, records and ``astm config``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1])
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            masked = [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs]
            parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts)


def secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every credential astm knows for these settings, longest first: the API key, the
    user info of ``base_url`` and its credential query values."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    found = {settings.api_key(environ) or ""}
    if settings.base_url:
        try:
            parts = urlsplit(settings.base_url)
            if "@" in parts.netloc:
                info = parts.netloc.rsplit("@", 1)[0]
                found |= {info, unquote(info)}
                found |= {p for part in info.split(":", 1) for p in (part, unquote(part))}
            found |= {v for k, v in parse_qsl(parts.query) if _SECRET_PARAM.search(k)}
        except ValueError:
            pass
    # Short values (a user name "a") would mask half the text: only credential-sized ones.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


# Credentials in text whatever their value: ``Bearer x``, ``scheme://user:pass@``.
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def redact(text: str, known: list[str]) -> str:
    """``text`` with every known secret and every credential-shaped part masked."""
    for secret in known:
        text = text.replace(secret, "***")
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}***@", text)


def describe(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings as printable strings, the API key (and any password in a URL) masked;
    ``timeout`` and ``model_jobs`` unset show the value the endpoint's place gives them."""
    out = {k: ("" if v is None else str(v)) for k, v in settings.model_dump(by_alias=True).items()}
    if settings.base_url:
        out["base_url"] = safe_url(settings.base_url)
    where = "local endpoint" if settings.local else "remote endpoint"
    if settings.timeout is None:
        out["timeout"] = f"{settings.request_timeout} (default, {where})"
    if settings.model_jobs is None:
        out["model_jobs"] = f"{settings.model_slots} (default, {where})"
    out["api_key"] = mask(settings.api_key(environ))
    return out
