"""``python -m astm`` and the ``astm`` console script (``astm.__main__:run``).

The entry point catches a Ctrl-C from the first instruction on (even while the CLI is
being imported) and, once the command is done, ignores further ones while the
interpreter shuts down: Ctrl-C always ends astm with exit 130 and one line, never a
traceback or a death by the signal.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

INTERRUPTED = "astm: interrupted; nothing was changed (run `astm gc` if a run was cut short)"


def run() -> NoReturn:
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
    sys.exit(code)


if __name__ == "__main__":
    run()
