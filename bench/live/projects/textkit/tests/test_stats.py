from textkit.stats import TextStats


def test_words_are_normalised():
    assert TextStats("The CAT, the hat").words() == ["the", "cat", "the", "hat"]


def test_line_lengths_and_longest_line():
    stats = TextStats("ab\nabcd\nabc")
    assert stats.line_lengths() == [2, 4, 3]
    assert stats.longest_line() == "abcd"


def test_longest_line_of_empty_text():
    assert TextStats("").longest_line() == ""
