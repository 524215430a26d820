"""Build and refresh the index: parse only the blobs it has not seen.

A refresh lists the committed tree (path -> blob id, one walk with pygit2), summarises each
blob id the index lacks, and points ``files`` at the commit. Nothing else is read: a warm
refresh after one changed file parses one blob. Many new blobs (a cold build) are parsed
by worker processes; the index is written by this process alone, in batches, so an
interrupted build keeps what it finished.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from astm.index import terms
from astm.index.store import Store, using
from astm.index.summary import summarize
from astm.lang import language_of, suffixes
from astm.workspace.blobs import Blobs

POOL_MIN = 200  # fewer new blobs than this are parsed in-process
CHUNK = 40
BATCH = 500  # blobs per transaction
PRUNE_MIN = 1000  # unreferenced summaries kept in any case


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did. ``rebuilt`` says why the index started from empty, if it did."""

    commit: str | None
    files: int  # indexed files at the commit
    parsed: int  # blobs parsed by this refresh
    reused: int  # files whose blob the index already had
    broken: tuple[str, ...]  # paths tree-sitter found errors in
    skipped: tuple[tuple[str, str], ...]  # (path, why): not UTF-8, too large ...
    rebuilt: str | None
    pruned: int  # summaries of blobs no longer in the commit, removed
    seconds: float


def index_dir(blobs: Blobs) -> Path:
    return blobs.common / "astm" / "index"


def refresh(
    start: Path, *, rev: str | None = None, rebuild: bool = False, jobs: int | None = None
) -> RefreshReport:
    """Bring the index of the repository containing ``start`` up to ``rev`` (default HEAD).

    ``jobs``: worker processes for many new blobs (default: CPUs, at most 8; 1: none).
    """
    t0 = time.perf_counter()
    blobs = Blobs.open(start)

    def run(store: Store) -> RefreshReport:
        commit, parsed, reused, pruned = update(store, blobs, rev=rev, jobs=jobs)
        files, broken, skipped = _status(store)
        return RefreshReport(commit, files, parsed, reused, broken, skipped, store.rebuilt,
                             pruned, time.perf_counter() - t0)

    return using(index_dir(blobs), run, rebuild="asked" if rebuild else None)


def update(
    store: Store, blobs: Blobs, *, rev: str | None = None, jobs: int | None = None
) -> tuple[str | None, int, int, int]:
    """``(commit, parsed, reused, pruned)``; does nothing when ``rev`` is already indexed."""
    commit = blobs.head() if rev is None else None
    indexed = store.get("commit")
    if commit is not None and commit == indexed:
        return commit, 0, _count(store), 0
    listing = blobs.listing(rev, suffixes())
    if listing.commit is not None and listing.commit == indexed:
        return listing.commit, 0, _count(store), 0
    conn = store.conn
    known = {(oid, lang): bid for bid, oid, lang in conn.execute("SELECT id, oid, lang FROM blobs")}
    wanted: dict[str, tuple[str, str]] = {}  # path -> (oid, lang)
    todo: dict[tuple[str, str], None] = {}
    for path, oid in listing.files:
        lang = language_of(path)
        if lang is None:
            continue
        wanted[path] = (oid, lang)
        if (oid, lang) not in known:
            todo[(oid, lang)] = None
    # Parse outside transactions and write in short ones: another astm process may be
    # routing (reading) or refreshing (writing) the same index meanwhile.
    batch: list[_Result] = []
    for result in _summaries(blobs, list(todo), jobs):
        batch.append(result)
        if len(batch) == BATCH:
            _write(store, batch, known)
            batch = []
    _write(store, batch, known)
    with store.transaction():
        _point_files(store, {p: known[k] for p, k in wanted.items()})
        pruned = _prune(store)
        store.set("commit", listing.commit or "")
    return listing.commit, len(todo), len(wanted) - len(todo), pruned


def _count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM files").fetchone()[0])


def _write(store: Store, batch: list[_Result], known: dict[tuple[str, str], int]) -> None:
    if batch:
        with store.transaction():
            for result in batch:
                known[(result[0], result[1])] = _add(store, result)


def _add(store: Store, result: _Result) -> int:
    conn = store.conn
    oid, lang, status, note, summary, weights = result
    conn.execute(
        "INSERT OR IGNORE INTO blobs(oid, lang, status, note, summary) VALUES (?, ?, ?, ?, ?)",
        (oid, lang, status, note, summary),
    )
    (bid,) = conn.execute("SELECT id FROM blobs WHERE oid = ? AND lang = ?", (oid, lang)).fetchone()
    conn.executemany(
        "INSERT OR REPLACE INTO terms(term, blob, weight) VALUES (?, ?, ?)",
        [(t, bid, w) for t, w in weights.items()],
    )
    return int(bid)


def _point_files(store: Store, files: dict[str, int]) -> None:
    """Make ``files`` (and the path terms) say ``files``, changing only what differs."""
    conn = store.conn
    old = dict(conn.execute("SELECT path, blob FROM files"))
    gone = [p for p in old if p not in files]
    new = [p for p in files if p not in old]
    changed = [p for p in files if p in old and old[p] != files[p]]
    conn.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
    conn.executemany("DELETE FROM path_terms WHERE path = ?", [(p,) for p in gone])
    conn.executemany(
        "INSERT OR REPLACE INTO files(path, blob) VALUES (?, ?)",
        [(p, files[p]) for p in new + changed],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO path_terms(term, path, weight) VALUES (?, ?, ?)",
        [(t, p, w) for p in new for t, w in terms.path_weights(p).items()],
    )


def _prune(store: Store) -> int:
    """Drop summaries no file points at once they outnumber the files (keeps branch
    switches cheap without letting the index grow without bound)."""
    conn = store.conn
    (n_files,) = conn.execute("SELECT count(*) FROM files").fetchone()
    (n_blobs,) = conn.execute("SELECT count(*) FROM blobs").fetchone()
    if n_blobs - n_files <= max(PRUNE_MIN, n_files):
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS live(id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM live")
    conn.execute("INSERT OR IGNORE INTO live SELECT blob FROM files")
    cur = conn.execute("DELETE FROM blobs WHERE id NOT IN (SELECT id FROM live)")
    conn.execute("DELETE FROM terms WHERE blob NOT IN (SELECT id FROM live)")
    return int(cur.rowcount)


def _status(store: Store) -> tuple[int, tuple[str, ...], tuple[tuple[str, str], ...]]:
    n = _count(store)
    rows = store.conn.execute(
        "SELECT f.path, b.status, b.note FROM files f JOIN blobs b ON b.id = f.blob"
        " WHERE b.status != 'ok' ORDER BY f.path"
    ).fetchall()
    broken = tuple(p for p, s, _ in rows if s == "broken")
    skipped = tuple((p, note or s) for p, s, note in rows if s == "skipped")
    return n, broken, skipped


# -- parsing, in-process or in workers ---------------------------------------------------

# oid, lang, status, note, summary JSON, term weights
_Result = tuple[str, str, str, str | None, str, dict[str, int]]


def _one(blobs: Blobs, oid: str, lang: str) -> _Result:
    summary = summarize(lang, blobs.read(oid))
    return oid, lang, summary.status, summary.note, summary.to_json(), summary.weights()


def _summaries(blobs: Blobs, todo: list[tuple[str, str]], jobs: int | None) -> Iterator[_Result]:
    workers = jobs if jobs is not None else min(8, os.cpu_count() or 1)
    if workers <= 1 or len(todo) < POOL_MIN:
        for oid, lang in todo:
            yield _one(blobs, oid, lang)
        return
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    # spawn, not fork: the caller may hold threads, pygit2 and SQLite handles.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                             initargs=(str(blobs.repo.path),)) as pool:
        for results in pool.map(_work, chunks):
            yield from results


_worker_blobs: Blobs | None = None


def _init(gitdir: str) -> None:
    global _worker_blobs
    _worker_blobs = Blobs.open(Path(gitdir))


def _work(chunk: list[tuple[str, str]]) -> list[_Result]:
    assert _worker_blobs is not None
    return [_one(_worker_blobs, oid, lang) for oid, lang in chunk]
