"""The index on disk: one SQLite file, ``<git common dir>/astm/index/index.sqlite``.

Tables: ``blobs`` (blob id and language -> status, note, summary JSON), ``terms`` (routing
term -> blob, weight), ``files`` (path -> blob, for the indexed commit), ``path_terms``
(routing term -> path, weight) and ``meta`` (``format``, ``commit``). A file that is not an
index of this format (corrupted, truncated, written by another version of astm or of the
grammars) is deleted and built again: ``Store.open`` says why in ``rebuilt``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self, TypeVar

from astm.errors import UsageError

T = TypeVar("T")
SCHEMA = 2  # 2: every top-level statement of a Python file is a node
FILENAME = "index.sqlite"
BUSY_SECONDS = 30.0

_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs(
    id INTEGER PRIMARY KEY,
    oid TEXT NOT NULL,
    lang TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    summary TEXT NOT NULL,
    UNIQUE(oid, lang)
);
CREATE TABLE IF NOT EXISTS terms(
    term TEXT NOT NULL, blob INTEGER NOT NULL, weight INTEGER NOT NULL,
    PRIMARY KEY(term, blob)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, blob INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS path_terms(
    term TEXT NOT NULL, path TEXT NOT NULL, weight INTEGER NOT NULL,
    PRIMARY KEY(term, path)
) WITHOUT ROWID;
"""


def format_tag() -> str:
    """What the stored summaries depend on (this schema, every language's grammar); a
    different tag means a rebuild. Bump ``SCHEMA`` whenever ``summarize`` changes what it
    produces."""
    from astm.lang import by_name, names

    parts = [f"schema={SCHEMA}"]
    parts += [f"{name}={by_name(name).grammar_tag()}" for name in sorted(names())]
    return ";".join(parts)


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` says the file is not a usable index (rather than busy or unwritable)."""
    text = str(exc).lower()
    transient = ("locked", "busy", "unable to open", "readonly", "read-only", "disk i/o", "full")
    return not any(t in text for t in transient)


class Store:
    """An open index. Use ``Store.open``; close with ``close()`` or a ``with`` block."""

    def __init__(self, conn: sqlite3.Connection, path: Path, rebuilt: str | None) -> None:
        self.conn = conn
        self.path = path
        self.rebuilt = rebuilt

    @classmethod
    def open(cls, directory: Path, *, rebuild: str | None = None) -> Store:
        """The index in ``directory``, created if missing; ``rebuild`` (a reason) starts
        it from empty."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the index directory: {exc.strerror}",
                             path=str(directory)) from None
        path = directory / FILENAME
        tag = format_tag()
        reason = rebuild
        if rebuild:
            remove(path)
        try:
            conn = _connect(path)
            found = _format_of(conn)
            if found is None:
                _create(conn, tag)
            elif found != tag:
                conn.close()
                remove(path)
                reason = "the index was written by another version"
                conn = _connect(path)
                _create(conn, tag)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise UsageError(f"cannot use the index: {exc}", path=str(path)) from None
            remove(path)
            reason = "the index file was corrupted"
            conn = _connect(path)
            _create(conn, tag)
        return cls(conn, path, reason)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (waits up to ``BUSY_SECONDS`` for another writer)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def using(directory: Path, fn: Callable[[Store], T], *, rebuild: str | None = None) -> T:
    """``fn(store)`` on the index in ``directory``; an index found corrupted on the way is
    deleted and ``fn`` runs once more on a new one."""
    try:
        with Store.open(directory, rebuild=rebuild) as store:
            return fn(store)
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise UsageError(f"cannot use the index: {exc}", path=str(directory)) from None
    with Store.open(directory, rebuild="the index file was corrupted") as store:
        return fn(store)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    # Switching a new database to WAL answers "locked" at once, without waiting for the
    # busy timeout, while another connection is switching it (two processes, or threads,
    # opening a new index together): wait for it here, as a busy database is waited for.
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.01)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _format_of(conn: sqlite3.Connection) -> str | None:
    """The stored format tag, None for an empty database; DatabaseError for a foreign one."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    if "meta" not in tables:
        return "?"
    row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if row is None or conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
        return "?"
    return str(row[0])


def _create(conn: sqlite3.Connection, tag: str) -> None:
    # Idempotent, in one transaction: two processes may create the same new index.
    quoted = tag.replace("'", "''")
    conn.executescript(
        "BEGIN IMMEDIATE;"
        + _TABLES
        + f"INSERT OR REPLACE INTO meta(key, value) VALUES ('format', '{quoted}');"
        + f"PRAGMA user_version = {SCHEMA};"
        + "COMMIT;"
    )


def remove(path: Path) -> None:
    """Delete the index file and SQLite's side files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(str(path) + suffix).unlink()
        except FileNotFoundError:
            pass
