"""A running track's file, written on a thread of its own.

A run saves its track at every change (a ticket starts, ends, its dependents start):
about three saves a ticket. Written on the scheduling thread, each save put a file write,
and on a busy machine the waits for the interpreter lock around it, between a ticket's
end and its dependents' start: on the track's critical path. Here the scheduler renders
the state (on its own thread, the only one that changes the track) and hands the text
over; one writer thread writes the latest text it was handed, so saves that come in a
burst make one write. ``flush`` waits until everything handed over is on disk.

Each write is still a temp file then ``os.replace`` (``store.write``): the file is never
torn. An exception or Ctrl-C flushes on the way out. A killed process may not have
written its last saves: what a ticket made is a ref the scheduler writes at once
(``chain.keep_result``), and the next run adopts a result the file did not record yet
(``resume.adopt``), so no done ticket is lost.
"""

from __future__ import annotations

import threading

from astm.conductor import store
from astm.conductor.models import Track
from astm.workspace.repo import Repo


class Saver:
    """One track's writer thread. ``put`` from the thread that changes the track."""

    def __init__(self, repo: Repo, tid: str) -> None:
        self._repo, self._tid = repo, tid
        self._cond = threading.Condition()
        self._text: str | None = None  # handed over, not written yet
        self._writing = False
        self._error: BaseException | None = None
        self._closed = False
        self.puts = 0
        self.writes = 0
        self._thread = threading.Thread(target=self._loop, name="astm-track-saver", daemon=True)
        self._thread.start()

    def put(self, track: Track) -> None:
        """Save ``track`` as it is now (written soon, on the writer thread); a write that
        failed before raises here."""
        text = store.render(track)
        with self._cond:
            self._raise()
            if self._closed:
                raise RuntimeError("the track saver is closed")
            self._text = text
            self.puts += 1
            self._cond.notify_all()

    def flush(self) -> None:
        """Return once everything put is on disk; raise what a write failed with."""
        with self._cond:
            while (self._text is not None or self._writing) and self._error is None:
                self._cond.wait()
            self._raise()

    def close(self) -> None:
        """Flush, then stop the writer thread (also when the flush raises)."""
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._text is None and not self._closed:
                    self._cond.wait()
                if self._text is None:  # closed, and everything is written
                    return
                text, self._text, self._writing = self._text, None, True
            error: BaseException | None = None
            try:
                store.write(self._repo, self._tid, text)
            except BaseException as exc:  # noqa: BLE001 - raised on the scheduler's thread
                error = exc
            with self._cond:
                self._writing = False
                self.writes += 1
                if error is not None:
                    self._error = error
                self._cond.notify_all()
