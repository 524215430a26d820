"""The build's prompts: package files with ``{{placeholders}}``, overridable per project.

``astm/specs/prompts/impl.txt`` (implementations) and ``test.txt`` (tests) ship with astm;
a project's ``[tool.astm.build] prompts = "DIR"`` folder may hold its own ``impl.txt`` /
``test.txt``. A prompt's text is part of the generation fingerprint: editing it makes
the modules it generated stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from astm.errors import UsageError
from astm.specs.config import BuildConfig
from astm.specs.digest import sha
from astm.specs.source import Source

VERSION = "1"  # bump with any change to how prompts are filled
PLACEHOLDERS = frozenset({"ref", "spec", "extra", "module", "skeleton", "dependencies", "generated",
                          "generated_path", "kind", "name"})
_HOLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class Prompt:
    role: str
    text: str
    origin: str  # "astm" or the project file

    @property
    def version(self) -> str:
        return sha(VERSION, self.text)[:12]

    def render(self, **values: str) -> str:
        return _HOLE.sub(lambda m: values.get(m.group(1), ""), self.text)


def packaged(name: str) -> str:
    return (resources.files("astm") / "specs" / "prompts" / name).read_text(encoding="utf-8")


def request_template() -> str:
    """The absolute path of the pass-through template the provider fills (the build
    renders the whole prompt itself and hands it over as the request's intent)."""
    return str(resources.files("astm") / "specs" / "prompts" / "request.txt")


def load(role: str, conf: BuildConfig, source: Source) -> Prompt:
    name = f"{role}.txt"
    if conf.prompts:
        path = f"{conf.prompts.strip('/')}/{name}"
        data = source.read(path)
        if data is not None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError("not UTF-8 text", path=path) from None
            unknown = sorted(set(_HOLE.findall(text)) - PLACEHOLDERS)
            if unknown:
                raise UsageError(f"prompt uses unknown placeholders {unknown}; known: "
                                 f"{', '.join(sorted(PLACEHOLDERS))}", path=path)
            return Prompt(role, text, path)
    return Prompt(role, packaged(name), "astm")
