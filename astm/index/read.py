"""Summaries of files at the indexed commit, for callers that need more than a ranking."""

from __future__ import annotations

from pathlib import Path

from astm.index.indexer import index_dir, update
from astm.index.store import Store, using
from astm.index.summary import Summary
from astm.workspace.blobs import Blobs


def summaries(
    start: Path, paths: list[str] | None = None, *, rev: str | None = None
) -> dict[str, Summary]:
    """``path -> Summary`` at ``rev`` (default HEAD) for ``paths`` (default: every indexed
    file), refreshing the index first; paths the commit lacks are left out."""
    blobs = Blobs.open(start)
    query = "SELECT f.path, b.summary FROM files f JOIN blobs b ON b.id = f.blob"

    def run(store: Store) -> list[tuple[str, str]]:
        update(store, blobs, rev=rev)
        if paths is None:
            return store.conn.execute(query).fetchall()
        return [r for p in paths for r in store.conn.execute(query + " WHERE f.path = ?", (p,))]

    rows = using(index_dir(blobs), run)
    out: dict[str, Summary] = {}
    for path, text in rows:
        try:
            out[path] = Summary.from_json(text)
        except ValueError:
            continue
    return out
