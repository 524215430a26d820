"""TextStats.top_words(n) returns n words, most frequent first, ties by word."""

from textkit.stats import TextStats


def test_top_words_returns_n():
    stats = TextStats("b a b c a b d")
    assert stats.top_words(2) == [("b", 3), ("a", 2)]
    assert stats.top_words(1) == [("b", 3)]
    assert len(stats.top_words(4)) == 4


def test_top_words_more_than_there_are():
    assert TextStats("x y").top_words(5) == [("x", 1), ("y", 1)]
