"""[project.urls] has the homepage; the rest of the metadata stays valid."""

import tomllib
from pathlib import Path


def test_homepage_url():
    data = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    urls = {k.lower(): v for k, v in data["project"]["urls"].items()}
    assert urls.get("homepage") == "https://example.com/inventory"
    assert data["project"]["name"] == "inventory"
    assert "urls" not in data  # not a top-level table
