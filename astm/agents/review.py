"""The engine's side of the clutch (``astm apply --step``): a node's change, reviewed
before it is composed.

A leaf whose patch has passed every check hands it to ``gate``: the run's ``review``
callable (``RunContext.review``; the CLI wraps ``astm.conductor.clutch.Clutch``) shows the
diff and answers with a ``Decision``. Approve keeps the patch; an edit becomes the node's
answer and goes through the same shape and validators (an invalid edit is shown again,
saying why); a rejection's reason becomes the hint of the node's next attempt; quit stops
the run (``QuitAtReview``, exit 130: the run's cleanup removes every sandbox, nothing lands).

The decision types live here, not in the conductor, because the engine never imports the
conductor; the conductor's clutch re-exports them. Only one review shows at a time (a lock),
and it waits in its own daemon thread, so a Ctrl-C at the prompt is never held up by a
thread blocked on stdin.
"""

from __future__ import annotations

import asyncio
import difflib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from astm.errors import QuitAtReview
from astm.validate.diagnostic import Diagnostic

if TYPE_CHECKING:
    from astm.agents.context import RunContext
    from astm.agents.requests import Ask
    from astm.core.patch import Patch

T = TypeVar("T")


@dataclass(frozen=True)
class Review:
    node_id: str  # the ticket (or node) under review
    diff: str
    payload: str  # what an edit changes: a plan as JSON, or a node's text
    kind: str = "json"  # json | text: the temp file's suffix for the editor
    title: str = ""


@dataclass(frozen=True)
class Approve:
    pass


@dataclass(frozen=True)
class Edit:
    payload: str


@dataclass(frozen=True)
class Reject:
    reason: str


@dataclass(frozen=True)
class Quit:
    pass


Decision = Approve | Edit | Reject | Quit
Reviewer = Callable[[Review], Decision]  # blocking: it waits for a person (or a script)
# What a leaf's checks make of an answer: (patch, imports, asks, problem)
Shaped = tuple["Patch | None", list[bytes], "list[Ask]", Diagnostic | None]
Recheck = Callable[[str], Awaitable[Shaped]]

def diff_of(node_id: str, old: bytes, new: bytes) -> str:
    """The node's change as a unified diff of its text (``/dev/null`` for a new node)."""
    a = old.decode("utf-8", "replace").replace("\r\n", "\n").splitlines(keepends=True)
    b = new.decode("utf-8", "replace").replace("\r\n", "\n").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"a/{node_id}" if a else "/dev/null", tofile=f"b/{node_id}")
    return "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines)


async def gate(ctx: RunContext, nid: str, old: bytes, shaped: Shaped, recheck: Recheck) -> Shaped:
    """The user's decision on a node's validated change: the (possibly edited) change, or
    a ``review`` diagnostic whose hint is the rejection's reason. Raises ``QuitAtReview``."""
    reviewer = ctx.review
    patch = shaped[0]
    if reviewer is None or patch is None or (patch.text == old and not shaped[1]):
        return shaped  # nothing to review: no clutch, or no change
    title = ""
    while True:
        new = patch.text.lstrip(b"\r\n") if not old else patch.text
        r = Review(nid, diff_of(nid, old, new), new.decode("utf-8", "replace").replace("\r\n", "\n"), "text", title)
        ctx.emit(nid, "review")
        async with ctx.review_lock:  # one review on screen at a time
            decision = await in_thread(reviewer, r)
        if isinstance(decision, Approve):
            return shaped
        if isinstance(decision, Quit):
            raise QuitAtReview(f"quit at the review of {nid}; nothing landed")
        if isinstance(decision, Reject):
            return None, [], [], Diagnostic(f"the reviewer rejected it: {decision.reason}", "review")
        edited = await recheck(decision.payload)
        if edited[3] is None and edited[0] is not None:
            return edited  # the user's text passed the same checks as a model's
        title = f"the edit is not valid ({edited[3]}); the change before the edit is shown again"


async def in_thread(fn: Callable[[Review], T], arg: Review) -> T:
    """``fn(arg)`` in a daemon thread: a prompt blocked on stdin must never keep the run's
    pool (whose shutdown cleanup waits for) or the interpreter's exit waiting."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: object) -> None:
        if fut.done():
            return  # cancelled meanwhile (Ctrl-C): the answer is dropped
        if ok:
            fut.set_result(value)  # type: ignore[arg-type]
        else:
            fut.set_exception(value)  # type: ignore[arg-type]

    def work() -> None:
        try:
            value: object = fn(arg)
            ok = True
        except BaseException as exc:  # noqa: BLE001 - delivered to the awaiting agent as is
            value, ok = exc, False
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:
            pass  # the loop is gone: the run ended while the prompt waited

    threading.Thread(target=work, name="astm-review", daemon=True).start()
    return await fut
