"""``python -m astm`` and the ``astm`` console script (``astm.__main__:run``).

The entry point catches a Ctrl-C from the first instruction on (even while the CLI is
being imported) and, once the command is done, ignores further ones while the
interpreter shuts down: Ctrl-C always ends astm with exit 130 and one line, never a
traceback or a death by the signal.

The interpreter's teardown is skipped once nothing is left to wait for (``finish``):
freeing every module of a process that imported ``openai`` (thousands of pydantic
classes) took 0.4-0.6 s after the result was printed, on every command.

A command is first offered to the command server (``astm.server``), a warm process that
runs it in a forked child with this process's terminal, directory and environment; this
process then only waits for its exit code. Where there is none, the command runs here.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

INTERRUPTED = "astm: interrupted; nothing was changed (run `astm gc` if a run was cut short)"


def run() -> NoReturn:
    from astm.server import address

    code = missing = None
    # (The hook is not served: it imports none of the client. Nor where there is no fork.)
    if address.served(sys.argv[1:]) and address.enabled(os.environ):
        from astm.server import client

        try:
            code = client.delegate(sys.argv[1:])  # None: no server to run it (astm/server/)
        except KeyboardInterrupt:  # before the command reached a server: nothing was done
            print(INTERRUPTED, file=sys.stderr, flush=True)
            code = 130
        missing = client.missing[0] if client.missing else None
    if code is None:
        code = command()
        if missing is not None:  # a server for the commands that follow (started detached)
            from astm.server import client

            client.spawn(missing)
    finish(code)


def command() -> int:
    """Run the command of ``sys.argv`` in this process; its exit code."""
    from astm.workspace import depot

    depot.enable_at_exit()  # sandboxes go after the result is out (finish)
    try:
        from astm.faults import pause_at

        pause_at("import")
        from astm.cli import main

        code = main()
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr, flush=True)
        code = 130
    # The work is over: a Ctrl-C now (threads joining, buffers flushing) changes nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def finish(code: int, report: Callable[[int], None] = lambda code: None) -> NoReturn:
    """Exit with ``code``: at once when only daemon threads are left, after the exit
    handlers and with the output flushed; else as Python does (joining the threads).
    ``report`` is told the code once the output is out (a served command's client)."""
    threads = sys.modules.get("astm.agents.threads")
    if threads is not None:
        threads.close()  # the runs' threads, idle now (astm/agents/threads.py)
    report = _then_sandboxes(report)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        report(code)
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()  # what sys.exit would run (logging, temporary files, children)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let Python report it as it always has
        report(code)
        sys.exit(code)
    report(code)
    os._exit(code)


def _then_sandboxes(report: Callable[[int], None]) -> Callable[[int], None]:
    """``report``, then the removal of the sandboxes the command's runs kept
    (``astm.workspace.depot``): a served command's caller has its exit code by then."""

    def both(code: int) -> None:
        try:
            report(code)
        finally:  # a caller gone before its exit code: the sandboxes still go
            depot = sys.modules.get("astm.workspace.depot")
            if depot is not None:
                depot.close_at_exit()

    return both


if __name__ == "__main__":
    run()
