"""The import check from a warm interpreter: the same verdicts as a new ``python``, each
check as clean as a new interpreter, a hang timed out, a dead server replaced."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from astm.specs import checks
from astm.specs.warm_import import TimedOut, WarmImporter

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fork: the subprocess is used")


@dataclass(frozen=True)
class Mod:
    """What the import check reads of a spec module."""

    generated_module: str
    generated_path: str


def module(root: Path, name: str, text: str) -> Mod:
    (root / "src/pkg").mkdir(parents=True, exist_ok=True)
    (root / "src/pkg/__init__.py").write_text("")
    (root / f"src/pkg/{name}.py").write_text(text)
    return Mod(f"pkg.{name}", f"src/pkg/{name}.py")


@pytest.fixture
def warm() -> Iterator[WarmImporter]:
    w = WarmImporter(sys.executable)
    try:
        yield w
    finally:
        w.close()


def verdict(root: Path, m: Mod, warm: WarmImporter | None) -> tuple[str, int | None] | None:
    p = checks.import_problem(sys.executable, root, m, ("src",), "__generated__", warm)  # type: ignore[arg-type]
    return None if p is None else (str(p.diagnostic), p.line)


CASES = {
    "fine": "import astm\nimport json\n\n\ndef f():\n    return json.dumps(1)\n",
    "raises": "X = 1\n\n\nclass Book:\n    raise RuntimeError('boom at import')\n",
    "missing": "import no_such_module_xyz\n",
    "syntax": "def f(:\n    pass\n",
    "generated_dir": "import os\n\nassert os.environ['ASTM_GENERATED_DIR'] == '__generated__'\n",
    "noisy": "import sys\n\nprint('x' * 100000)\nprint('y', file=sys.stderr)\nraise ValueError('after the noise')\n",
    "exits": "import sys\n\nsys.exit(3)\n",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_warm_verdict_is_the_subprocess_verdict(case: str, tmp_path: Path, warm: WarmImporter) -> None:
    m = module(tmp_path, case, CASES[case])
    fresh = verdict(tmp_path, m, None)
    assert verdict(tmp_path, m, warm) == fresh
    assert (fresh is None) == (case in ("fine", "generated_dir"))
    if case == "raises":
        assert fresh == ("line 5 of the file: importing the module failed: RuntimeError: boom at import", 5)


def test_each_check_starts_clean(tmp_path: Path, warm: WarmImporter) -> None:
    taint = module(tmp_path, "taint", "import json\n\njson.TAINTED = True\n")
    probe = module(tmp_path, "probe", "import json\n\nassert not hasattr(json, 'TAINTED'), 'tainted'\n")
    assert verdict(tmp_path, taint, warm) is None
    assert verdict(tmp_path, probe, warm) is None  # the first child's change died with it


def test_a_hung_import_times_out(tmp_path: Path, warm: WarmImporter) -> None:
    m = module(tmp_path, "hang", "import time\n\ntime.sleep(60)\n")
    with pytest.raises(TimedOut):
        warm.check(str(tmp_path), {"PYTHONPATH": str(tmp_path / "src")}, m.generated_module,
                   m.generated_path, timeout=1)
    assert verdict(tmp_path, module(tmp_path, "after", "X = 1\n"), warm) is None  # still serving


def test_a_dead_server_falls_back_to_a_new_interpreter(tmp_path: Path, warm: WarmImporter) -> None:
    fine = module(tmp_path, "fine", "X = 1\n")
    bad = module(tmp_path, "bad", "import no_such_module_xyz\n")
    assert verdict(tmp_path, fine, warm) is None
    assert warm._proc is not None
    warm._proc.kill()
    warm._proc.wait()
    got = verdict(tmp_path, bad, warm)
    assert got is not None and "No module named 'no_such_module_xyz'" in got[0]
    assert warm.check(str(tmp_path), {}, fine.generated_module, fine.generated_path, 5) is None
