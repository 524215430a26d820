"""Text helpers: slugs, word counts, truncation, initials."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[a-z0-9']+", re.IGNORECASE)


def _norm(text):
    """Lower-case TEXT, strip its accents and collapse its whitespace."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().split())


def slugify(text, sep="-"):
    """A URL slug: the normalised words of TEXT joined by SEP."""
    words = WORD.findall(_norm(text))
    return sep.join(w.replace("'", "") for w in words)


def word_count(text):
    """How many words TEXT holds."""
    return len(WORD.findall(text))


def truncate(text, width, suffix="..."):
    """TEXT cut to at most WIDTH characters, ending with SUFFIX when cut."""
    if len(text) <= width:
        return text
    return text[: width - len(suffix)] + suffix


def initials(name):
    """The upper-case initials of a person's NAME."""
    return "".join(part[0].upper() for part in _norm(name).split())


def count_lines(text):
    """How many lines of TEXT are not blank."""
    return sum(1 for line in text.splitlines() if line.strip())
