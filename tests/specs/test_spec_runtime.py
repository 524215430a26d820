"""The runtime: forwarding, class replacement, placeholders, test marking, refusals."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import astm


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package ``rt_shop`` on sys.path; modules are removed from sys.modules after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "rt_shop").mkdir()
    (tmp_path / "rt_shop" / "__init__.py").write_text("")
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("rt_shop")]:
        del sys.modules[name]
    importlib.invalidate_caches()


SPEC = '''import astm


@astm.magic()
def double(x: int) -> int:
    """Twice x."""


@astm.magic()
class Box:
    """Holds one value: `value`."""
'''
GENERATED = '''def double(x: int) -> int:
    return 2 * x


class Box:
    def __init__(self, value):
        self.value = value
'''


def test_import_astm_stays_cheap() -> None:
    import subprocess

    code = "import astm, sys; print('astm.specs.runtime' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_unbuilt_specs_say_which_command_to_run(project: Path) -> None:
    (project / "rt_shop" / "calc.py").write_text(SPEC)
    calc = importlib.import_module("rt_shop.calc")
    with pytest.raises(astm.NotBuiltError, match=r"rt_shop\.calc:double is not built yet.*astm build"):
        calc.double(2)
    with pytest.raises(astm.NotBuiltError, match=r"rt_shop\.calc:Box is not built yet"):
        calc.Box(1)
    assert calc.Box.__doc__ == "Holds one value: `value`."
    assert calc.double.__doc__ == "Twice x."  # the stub's identity is kept for tools


def test_built_specs_forward_and_replace(project: Path) -> None:
    (project / "rt_shop" / "calc.py").write_text(SPEC)
    (project / "rt_shop" / "__generated__").mkdir()
    (project / "rt_shop" / "__generated__" / "calc.py").write_text(GENERATED)
    calc = importlib.import_module("rt_shop.calc")
    assert calc.double(21) == 42
    box = calc.Box(3)
    assert box.value == 3
    assert calc.Box.__module__ == "rt_shop.calc"  # the spec's module, for pickling and repr
    assert calc.Box.__astm_spec__ == "rt_shop.calc:Box"
    assert calc.double.__astm_spec__ == "rt_shop.calc:double"


def test_generated_module_missing_a_name_is_not_built(project: Path) -> None:
    (project / "rt_shop" / "calc.py").write_text(SPEC)
    (project / "rt_shop" / "__generated__").mkdir()
    (project / "rt_shop" / "__generated__" / "calc.py").write_text("def other():\n    pass\n")
    calc = importlib.import_module("rt_shop.calc")
    with pytest.raises(astm.NotBuiltError, match="does not define double"):
        calc.double(1)


@astm.test
def test_marked_spec() -> None:
    """A test spec: pytest must not collect it (this file would fail if it did)."""
    raise AssertionError("a test spec's stub was collected")


def test_test_specs_are_never_collected() -> None:
    assert test_marked_spec.__test__ is False
    assert test_marked_spec.__astm_spec__ == "test_spec_runtime:test_marked_spec"


@pytest.mark.parametrize("what", ["closure", "method", "metaclass"])
def test_refusals_name_the_spec(what: str) -> None:
    if what == "closure":
        def make() -> None:
            @astm.magic()
            def inner() -> None: ...

        with pytest.raises(TypeError, match="inner is defined inside a function"):
            make()
    elif what == "method":
        with pytest.raises(TypeError, match="is a method"):
            class K:
                @astm.magic()
                def m(self) -> None: ...
    else:
        class Meta(type):
            pass

        with pytest.raises(TypeError, match="custom metaclass"):
            astm.magic()(Meta("Top", (), {"__qualname__": "Top"}))
