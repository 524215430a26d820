"""slugify(text, sep, max_length=None) cuts the slug, never ending with the separator."""

from textkit.core import slugify


def test_max_length_cuts():
    slug = slugify("Hello big wide World", max_length=9)
    assert len(slug) <= 9
    assert slug.startswith("hello")
    assert not slug.endswith("-")


def test_never_ends_with_separator():
    assert slugify("Hello World", max_length=6) == "hello"
    assert slugify("ab cd ef", sep="_", max_length=6) == "ab_cd"


def test_default_is_uncut():
    assert slugify("Hello big wide World") == "hello-big-wide-world"
    assert slugify("Hello World", max_length=50) == "hello-world"
