"""``self.NAME`` used as data where NAME is a sibling method (astm.lang.python.members)."""

from __future__ import annotations

import pytest

from astm.lang.python import members

SIBLINGS = {
    "words": b"    def words(self):\n        return self.text.split()\n",
    "size": b"    @property\n    def size(self):\n        return len(self.text)\n",
    "key": b"    @staticmethod\n    def key(w):\n        return len(w)\n",
    "LIMIT": b"    LIMIT = 3\n",
}


def check(body: str) -> str | None:
    text = f"    def new(self):\n        {body}\n".encode()
    diag = members.misused(text, members.methods(SIBLINGS))
    return None if diag is None else diag.message


def test_methods_are_the_defs_that_are_not_properties() -> None:
    assert members.methods(SIBLINGS) == frozenset({"words", "key"})


@pytest.mark.parametrize(
    "body",
    [
        "return sum(len(w) for w in self.words) / len(self.words)",  # the 1.5B's answer
        "return [w for w in self.words]",
        "for w in self.words: pass",
        "return self.words[0]",
        "return 'a' in self.words",
        "return not self.words",
        "return 0.0 if not self.words else 1.0",
        "if self.words: return 1",
        "return sorted(self.words)",
    ],
)
def test_a_method_used_as_data_is_refused_with_the_call_to_write(body: str) -> None:
    assert check(body) == "self.words is a method: call it, self.words()"


@pytest.mark.parametrize(
    "body",
    [
        "return sum(len(w) for w in self.words()) / len(self.words())",
        "return sorted(self.words(), key=self.key)",  # a callback
        "return map(self.key, self.words())",
        "return self.size + 1",  # a property is data
        "return self.LIMIT * 2",
        "return [x for x in self.items]",  # not a sibling
    ],
)
def test_calls_callbacks_and_properties_pass(body: str) -> None:
    assert check(body) is None


def test_text_that_does_not_parse_is_left_to_the_syntax_checks() -> None:
    assert members.misused(b"    def new(self)\n        return self.words\n", frozenset({"words"})) is None
