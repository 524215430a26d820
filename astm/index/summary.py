"""The parsed summary of one blob: its nodes with kinds, names, signatures and byte ranges.

A summary depends only on the bytes and the language, so it is stored once per blob id
and shared by every path and commit holding that blob; node ids are the summary's
qualified names joined to a path (``Summary.ids``). Bad input gives a summary, never an
exception: ``status`` is ``ok``, ``broken`` (tree-sitter found errors; nodes are what it
could still see) or ``skipped`` (not UTF-8, too large), with a ``note`` saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from astm.index import terms
from astm.lang import by_name
from astm.lang.summary import Entry

__all__ = ["MAX_BYTES", "Entry", "Summary", "summarize"]

MAX_BYTES = 8 * 1024 * 1024  # larger files are skipped with a note


@dataclass(frozen=True)
class Summary:
    lang: str  # the language's name (astm.lang.REGISTRY)
    status: str  # "ok", "broken" or "skipped"
    note: str | None
    size: int
    nodes: tuple[Entry, ...]

    def ids(self, path: str) -> list[str]:
        return [f"{path}::{e.qual}" for e in self.nodes]

    def weights(self) -> dict[str, int]:
        """Routing term -> its highest weight over the nodes."""
        out: dict[str, int] = {}
        for e in self.nodes:
            for term, w in terms.node_weights(e.key, e.signature).items():
                if w > out.get(term, 0):
                    out[term] = w
        return out

    def to_json(self) -> str:
        nodes = [[e.qual, e.kind, e.key, e.start, e.end, e.signature] for e in self.nodes]
        return json.dumps(
            {"lang": self.lang, "status": self.status, "note": self.note, "size": self.size,
             "nodes": nodes},
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Summary:
        """The summary ``to_json`` wrote; ValueError for anything else."""
        try:
            d = json.loads(text)
            nodes = tuple(Entry(str(q), str(k), key, int(s), int(e), str(sig))
                          for q, k, key, s, e, sig in d["nodes"])
            return cls(str(d["lang"]), str(d["status"]), d["note"], int(d["size"]), nodes)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a summary: {exc}") from None


def summarize(lang: str, data: bytes) -> Summary:
    """The summary of ``data`` read as ``lang`` (see ``astm.lang.language_of``)."""
    if len(data) > MAX_BYTES:
        return Summary(lang, "skipped", f"too large ({len(data)} bytes)", len(data), ())
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Summary(lang, "skipped", f"not UTF-8 (byte {exc.start})", len(data), ())
    try:
        status, note, entries = by_name(lang).summary(data)
    except RecursionError:
        return Summary(lang, "skipped", "nesting too deep", len(data), ())
    return Summary(lang, status, note, len(data), entries)
