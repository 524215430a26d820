from textkit.core import initials, slugify, truncate, word_count


def test_slugify_normalises_accents_and_case():
    assert slugify("Crème Brûlée  Recipes") == "creme-brulee-recipes"


def test_slugify_custom_separator():
    assert slugify("Hello World", sep="_") == "hello_world"


def test_word_count():
    assert word_count("It's a small world, after all") == 6


def test_truncate_keeps_short_text():
    assert truncate("short", 10) == "short"


def test_truncate_cuts_long_text():
    assert truncate("a long sentence here", 10) == "a long ..."


def test_initials():
    assert initials("ada  lovelace") == "AL"
