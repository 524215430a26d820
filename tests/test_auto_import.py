"""A name another file defines, or creates in the same run, gets its import (issue 10).

The 1.5B raised the ``OutOfStockError`` that errors.py was creating in the same run from
``Inventory.remove`` and never imported it: ``F821`` through every retry. The unit cases
run ``imports_for`` on real source; the end-to-end ones run the real CLI through the real
openai client against the loopback server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo
from test_model_habits import env, scripted  # noqa: F401  (the env fixture)
from test_named_routes import PROJECT, STATS, S

from astm.lang.python.imports import imports_for, unbound

openai_server = loopback.openai_server

ERRORS_PATH = "src/textkit/errors.py"


@pytest.mark.parametrize(
    ("source", "want"),
    [
        ("def f():\n    raise Missing(x)\n", {"Missing", "x"}),
        ("import os\nfrom a import b as c\ndef f(y):\n    return os, c, y, len\n", set()),
        ("class A:\n    pass\n\ndef f():\n    return A()\n", set()),
        ("def f():\n    try:\n        pass\n    except E as err:\n        return err\n", {"E"}),
        ("def f():\n    global G\n    G = 1\n    return [i for i in range(G)]\n", set()),
        ("from m import *\ndef f():\n    return Missing\n", set()),  # a star binds anything
        ("def broken(:\n", set()),  # not Python: nothing is added
    ],
)
def test_unbound_names(source: str, want: set[str]) -> None:
    assert unbound(source.encode()) == want


def test_imports_for_names_one_other_file_defines() -> None:
    text = b"from inventory.errors import UnknownItemError\n\ndef remove():\n    raise OutOfStockError()\n"
    where = {"OutOfStockError": "src/inventory/errors.py", "UnknownItemError": "src/inventory/errors.py"}
    assert imports_for(text, "src/inventory/store.py", where) == [b"from inventory.errors import OutOfStockError"]
    # The file's own names and names nobody defines get nothing.
    assert imports_for(text, "src/inventory/errors.py", where) == []
    assert imports_for(b"def f():\n    return Nowhere\n", "src/inventory/store.py", where) == []
    # A file that imports its siblings relatively gets a relative import.
    rel = b"from .models import Item\n\ndef remove():\n    raise OutOfStockError()\n"
    assert imports_for(rel, "src/inventory/store.py", where) == [b"from .errors import OutOfStockError"]
    # From another package, the absolute name.
    assert imports_for(rel, "src/other/x.py", where) == [b"from inventory.errors import OutOfStockError"]


INTENT = ("Add an OutOfStockError exception (a subclass of ShopError and ValueError) to "
          "textkit/errors.py and raise it from TextStats.top_words when n is negative")
ERR = "class OutOfStockError(ShopError, ValueError):\n    pass\n"
METHOD = ("    def top_words(self, n):\n        if n < 0:\n            raise OutOfStockError(n)\n"
          "        return self.words()[:n]\n")


def test_a_name_created_in_another_file_of_the_run_is_imported(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """The method uses the class errors.py creates; neither answer imports anything."""
    repo = make_repo(tmp_path / "r", PROJECT)
    env.responder = scripted({}, {f"{ERRORS_PATH}::OutOfStockError": ERR, f"{S}::TextStats.top_words": METHOD})
    res = astm("apply", INTENT, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert len(env.requests) == 2  # one answer each: no retry on F821
    stats = git(repo, "show", f"m:{S}") + "\n"
    want = STATS.replace("from textkit.core import WORD, _norm\n",
                         "from textkit.core import WORD, _norm\nfrom textkit.errors import OutOfStockError\n")
    assert stats == want.replace("    def top_words(self, n):\n        return self.words()[: n - 1]\n", METHOD)
    assert f"{S}: added `from textkit.errors import OutOfStockError`" in res.out
    # errors.py imports nothing: it defines the name itself (ShopError is its own, too).
    assert git(repo, "show", f"m:{ERRORS_PATH}").endswith(ERR.rstrip("\n"))
    assert "import" not in git(repo, "show", f"m:{ERRORS_PATH}")


# A method that raises ShopError, which errors.py defines (and the file does not import).
RAISES_SHOP = "    def top_words(self, n):\n        if n < 0:\n            raise ShopError(n)\n        return self.words()[:n]\n"
SHOP_INTENT = "Make TextStats.top_words raise ShopError when n is negative"


def _refused_without_import(res: Any) -> None:
    """The undefined name fails the run as before, naming it; no import was added."""
    assert res.code != 0
    assert "Undefined name `ShopError`" in res.out + res.err
    assert "added `from" not in res.out


def test_a_name_two_files_define_is_not_guessed(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """``ShopError`` in two modules: which one the method means is not astm's guess, so the
    undefined name fails the run as before, naming the node."""
    files = dict(PROJECT, **{"src/textkit/other.py": "class ShopError(Exception):\n    pass\n"})
    repo = make_repo(tmp_path / "r", files)
    env.responder = scripted({}, {f"{S}::TextStats.top_words": RAISES_SHOP})
    res = astm("apply", SHOP_INTENT,
               "--branch", "m", "--retries", "0", cwd=repo)
    _refused_without_import(res)


def test_an_existing_definition_of_another_file_is_imported(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    env.responder = scripted({}, {f"{S}::TextStats.top_words": RAISES_SHOP})
    res = astm("apply", SHOP_INTENT, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert "from textkit.errors import ShopError\n" in git(repo, "show", f"m:{S}")
    assert len(env.requests) == 1


def test_the_modules_a_file_imports_as_it_loads() -> None:
    from astm.lang.python.imports import module_imports

    text = (b"import os.path\nfrom inventory.errors import UnknownItemError\nfrom .models import Item\n"
            b"from . import store\n\ndef f():\n    import json\n\nif True:\n    import csv\n")
    got = module_imports("src/inventory/store.py", text)
    assert {"os.path", "inventory.errors", "inventory.errors.UnknownItemError", "inventory.models",
            "inventory.models.Item", "inventory", "inventory.store"} == got  # not json, not csv
    assert module_imports("src/inventory/__init__.py", b"from .store import Inventory\n") == {
        "inventory.store", "inventory.store.Inventory"}
    assert module_imports("x.py", b"def broken(:\n") == frozenset()


def test_no_import_that_would_close_a_cycle() -> None:
    text = b"def f():\n    raise OutOfStockError()\n"
    where = {"OutOfStockError": "src/inventory/errors.py"}
    assert imports_for(text, "src/inventory/store.py", where, lambda p: p == "src/inventory/errors.py") == []


def test_a_file_that_imports_this_one_is_not_imported_from(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """errors.py imports stats.py as it loads: importing ShopError into stats.py would
    break both modules, so the F821 stands and names the node."""
    files = dict(PROJECT, **{ERRORS_PATH: "from textkit.stats import TextStats\n\n\nclass ShopError(Exception):\n    pass\n"})
    repo = make_repo(tmp_path / "r", files)
    env.responder = scripted({}, {f"{S}::TextStats.top_words": RAISES_SHOP})
    res = astm("apply", SHOP_INTENT,
               "--branch", "m", "--retries", "0", cwd=repo)
    _refused_without_import(res)
