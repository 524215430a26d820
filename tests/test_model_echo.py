"""What a small model repeats (issue 10): the same wrong answer at temperature 0, and a
class written back around the one method it was asked for.

End to end: the real CLI, the real openai client, the loopback server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai_server as loopback
import pytest
from conftest import git, make_repo
from test_model_habits import env, scripted  # noqa: F401  (the env fixture)
from test_named_routes import PROJECT, STATS, S

openai_server = loopback.openai_server

FIXED = "    def top_words(self, n):\n        return self.words()[:n]\n"
BROKEN = "    def top_words(self, n):\n        return self.words()[: n - 1\n"  # does not parse
INTENT = "Fix the off-by-one in TextStats.top_words: asked for n words it returns only n - 1"


def test_an_answer_given_twice_makes_the_next_retry_warmer(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """At temperature 0 the 1.5B gave the same broken answer through every retry."""
    repo = make_repo(tmp_path / "r", PROJECT)
    env.responder = scripted({}, {f"{S}::TextStats.top_words": [BROKEN, BROKEN, FIXED]})
    res = astm("apply", INTENT, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert [r.body.get("temperature") for r in env.requests] == [0.0, 0.0, 0.7]
    assert f"{S}::TextStats.top_words: the same answer twice; retrying at temperature 0.7" in res.out
    assert "return self.words()[:n]\n" in git(repo, "show", f"m:{S}") + "\n"


def test_the_echo_temperature_is_a_setting(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("ASTM_ECHO_TEMPERATURE", "1.2")
    repo = make_repo(tmp_path / "r", PROJECT)
    env.responder = scripted({}, {f"{S}::TextStats.top_words": [BROKEN, BROKEN, FIXED]})
    res = astm("apply", INTENT, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert [r.body.get("temperature") for r in env.requests] == [0.0, 0.0, 1.2]
    # Different answers each time: no warming at all.
    repo2 = make_repo(tmp_path / "r2", PROJECT)
    other = "    def top_words(self, n):\n        return self.words()[: n - 2\n"
    monkeypatch.delenv("ASTM_ECHO_TEMPERATURE")
    env.requests.clear()
    env.responder = scripted({}, {f"{S}::TextStats.top_words": [BROKEN, other, FIXED]})
    res = astm("apply", INTENT, "--branch", "m", cwd=repo2)
    assert res.code == 0, res.err
    assert [r.body.get("temperature") for r in env.requests] == [0.0, 0.0, 0.0]
    assert "retrying at temperature" not in res.out


def test_a_method_is_taken_out_of_its_class_written_back_around_it(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """The class came back with its other methods' bodies a comment: no Python as a whole,
    but the method asked for stands alone."""
    repo = make_repo(tmp_path / "r", PROJECT)
    whole = ("class TextStats:\n    def __init__(self, text):\n        # Implementation\n\n"
             "    def words(self):\n        # Implementation\n\n" + FIXED)
    env.responder = scripted({}, {f"{S}::TextStats.top_words": whole})
    res = astm("apply", INTENT, "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert len(env.requests) == 1
    assert git(repo, "show", f"m:{S}") + "\n" == STATS.replace("return self.words()[: n - 1]", "return self.words()[:n]")


def test_a_signature_slip_is_mended_not_retried(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    slip = "    def top_words(self, n: int -> list[str]:\n        return self.words()[:n]\n"
    env.responder = scripted({}, {f"{S}::TextStats.top_words": slip})
    res = astm("apply", "Add type hints to TextStats.top_words", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert len(env.requests) == 1
    assert "    def top_words(self, n: int) -> list[str]:\n        return self.words()[:n]\n" in git(repo, "show", f"m:{S}") + "\n"


def test_a_new_members_stub_stands_in_its_class_so_a_class_written_back_carries_it(
    env: loopback.LoopbackServer, tmp_path: Path, astm: Any  # noqa: F811
) -> None:
    """The 1.5B wrote Inventory back six times without total_units. Shown the class with
    the new method's stub at its end, a class written back carries the method, which is
    taken out of it; the unchanged siblings are not touched."""
    repo = make_repo(tmp_path / "r", PROJECT)
    cls = STATS[STATS.index("class TextStats:"):]
    method = "    def count(self):\n        return len(self.words())\n"
    env.responder = scripted({}, {f"{S}::TextStats.count": cls + "\n" + method})
    res = astm("apply", "Add a method TextStats.count that returns how many words there are", "--branch", "m", cwd=repo)
    assert res.code == 0, res.err
    assert len(env.requests) == 1
    prompt = env.requests[0].body["messages"][-1]["content"]
    assert cls.rstrip("\n") + "\n\n    def count(self):\n        ...\n" in prompt  # the class, then the stub
    assert git(repo, "show", f"m:{S}") + "\n" == STATS + "\n" + method
