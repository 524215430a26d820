"""How the ``astm`` process ends (``astm.__main__.finish``): the interpreter's teardown is
skipped only when nothing is left to wait for, and nothing the process owes is lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_exit_code_output_and_exit_handlers_survive() -> None:
    proc = _python("""
        import atexit, sys
        from astm.__main__ import finish
        atexit.register(lambda: print("handler ran", flush=False))
        print("result", end=" ")          # buffered: a pipe is block-buffered
        print("to stderr", file=sys.stderr, end="")
        finish(3)
    """)
    assert proc.returncode == 3
    assert proc.stdout == "result handler ran\n"
    assert proc.stderr == "to stderr"


def test_a_working_thread_is_waited_for() -> None:
    proc = _python("""
        import threading, time
        from astm.__main__ import finish
        def work():
            time.sleep(0.3)
            print("the thread finished its write", flush=True)
        threading.Thread(target=work).start()   # not a daemon: Python must join it
        finish(0)
    """)
    assert proc.returncode == 0
    assert proc.stdout == "the thread finished its write\n"


def test_a_closed_pipe_is_reported_as_python_does() -> None:
    # stdout closed before the flush: the same exit and message as a plain sys.exit.
    proc = _python("""
        import os, sys
        from astm.__main__ import finish
        print("x" * 10)
        os.close(1)
        finish(0)
    """)
    plain = _python("""
        import os, sys
        print("x" * 10)
        os.close(1)
        sys.exit(0)
    """)
    assert (proc.returncode, proc.stderr) == (plain.returncode, plain.stderr)
