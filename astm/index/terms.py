"""Words for routing: identifiers and intents reduced to the same lower-case stems.

``HTTPConnection`` -> ``http``, ``connection``; ``parse_args`` -> ``parse_args``, ``pars``,
``arg``. A stem drops one common English ending (``ing``, ``ed``, ``es``, ``s``, ``e``)
when at least three letters remain, so ``parse``, ``parses``, ``parsed`` and ``parsing``
meet. Intents lose English function words and words shorter than two letters.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+")
# camelCase and acronym boundaries: HTTPConnection -> HTTP Connection, parseArgs -> parse Args
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_ENDINGS = ("ing", "ed", "es", "s", "e")
STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "could", "do", "does", "for",
    "from", "has", "have", "in", "into", "is", "it", "its", "make", "makes", "must", "of", "on",
    "or", "our", "please", "should", "so", "that", "the", "their", "then", "there", "these",
    "this", "those", "to", "use", "using", "was", "we", "when", "where", "which", "while",
    "will", "with", "would", "you", "your", "def", "class", "self", "cls", "none", "true",
    "false", "return", "async", "await",
})


def stem(word: str) -> str:
    w = word.lower()
    for end in _ENDINGS:
        if w.endswith(end) and len(w) - len(end) >= 3 and not (end == "s" and w.endswith("ss")):
            return w[: -len(end)]
    return w


def split_identifier(name: str) -> list[str]:
    """The parts of an identifier: ``_parse_HTTPHeader2`` -> parse, HTTP, Header, 2."""
    parts: list[str] = []
    for chunk in name.split("_"):
        if chunk:
            parts.extend(_CAMEL.findall(chunk))
    return parts


def name_terms(name: str) -> tuple[str, list[str]]:
    """``(whole, parts)``: the stem of the whole name and of each of its parts."""
    whole = name.lower().strip("_")
    parts = [stem(p) for p in split_identifier(name)]
    return whole, [p for p in parts if len(p) > 1]


def identifiers(text: str) -> list[str]:
    """The identifiers in a piece of code (a signature), keywords and ``self`` left out."""
    return [m for m in _IDENT.findall(text) if m.lower() not in STOP]


def query_words(intent: str) -> list[str]:
    """The stems an intent is routed by, in order, without repeats."""
    out: dict[str, None] = {}
    for raw in _IDENT.findall(intent):
        whole = raw.lower()
        if whole in STOP or len(whole) < 2:
            continue
        if "_" in raw.strip("_") or any(c.isupper() for c in raw[1:]):
            out[whole.strip("_")] = None  # an identifier as written: match it whole too
        for part in split_identifier(raw):
            p = stem(part)
            if len(p) > 1 and part.lower() not in STOP:
                out[p] = None
    return list(out)


NAME = 3  # the whole name of a node (or a file name)
PART = 2  # a part of a name (or a directory name)
CONTEXT = 1  # an identifier in a signature, an imported module


def node_weights(key: str | None, signature: str) -> dict[str, int]:
    """The routing terms of one node and their weights."""
    out: dict[str, int] = {}
    for ident in identifiers(signature):
        for part in split_identifier(ident):
            p = stem(part)
            if len(p) > 1:
                out[p] = CONTEXT
    if key:
        whole, parts = name_terms(key)
        for p in parts:
            out[p] = PART
        if len(whole) > 1:
            out[whole] = NAME
    return out


def path_weights(path: str) -> dict[str, int]:
    """The routing terms of a file path: its name weighs like a node name, directories less."""
    *dirs, name = path.split("/")
    out: dict[str, int] = {}
    for d in dirs:
        for part in _WORD.findall(d):
            for p in split_identifier(part):
                s = stem(p)
                if len(s) > 1:
                    out[s] = PART
    base = name.rsplit(".", 1)[0]
    whole, parts = name_terms(base)
    for p in parts:
        out[p] = max(out.get(p, 0), PART)
    if len(whole) > 1:
        out[whole] = NAME
    return out
