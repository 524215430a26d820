"""TextStats.average_word_length: the mean word length, 0.0 without words."""

import pytest
from textkit.stats import TextStats


def test_average_word_length():
    assert TextStats("ab abcd").average_word_length() == pytest.approx(3.0)
    assert TextStats("The cat sat").average_word_length() == pytest.approx(3.0)
    assert TextStats("a bb ccc dddd").average_word_length() == pytest.approx(2.5)


def test_average_word_length_without_words():
    assert TextStats("").average_word_length() == 0.0
    assert TextStats("  ,  ").average_word_length() == 0.0
