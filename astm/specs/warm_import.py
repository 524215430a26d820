"""The import check of generated modules, from one warm interpreter.

A build checks every generated module by importing it in a fresh Python: a new
interpreter per module costs its start-up (tens of milliseconds of CPU, a quarter of a
second on a loaded machine), and the last module's check is on the build's critical
path. Here one server interpreter of the project's Python starts with the build and
forks a child per check: the child takes the sandbox's directory, environment and path
(as ``python -c`` would with ``PYTHONPATH`` set: the working directory first, then the
given roots, then the interpreter's own path), imports the module with its output sent
to /dev/null, and reports one line. The server imports nothing of the project or of
astm, so each child starts as clean as a new interpreter. A child that hangs is killed
by its own alarm; the caller's clock reports it. Where ``fork`` is missing, or the
server cannot start or dies, ``check`` answers None and the caller runs its subprocess.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import IO

# The server: reads one JSON request a line, forks, the child imports and writes one
# JSON line back (one write: shorter than PIPE_BUF, so children never interleave).
_SERVER = r"""
import importlib, json, os, signal, sys, traceback
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
base = [p for p in sys.path if p != ""]
for line in sys.stdin:
    req = json.loads(line)
    if os.fork():
        continue
    out = 1
    reply = {"id": req["id"], "ok": True, "line": 0, "text": ""}
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.alarm(req["alarm"])  # a hung import dies here; the caller's clock says so
        out = os.dup(1)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.path[:] = ["", *req["paths"], *base]
        sys.dont_write_bytecode = True
        importlib.import_module(req["module"])
    except BaseException as exc:
        path = req["path"]
        frames = traceback.extract_tb(exc.__traceback__)
        at = next((f.lineno for f in reversed(frames)
                   if f.filename.replace("\\", "/").endswith(path)), 0)
        if isinstance(exc, SyntaxError) and (exc.filename or "").replace("\\", "/").endswith(path):
            at = exc.lineno or 0
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        reply = {"id": req["id"], "ok": False, "line": at or 0, "text": text}
    try:
        os.write(out, (json.dumps(reply) + "\n").encode("utf-8", "replace"))
    finally:
        os._exit(0)
"""


@dataclass(frozen=True)
class Imported:
    ok: bool
    line: int  # in the module's file; 0: unknown
    text: str  # "ExcType: message", or "" when it imported


class TimedOut(Exception):
    """The import did not finish in time."""


class WarmImporter:
    def __init__(self, python: str) -> None:
        self.python = python
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, Future[Imported | None]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._dead = not hasattr(os, "fork")

    def start(self) -> None:
        """Start the server now (it starts at the first check otherwise): its start-up
        then runs beside the build's first model calls, not when a module validates."""
        with self._lock:
            self._start()

    def _start(self) -> subprocess.Popen[bytes] | None:
        from astm.workspace.git import clean_env

        if self._proc is None and not self._dead:
            env = clean_env()
            env.pop("PYTHONPATH", None)  # each check gives its own path
            try:
                self._proc = subprocess.Popen(
                    [self.python, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, env=env, cwd=os.path.abspath(os.sep),
                )
            except OSError:
                self._dead = True
                return None
            assert self._proc.stdout is not None
            threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True,
                             name="astm-warm-import").start()
        return self._proc

    def _read(self, stdout: IO[bytes]) -> None:
        for raw in stdout:
            try:
                reply = json.loads(raw)
                fut = self._pending.pop(int(reply["id"]), None)
                if fut is not None:
                    fut.set_result(Imported(bool(reply["ok"]), int(reply["line"]), str(reply["text"])))
            except (ValueError, KeyError, TypeError):
                continue
        with self._lock:  # the server is gone: whoever waits runs its own subprocess
            self._dead = True
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            fut.set_result(None)

    def check(self, cwd: str, env: dict[str, str], module: str, path: str,
              timeout: float) -> Imported | None:
        """Import ``module`` (file ``path``) as ``python -c`` with ``env`` in ``cwd`` would;
        None: no warm interpreter (run a subprocess instead). Raises TimedOut."""
        fut: Future[Imported | None] = Future()
        with self._lock:
            proc = self._start()
            if proc is None or self._dead or proc.stdin is None:
                return None
            rid = next(self._ids)
            self._pending[rid] = fut
            paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            req = {"id": rid, "cwd": cwd, "env": env, "paths": paths, "module": module,
                   "path": path, "alarm": int(timeout) + 2}
            try:
                proc.stdin.write((json.dumps(req) + "\n").encode())
                proc.stdin.flush()
            except (OSError, ValueError):
                self._pending.pop(rid, None)
                self._dead = True
                return None
        try:
            return fut.result(timeout=timeout)
        except FutureTimeout:
            self._pending.pop(rid, None)
            raise TimedOut from None

    def stop(self) -> None:
        """No more checks: the server's stdin closes and it exits on its own (a child still
        importing ends by its alarm); ``close`` then finds it gone instead of waiting."""
        with self._lock:  # never while a check writes its request
            proc, self._dead = self._proc, True
            if proc is not None and proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Stop the server and wait for it to exit."""
        self.stop()
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
