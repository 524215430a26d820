"""Turn a model's (or a plan's) answer into the exact bytes of a node's new text."""

from __future__ import annotations

import re

from astm.validate.diagnostic import Diagnostic

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE)


def extract(answer: str) -> str:
    """The code inside the first fenced block, if the answer has one; else the answer."""
    blocks = [m.group(2) for m in _FENCE.finditer(answer)]
    if not blocks:
        return answer
    return next((b for b in blocks if b.strip()), "")


def normalise(answer: str, *, eol: bytes, max_bytes: int) -> tuple[bytes, Diagnostic | None]:
    """Fences stripped, outer blank lines dropped, one final newline, the file's EOLs."""
    if "\x00" in answer:
        return b"", Diagnostic("the answer contains NUL bytes", "answer")
    if len(answer.encode("utf-8", "surrogatepass")) > max_bytes:
        return b"", Diagnostic(f"the answer is longer than {max_bytes} bytes", "answer")
    text = extract(answer).replace("\r\n", "\n").replace("\r", "\n")
    # Only whole blank lines at either end go: whitespace inside the text can be data
    # (a TOML multi-line string), so no line is stripped.
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return b"", Diagnostic("the answer is empty; give the whole new text of the node", "answer")
    try:
        data = ("\n".join(lines).rstrip(" \t") + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return b"", Diagnostic("the answer is not valid UTF-8 text", "answer")
    return data.replace(b"\n", eol) if eol != b"\n" else data, None
