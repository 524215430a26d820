"""The command server: a warm interpreter that runs astm's commands in forked children.

Most of what an ``astm apply`` waits for before its first model call is Python importing
``openai``, pydantic and astm (about 1.2 s of CPU on a quiet machine, on every command).
The server imports them once and then, for each command, forks a child that takes the
calling terminal's standard streams (passed over a Unix socket), its working directory,
environment, umask, argv and module path, runs the command exactly as the ``astm``
process would, and reports its exit code. The ``astm`` process is a thin client: it
forwards Ctrl-C and the other terminating signals to the child and exits with its code.

- ``address``: where the server listens (a per-user directory of mode 0700; the socket's
  name is a digest of the interpreter, the module path and astm's files, so an upgraded
  or edited astm never talks to an old server) and which commands it may run.
- ``client``: what the ``astm`` command does (``delegate``; ``spawn`` after a local run).
- ``serve``: the server's loop: preload, accept, fork; it exits when idle.
- ``child``: a forked child becoming the caller's command.

Where the server is absent the command runs in its own process as always, and starts one
for the next command when it ends. ``ASTM_SERVER=0`` turns all of it off (docs/cli.md).
"""
