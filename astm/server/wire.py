"""Messages between the ``astm`` client and the server: length-prefixed JSON objects, the
first one from the client carrying its standard streams as file descriptors."""

from __future__ import annotations

import array
import json
import socket
import struct
from typing import Any

MAX_MESSAGE = 4 << 20  # an environment and argv fit many times over
_LEN = struct.Struct("!I")


class WireError(Exception):
    """The other side closed the connection or sent something unreadable."""


def send(sock: socket.socket, obj: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    data = json.dumps(obj, separators=(",", ":")).encode("utf-8", "surrogateescape")
    frame = _LEN.pack(len(data)) + data
    if fds:
        sent = sock.sendmsg([frame], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        frame = frame[sent:]
    if frame:
        sock.sendall(frame)


def receive(sock: socket.socket, *, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """One message and the descriptors that came with it (closed here if unreadable)."""
    fds: list[int] = []
    try:
        head = _read(sock, _LEN.size, fds, max_fds)
        (size,) = _LEN.unpack(head)
        if size > MAX_MESSAGE:
            raise WireError(f"a message of {size} bytes")
        obj = json.loads(_read(sock, size, fds, 0).decode("utf-8", "surrogateescape"))
        if not isinstance(obj, dict):
            raise WireError("a message that is not an object")
    except (WireError, ValueError, OSError) as exc:
        for fd in fds:
            _close(fd)
        raise WireError(str(exc)) from None
    return obj, fds


def _read(sock: socket.socket, n: int, fds: list[int], max_fds: int) -> bytes:
    buf = b""
    while len(buf) < n:
        if max_fds and not fds:
            space = socket.CMSG_SPACE(max_fds * array.array("i").itemsize)
            data, anc, _flags, _addr = sock.recvmsg(n - len(buf), space)
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array("i")
                    got.frombytes(payload[: len(payload) - len(payload) % got.itemsize])
                    fds.extend(got)
        else:
            data = sock.recv(n - len(buf))
        if not data:
            raise WireError("the connection closed")
        buf += data
    return buf


def _close(fd: int) -> None:
    import os

    try:
        os.close(fd)
    except OSError:
        pass
