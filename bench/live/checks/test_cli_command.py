"""`textkit initials NAME` prints the initials; the other commands stay."""

from click.testing import CliRunner
from textkit.cli import main


def test_initials_command():
    res = CliRunner().invoke(main, ["initials", "ada lovelace"])
    assert res.exit_code == 0, res.output
    assert res.output == "AL\n"


def test_other_commands_kept():
    assert CliRunner().invoke(main, ["slug", "Hello World"]).output == "hello-world\n"
    assert CliRunner().invoke(main, ["count", "a b c"]).output == "3\n"
