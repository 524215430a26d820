"""Candidate files for an intent, ranked from the warm index without parsing anything.

Score of a file = sum over the intent's words it matches of ``idf(word) * weight``, where
the weight is the best place the word appears: a node's whole name or the file name (3),
a part of a name or a directory name (2), an identifier in a signature or an import (1);
``idf = log(1 + files / files matching the word)`` so rare words count more. Words are
compared as stems (``astm.index.terms``). The matched node ids of a file are its nodes
whose names or signatures hold an intent word, best first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from astm.index import terms
from astm.index.indexer import index_dir, update
from astm.index.store import Store, using
from astm.index.summary import Summary
from astm.workspace.blobs import Blobs

MAX_NODES = 8  # matched node ids listed per file


class Candidate(NamedTuple):
    path: str
    score: float
    nodes: tuple[str, ...]  # matched node ids (``path::qualname``), best first


def candidates(
    start: Path, intent: str, limit: int = 20, *, rev: str | None = None
) -> list[Candidate]:
    """The ``limit`` files of the repository containing ``start`` that best match
    ``intent`` at ``rev`` (default HEAD), refreshing the index first (cheap when warm)."""
    words = terms.query_words(intent)
    blobs = Blobs.open(start)

    def run(store: Store) -> list[Candidate]:
        update(store, blobs, rev=rev)
        return rank(store, words, limit) if words and limit > 0 else []

    return using(index_dir(blobs), run)


def rank(store: Store, words: list[str], limit: int) -> list[Candidate]:
    conn = store.conn
    marks = ",".join("?" * len(words))
    paths_of: dict[int, list[str]] = defaultdict(list)
    for path, blob in conn.execute("SELECT path, blob FROM files"):
        paths_of[blob].append(path)
    n_files = sum(len(v) for v in paths_of.values())
    # best weight of each word in each file
    best: dict[str, dict[str, int]] = defaultdict(dict)
    for term, blob, weight in conn.execute(
        f"SELECT term, blob, weight FROM terms WHERE term IN ({marks})", words
    ):
        for path in paths_of.get(blob, ()):
            best[path][term] = weight
    for term, path, weight in conn.execute(
        f"SELECT term, path, weight FROM path_terms WHERE term IN ({marks})", words
    ):
        if weight > best[path].get(term, 0):
            best[path][term] = weight
    df: dict[str, int] = defaultdict(int)
    for matched in best.values():
        for term in matched:
            df[term] += 1
    idf = {t: math.log(1 + n_files / d) for t, d in df.items()}
    scored = sorted(
        ((sum(idf[t] * w for t, w in m.items()), p) for p, m in best.items()),
        key=lambda sp: (-sp[0], sp[1]),
    )[:limit]
    top = {p for _, p in scored}
    blob_of = {p: b for b, ps in paths_of.items() for p in ps if p in top}
    summaries = _summaries(store, sorted(set(blob_of.values())))
    out = []
    for score, path in scored:
        summary = summaries.get(blob_of[path])
        nodes = _matched_nodes(summary, path, idf) if summary else ()
        out.append(Candidate(path, round(score, 3), nodes))
    return out


def _summaries(store: Store, ids: list[int]) -> dict[int, Summary]:
    out: dict[int, Summary] = {}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for bid, text in store.conn.execute(
        f"SELECT id, summary FROM blobs WHERE id IN ({marks})", ids
    ):
        try:
            out[bid] = Summary.from_json(text)
        except ValueError:  # a damaged row: the file still ranks, without node ids
            continue
    return out


def _matched_nodes(summary: Summary, path: str, idf: dict[str, float]) -> tuple[str, ...]:
    scored = []
    for i, e in enumerate(summary.nodes):
        weights = terms.node_weights(e.key, e.signature)
        score = sum(idf[t] * w for t, w in weights.items() if t in idf)
        if score > 0:
            scored.append((-score, i, f"{path}::{e.qual}"))
    return tuple(nid for _, _, nid in sorted(scored)[:MAX_NODES])
