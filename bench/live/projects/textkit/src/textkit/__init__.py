"""Small helpers for slugs, word counts and text statistics."""

from textkit.core import initials, slugify, truncate, word_count
from textkit.stats import TextStats

__all__ = ["TextStats", "initials", "slugify", "truncate", "word_count"]
