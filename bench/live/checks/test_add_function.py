"""textkit.core.count_lines(text): the number of lines that are not blank."""

from textkit.core import count_lines


def test_counts_only_lines_with_text():
    assert count_lines("a\n\n   \nb\n") == 2
    assert count_lines("one line") == 1


def test_empty_text_has_none():
    assert count_lines("") == 0
    assert count_lines("\n\n") == 0
