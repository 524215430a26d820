"""``astm server``: the command server's state, and stopping it (astm/server/)."""

from __future__ import annotations

import os
import socket
import time

import click


@click.group("server")
def command() -> None:
    """The command server: a warm process that runs astm's commands without paying for
    Python's imports each time (started by the first command; ASTM_SERVER=0 turns it off)."""


def _ask(op: str) -> dict[str, object] | None:
    from astm.server import address, wire

    path = address.socket_path(os.environ)
    if path is None:
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
            wire.send(sock, {"op": op})
            reply, _ = wire.receive(sock)
        except (OSError, wire.WireError):
            return None
    return reply


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object ({} when none runs).")
def status(as_json: bool) -> int:
    """Print whether a server runs for this astm, its pid, and how many commands it ran."""
    from astm.server import address

    reply = _ask("status") if address.enabled(os.environ) else None
    if as_json:
        import json

        click.echo(json.dumps(reply or {}))
        return 0
    if not address.enabled(os.environ):
        click.echo("off (ASTM_SERVER or a fault-injection variable is set)")
        return 0
    if reply is None:
        click.echo("not running (the next command starts one)")
        return 0
    started, idle = reply.get("started"), reply.get("idle")
    up = time.time() - started if isinstance(started, (int, float)) else 0.0
    click.echo(
        f"running: pid {reply.get('pid')}, up {up:.0f} s, {reply.get('served')} command(s) served, "
        f"exits after {idle if isinstance(idle, (int, float)) else 0:.0f} s idle"
    )
    return 0


@command.command("start")
@click.option("--wait", type=float, default=60.0, show_default=True, help="Seconds to wait for it to answer.")
def start(wait: float) -> int:
    """Start the server now (else the first command that finds none starts it)."""
    from astm.errors import UsageError
    from astm.server import address, client

    path = address.socket_path(os.environ) if address.enabled(os.environ) else None
    if path is None:
        raise UsageError("the command server is off here (ASTM_SERVER, or no private directory for its socket)")
    if _ask("status") is None:
        client.spawn(path)
    deadline = time.monotonic() + wait
    while (reply := _ask("status")) is None:
        if time.monotonic() > deadline:
            raise UsageError(f"the command server did not answer within {wait:g} s")
        time.sleep(0.05)
    click.echo(f"running: pid {reply.get('pid')}")
    return 0


@command.command("stop")
def stop() -> int:
    """Stop the server (commands already running finish; the next command starts one)."""
    reply = _ask("stop")
    click.echo("stopped" if reply is not None else "not running")
    return 0
