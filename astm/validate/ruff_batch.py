"""ruff on many files in one process: one process a node cost ~20 ms of start-up each.

The leaves of a run (and the runs of a track's tickets, each in its thread) ask for ruff's
findings on the text they just wrote into their own sandbox, at nearly the same moment.
``findings_many`` hands such requests to this process-wide batcher: a request finding
a ruff process free starts one at once (at most ``RUNNING`` at a time); requests arriving
meanwhile wait and go together into the next one. Nothing waits for a batch to fill up, so a
lone request costs what it did.

A batch reads the files from disk, so each request's text is compared with its file once
ruff has read it (a read before too cost as much again, at 2 ms a file when the loop
thread holds the interpreter): a file that is not that text, a batch ruff refuses (a
broken configuration in one sandbox), or a request alone are checked on stdin as
``ruff.run`` always did. Each file's configuration is found from its own sandbox, as with
``--stdin-filename`` there; requests under different lint gates go in different batches.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from astm.validate import ruff
from astm.validate.ruff import Finding

RUNNING = 1  # ruff processes at once: a batch waits for the one before; ruff spreads a batch over the cores


@dataclass
class _Request:
    cwd: Path
    relpath: str
    data: bytes
    done: Future[list[Finding] | None] = field(default_factory=Future)

    @property
    def file(self) -> Path:
        return self.cwd / self.relpath

    def on_disk(self) -> bool:
        try:
            return self.file.read_bytes() == self.data
        except OSError:
            return False


_lock = threading.Lock()
_pending: list[_Request] = []
_running = 0


def _forget() -> None:
    """A forked child (a track's worker) has none of its parent's draining threads."""
    global _lock, _running
    _lock, _running = threading.Lock(), 0
    _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def findings_many(items: list[tuple[Path, str, bytes]]) -> list[Future[list[Finding] | None]]:
    """``ruff.findings(cwd, relpath, data)`` of each item, for a ``data`` the caller has
    just written to ``cwd/relpath`` and leaves there until the result is in. Items given
    together go in the same batch (``validate/hands``: answers that came back together)."""
    reqs = [_Request(cwd, relpath, data) for cwd, relpath, data in items]
    global _running
    with _lock:
        _pending.extend(reqs)
        start = _running < RUNNING
        if start:
            _running += 1
    if start:
        threading.Thread(target=_drain, name="astm-ruff-batch", daemon=True).start()
    return [r.done for r in reqs]


def _drain() -> None:
    global _running
    while True:
        with _lock:
            if not _pending:
                _running -= 1
                return
            batch = _pending[:]
            _pending.clear()
        try:
            _check(batch)
        except BaseException as exc:  # noqa: BLE001 - every waiter hears of it
            for req in batch:
                if not req.done.done():
                    req.done.set_exception(exc)


def _check(batch: list[_Request]) -> None:
    groups: dict[tuple[str, ...], list[_Request]] = {}
    for req in batch:
        if len(batch) > 1:  # the gate read here: off the caller's event loop
            groups.setdefault(tuple(ruff.gate(req.cwd)), []).append(req)
        else:
            _alone(req)
    for gate, reqs in groups.items():
        if len(reqs) == 1:
            _alone(reqs[0])
            continue
        root = Path(os.path.commonpath([str(r.file) for r in reqs]))
        if root in (r.file for r in reqs):
            root = root.parent
        names: dict[str, _Request] = {}
        for r in reqs:
            name = r.file.relative_to(root).as_posix()
            if name in names:
                _alone(r)  # one file asked twice (its text matched both times): apart
            else:
                names[name] = r
        cmd = ruff.ruff_command()
        got = ruff.run_files(root, {n: r.data for n, r in names.items()}, cmd, gate) if cmd else "no ruff"
        for name, req in names.items():
            if isinstance(got, str) or not req.on_disk():
                _alone(req)  # refused, or the file changed under the batch
            else:
                req.done.set_result(got.get(name, []))


def _alone(req: _Request) -> None:
    req.done.set_result(ruff.findings(req.cwd, req.relpath, req.data))
