"""Model settings: where each comes from, the defaults a local or remote endpoint gets,
the old ``json_schema`` name, and credentials masked wherever astm shows a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from astm import config
from astm.config import Settings, is_local, redact, safe_url, secrets
from astm.errors import UsageError


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://127.5.0.3/v1",
        "http://localhost:11434/v1",
        "http://LOCALHOST.:8000/v1",
        "http://[::1]:8000/v1",
        "http://0.0.0.0:8000/v1",
        "http://user:pw@127.0.0.1:8080/v1",
    ],
)
def test_local_endpoints(url: str) -> None:
    s = Settings(model="m", base_url=url)
    assert is_local(url)
    assert (s.model_slots, s.request_timeout) == (1, 600.0)


@pytest.mark.parametrize(
    "url", [None, "https://api.openai.com/v1", "http://10.0.0.5:8000/v1", "http://gpu-box:8000/v1", "::"]
)
def test_remote_endpoints(url: str | None) -> None:
    s = Settings(model="m", base_url=url)
    assert not is_local(url)
    assert (s.model_slots, s.request_timeout) == (8, 60.0)


def test_explicit_values_win_over_the_defaults() -> None:
    s = Settings(model="m", base_url="http://localhost:1/v1", model_jobs=3, timeout=5)
    assert (s.model_slots, s.request_timeout) == (3, 5.0)


def write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(text)
    return root


def test_each_layer_sets_the_model_settings(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        "[tool.astm]\nmodel-jobs = 2\ntimeout = 30\njson-mode = 'json_object'\n"
        "max_tokens = 2000\ntemperature = 0.1\n",
    )
    s = config.load(root, environ={})
    assert (s.model_jobs, s.timeout, s.json_mode, s.max_tokens, s.temperature) == (
        2, 30.0, "json_object", 2000, 0.1,
    )
    env = {
        "ASTM_MODEL_JOBS": "4", "ASTM_TIMEOUT": "90", "ASTM_JSON_MODE": "off",
        "ASTM_MAX_TOKENS": "900", "ASTM_TEMPERATURE": "0.2",
    }
    s = config.load(root, environ=env)
    assert (s.model_jobs, s.timeout, s.json_mode, s.max_tokens, s.temperature) == (
        4, 90.0, "off", 900, 0.2,
    )
    flags = {"model_jobs": 6, "timeout": 7.5, "json_mode": "json_schema", "max_tokens": 100, "temperature": 0.0}
    s = config.load(root, flags, environ=env)
    assert (s.model_jobs, s.timeout, s.json_mode, s.max_tokens, s.temperature) == (
        6, 7.5, "json_schema", 100, 0.0,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ASTM_MODEL_JOBS": "0"}, "bad setting 'model_jobs' from environment"),
        ({"ASTM_TIMEOUT": "soon"}, "bad setting 'timeout' from environment"),
        ({"ASTM_JSON_MODE": "yes"}, "bad setting 'json_mode' from environment"),
        ({"ASTM_TEMPERATURE": "3"}, "bad setting 'temperature' from environment"),
    ],
)
def test_bad_values_name_the_key_and_layer(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        config.load(None, environ=env)


def test_the_old_json_schema_setting_is_migrated_within_its_layer(tmp_path: Path) -> None:
    root = write(tmp_path, "[tool.astm]\njson_schema = 'on'\n")
    assert config.load(root, environ={}).json_mode == "json_schema"
    # a later layer's json_mode wins over the file's old name
    assert config.load(root, environ={"ASTM_JSON_MODE": "off"}).json_mode == "off"
    write(tmp_path, "[tool.astm]\njson_schema = 'off'\njson_mode = 'json_object'\n")
    assert config.load(root, environ={}).json_mode == "json_object"
    write(tmp_path, "[tool.astm]\njson_schema = 'maybe'\n")
    with pytest.raises(UsageError, match="'json_schema' from pyproject.toml.*old name of json_mode"):
        config.load(root, environ={})


def test_describe_shows_the_defaults_and_masks_credentials() -> None:
    s = Settings(model="m", base_url="http://me:pa55word@localhost:8080/v1?api-key=k3y-value&v=2")
    shown = config.describe(s, environ={})
    assert shown["timeout"] == "600.0 (default, local endpoint)"
    assert shown["model_jobs"] == "1 (default, local endpoint)"
    assert shown["json_mode"] == "auto" and "json_schema" not in shown
    assert "pa55word" not in shown["base_url"] and "k3y-value" not in shown["base_url"]
    assert shown["base_url"] == "http://***@localhost:8080/v1?api-key=***&v=2"


def test_secrets_and_redact() -> None:
    s = Settings(base_url="http://me:pa55word@host/v1?token=t0ken-1")
    found = secrets(s, environ={"OPENAI_API_KEY": "sk-abcdef"})
    assert {"sk-abcdef", "pa55word", "t0ken-1"} <= set(found)
    text = "Authorization: Bearer sk-zzz999 at https://u:p@h/x and pa55word, t0ken-1, sk-abcdef"
    out = redact(text, found)
    for secret in ("sk-zzz999", "u:p@", "pa55word", "t0ken-1", "sk-abcdef"):
        assert secret not in out
    assert "Bearer ***" in out and "https://***@h/x" in out
    assert safe_url("http://h/v1?v=1") == "http://h/v1?v=1"
