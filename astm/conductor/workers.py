"""Where a track's tickets run: forked worker processes, or threads of the scheduler.

A ticket's engine run spends ~70 ms of Python CPU (its prompts, the model client, the
checks, the commits) holding the interpreter lock. The tickets of a DAG level get their
answers at about the same moment, and in threads of one process they queued for that one
lock: a chain of three tickets ran 90 ms a level beyond the model's latency alone, four
chains side by side 240 ms (bench/track.py, L = 1 s). Forked workers run them on every
core. What that buys grows with the cores: on 2 CPUs, 12% of a track's wall at L = 0 and
1-4% at L = 0.5-2 s, as each worker's first ticket pays for the memory pages it copies
(~40 ms of kernel time; docs/tracks.md).

- **Forked, not spawned.** A fork of the scheduler costs 4-8 ms and has astm, ``openai``
  and the provider's closure already; a spawned interpreter would import them again
  (1.3 s), so what a run imports on first use is imported before the fork (``preload``).
  The workers are forked when the run starts, before any ticket's thread exists (the
  track's saver thread is idle then), so no lock can be held by a thread the child lacks;
  the modules that keep process-wide threads (agents/threads.py, validate/ruff_batch.py)
  forget them in a child (``os.register_at_fork``).
- **One job at a time per worker**, sent over a pipe: the ticket's arguments in, its
  events, its early result commit (``landed``) and its ``Outcome`` out; each worker's
  sandboxes go to its own depot, emptied when it stops.
- **Signals.** A worker is a process group of its own: a terminal's Ctrl-C reaches the
  scheduler, which passes it on to the busy workers (``interrupt``): their engine runs stop
  as on a Ctrl-C, removing their sandboxes. A worker whose scheduler dies gets SIGINT from
  the kernel (Linux ``PR_SET_PDEATHSIG``) and stops the same way.

Threads remain where a fork is not at hand (no ``os.fork``: Windows; macOS, where a
forked child may not use the system's frameworks), where no two tickets can run at once,
or when ``[tool.astm.track] processes = false``.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import gc
import importlib
import os
import pickle
import signal
import sys
import threading
import traceback
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, Pipe
from typing import Any, Protocol, cast

from astm.conductor.ticket_run import Job, Outcome, TicketRun
from astm.errors import AstmError, Interrupted


class TicketPool(Protocol):
    def submit(self, job: Job, landed: Future[str] | None) -> Future[Outcome]: ...

    def interrupt(self) -> None: ...

    def shutdown(self) -> None: ...

    def join(self) -> None: ...


def forks() -> bool:
    """Whether this platform forks safely enough for workers (Linux)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def open_pool(run: TicketRun, jobs: int, width: int, *, processes: bool, paths: list[str], model: bool) -> TicketPool:
    """Workers for at most ``jobs`` tickets at once; forked when ``processes`` is asked,
    the platform forks and at least two tickets can run at once (``width``). ``paths``
    (the tickets' files) and ``model`` (a ticket asks the model) say what a run will
    import: imported here once, not in every worker."""
    count = max(1, min(jobs, width))
    if processes and count >= 2 and forks():
        preload(paths, model=model)
        try:
            return Forked(run, count)
        except OSError:  # no process to be had (EAGAIN, ENOMEM): the tickets run as threads
            pass
    return Threads(run, max(1, jobs))


def preload(paths: list[str], *, model: bool) -> None:
    """What an engine run loads on first use (its files' languages, the validators, the
    model client and its TLS context), loaded before the fork: each worker's first ticket
    loaded it again (300 ms of CPU a worker, most of it ``openai``'s chat resources and a
    TLS context). Once a process for each language and for the client."""
    from astm.lang import REGISTRY

    wanted = {mod for _, suffixes, mod in REGISTRY if not paths or any(p.endswith(suffixes) for p in paths)}
    if model:
        wanted.add("client")
    if not wanted - _PRELOADED:
        return
    _load(sorted(wanted - _PRELOADED))
    _PRELOADED.update(wanted)


_PRELOADED: set[str] = set()


def _load(what: list[str]) -> None:
    import pkgutil

    names = ["astm.core.view", "astm.validate.ruff", "astm.validate.ruff_batch", "astm.validate.commands",
             "astm.validate.pyright"]
    model = "client" in what
    for mod in what:
        if mod != "client":
            names.append(mod)
            with contextlib.suppress(Exception):
                names += [m.name for m in pkgutil.iter_modules(importlib.import_module(mod).__path__, mod + ".")]
    if model:
        llm = importlib.import_module("astm.llm")
        names += [m.name for m in pkgutil.iter_modules(llm.__path__, "astm.llm.")]
    for name in names:
        with contextlib.suppress(Exception):  # a module that cannot load fails in the run, named
            importlib.import_module(name)
    if model:
        from astm.llm.warm import warm_client

        warm_client()


class Threads:
    """Each ticket in a thread of this process (the scheduler's)."""

    def __init__(self, run: TicketRun, jobs: int) -> None:
        self.run = run
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="astm-ticket")

    def submit(self, job: Job, landed: Future[str] | None) -> Future[Outcome]:
        return self.pool.submit(self.run, job, landed)

    def interrupt(self) -> None:
        """Threads cannot be interrupted: their runs finish (and are kept)."""

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)

    def join(self) -> None:
        """Nothing left: ``shutdown`` waited."""


@dataclass
class _Busy:
    job: Job
    result: Future[Outcome]
    landed: Future[str] | None


@dataclass
class _Worker:
    pid: int
    conn: Connection
    busy: _Busy | None = None
    reader: threading.Thread | None = None
    exit_code: int | None = None


@dataclass
class Forked:
    """Tickets in forked worker processes, one job each at a time."""

    run: TicketRun
    count: int
    workers: list[_Worker] = field(default_factory=list)
    queue: deque[_Busy] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: bool = False

    def __post_init__(self) -> None:
        try:
            for _ in range(self.count):
                self.workers.append(self._fork())
        except OSError:  # the ones forked see their pipes close and end
            for w in self.workers:
                w.conn.close()
                os.waitpid(w.pid, 0)
            raise
        for w in self.workers:
            w.reader = threading.Thread(target=self._read, args=(w,), name=f"astm-worker-{w.pid}", daemon=True)
            w.reader.start()

    def _fork(self) -> _Worker:
        mine, theirs = cast(tuple[Connection, Connection], Pipe(duplex=True))
        others = [w.conn for w in self.workers]
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the scheduler's stack
            code = 0
            try:
                gc.freeze()  # what it inherited is never walked (and so never copied) by its collector
                mine.close()
                for c in others:  # the scheduler's ends of the workers forked before
                    c.close()
                code = _serve(theirs, self.run, parent)
            except KeyboardInterrupt:  # passed on before its loop began: its job fails as it ends
                code = 130
            except BaseException:  # noqa: BLE001 - reported on stderr, the worker ends
                with contextlib.suppress(Exception):
                    traceback.print_exc()
                code = 70
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        theirs.close()
        return _Worker(pid, mine)

    # ---- the scheduler's side ----

    def submit(self, job: Job, landed: Future[str] | None) -> Future[Outcome]:
        busy = _Busy(job, Future(), landed)
        with self.lock:
            self.queue.append(busy)
            self._dispatch()
        return busy.result

    def _dispatch(self) -> None:
        """Send queued jobs to idle workers (under ``lock``). With no worker left alive
        the queued jobs fail; a busy worker that dies fails its own job (``_read``)."""
        alive = [w for w in self.workers if w.exit_code is None]
        while self.queue:
            idle = next((w for w in alive if w.busy is None), None)
            if idle is None and alive:
                return
            busy = self.queue.popleft()
            if not busy.result.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            if idle is None:
                why = AstmError(f"ticket {busy.job.ticket}: no worker process is left to run it")
                busy.result.set_result(Outcome(busy.job.ticket, busy.job.base, error=why))
                continue
            idle.busy = busy
            with contextlib.suppress(OSError):  # it died: its job fails as its pipe closes
                idle.conn.send(busy.job)

    def _read(self, w: _Worker) -> None:
        """A worker's messages, on a thread of its own, until its pipe closes."""
        while True:
            try:
                kind, payload = w.conn.recv()
            except (EOFError, OSError):
                break
            if kind == "event":
                # A sink that fails (a closed terminal) must not take the reader with it:
                # the job's outcome would never be read, and the scheduler would wait on.
                with contextlib.suppress(Exception):
                    self.run.events(payload)
            elif kind == "landed":
                landed = w.busy.landed if w.busy is not None else None
                if landed is not None and not landed.done():
                    landed.set_result(payload)
            else:  # "outcome" or "crash": the worker is free
                with self.lock:
                    busy, w.busy = w.busy, None
                    if not self.stopping:
                        self._dispatch()
                if busy is not None:
                    if kind == "outcome":
                        busy.result.set_result(payload)
                    else:
                        busy.result.set_exception(RuntimeError(f"ticket {busy.job.ticket}'s worker failed:\n{payload}"))
        _, status = os.waitpid(w.pid, 0)
        with self.lock:
            w.exit_code = os.waitstatus_to_exitcode(status)
            busy, w.busy = w.busy, None
            self._dispatch()
        if busy is not None and not busy.result.done():
            why = AstmError(f"ticket {busy.job.ticket}: its worker process ended (exit code {w.exit_code})")
            busy.result.set_result(Outcome(busy.job.ticket, busy.job.base, error=why))

    def interrupt(self) -> None:
        """Stop the busy workers' runs as a Ctrl-C would (each removes its sandboxes);
        queued jobs never start."""
        with self.lock:
            self.stopping = True
            for busy in self.queue:
                busy.result.cancel()
            self.queue.clear()
            pids = [w.pid for w in self.workers if w.busy is not None and w.exit_code is None]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)

    def shutdown(self) -> None:
        """Wait for the jobs sent, then tell every worker to stop (``join`` waits for that)."""
        with self.lock:
            self.stopping = True
            for busy in self.queue:
                busy.result.cancel()
            self.queue.clear()
            sent = [w.busy.result for w in self.workers if w.busy is not None]
        wait_for(sent)  # their outcomes are read by whoever submitted them
        for w in self.workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)

    def join(self) -> None:
        """Wait until every worker has emptied its depot and exited."""
        for w in self.workers:
            if w.reader is not None:
                w.reader.join()
            with contextlib.suppress(OSError):
                w.conn.close()


# ---- the worker's side ----


def _serve(conn: Connection, run: TicketRun, parent: int) -> int:
    """A worker's life: jobs in, their events and outcomes out, until told to stop."""
    os.setpgid(0, 0)  # a terminal's Ctrl-C goes to the scheduler, which passes it on
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if not _die_with_parent(parent):
        return 0
    with contextlib.suppress(OSError):  # the reviews read the terminal in the scheduler
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    from astm.agents import threads
    from astm.workspace.depot import Depot
    from astm.workspace.repo import Repo

    send_lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        # A Ctrl-C passed on mid-message would leave half of it in the pipe.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            with send_lock:
                conn.send((kind, payload))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def tell(kind: str, payload: Any) -> None:
        with contextlib.suppress(OSError):  # the scheduler is gone: its SIGINT is on its way
            send(kind, payload)

    depot = Depot()
    mine = replace(run, repo=Repo.open(run.repo.workdir), events=lambda e: tell("event", e), depot=depot)
    try:
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError, KeyboardInterrupt):
                return 0
            if job is None:
                return 0
            landed: Future[str] | None = None
            if job.early:
                landed = Future()
                landed.add_done_callback(lambda f: tell("landed", f.result()))
            outcome: Outcome | str
            try:
                outcome = _portable(mine(job, landed))
            except KeyboardInterrupt:
                outcome = Outcome(job.ticket, job.base, error=Interrupted("interrupted"))
            except Exception:  # noqa: BLE001 - a bug: the scheduler crashes with its trace
                outcome = traceback.format_exc()
            try:
                send("crash" if isinstance(outcome, str) else "outcome", outcome)
            except OSError:  # the scheduler is gone
                return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # its sandboxes go whole, even as the scheduler dies
        depot.close()
        threads.close()


def _portable(o: Outcome) -> Outcome:
    """``o`` with an error the scheduler can unpickle (an error whose class would not
    rebuild travels as an ``AstmError`` of its text and exit code)."""
    if o.error is None:
        return o
    err = copy.copy(o.error)
    err.__dict__.pop("result", None)  # the partial run: what the scheduler needs of it is ``o.run``
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 - any failure to rebuild: send its text
        err = AstmError(str(o.error))
        err.exit_code = o.error.exit_code
    return replace(o, error=err)


def _die_with_parent(parent: int) -> bool:
    """SIGINT when the scheduler dies (Linux): the worker's run stops and cleans up.
    False: it is dead already."""
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGINT)
    return os.getppid() == parent
