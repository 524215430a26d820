"""``astm --help`` lists the commands from a table instead of importing them."""

from __future__ import annotations

import importlib
import subprocess
import sys

from astm import cli


def test_short_help_table_matches_every_command() -> None:
    assert set(cli.SHORT_HELP) == set(cli.COMMANDS)
    for name, module in cli.COMMANDS.items():
        command = importlib.import_module(module).command
        assert cli.SHORT_HELP[name] == command.get_short_help_str(limit=10_000), name


def test_help_imports_no_command() -> None:
    code = (
        "import sys\nfrom astm.cli import main\nmain(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('astm.commands.', 'pydantic', 'openai'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "apply" in out.stdout and "Commands:" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
