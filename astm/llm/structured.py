"""Structured answers from real servers and real models: the mode ladder, what works per
endpoint, and JSON pulled out of loose answers.

Servers differ in what ``response_format`` they take (OpenAI and vLLM: ``json_schema``;
llama-cpp-python: HTTP 500 on it, ``json_object`` fine; some: none at all), and small
models wrap JSON in prose and fences, use single quotes or leave trailing commas. astm asks
with the strongest mode the endpoint takes and steps down on any error of a mode; what
worked is remembered per endpoint (base URL and model), within a run and across runs.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import tempfile
import time
import tokenize
from pathlib import Path
from typing import Any

LADDER: tuple[str, ...] = ("json_schema", "json_object", "off")
MEMORY_FILE = "endpoints.json"
MEMORY_DAYS = 30.0  # servers get upgraded: re-probe the strongest mode now and then
_FENCED = re.compile(r"```[\w+-]*[ \t]*\n(.*?)```", re.DOTALL)
_MAX_CANDIDATES = 16  # '{' positions tried in one answer: keeps extraction near-linear
_MAX_REPAIRS = 3  # repair attempts in one answer
_MAX_DEPTH = 32  # structured answers nest 4 deep; deeper is not an answer


# ---- JSON out of a loose answer ----


def extract_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text``: the whole text, a fenced block, or a balanced
    ``{...}`` inside prose; single quotes, trailing commas and Python's True/False/None
    are repaired where the repair cannot change a value. None if there is none."""
    stripped = text.strip()
    repairs = [_MAX_REPAIRS]
    for candidate in (stripped, *(m.group(1) for m in _FENCED.finditer(text))):
        found = _as_object(candidate.strip(), repairs)
        if found is not None:
            return found
    start = stripped.find("{")
    for _ in range(_MAX_CANDIDATES):
        if start < 0:
            return None
        end = _matching_brace(stripped, start)
        if end is not None:
            found = _as_object(stripped[start : end + 1], repairs)
            if found is not None:
                return found
        start = stripped.find("{", start + 1)
    return None


def _as_object(text: str, repairs: list[int]) -> dict[str, Any] | None:
    """``text`` as a JSON object, repaired if need be; ``repairs`` counts down the repair
    attempts left (each tokenizes the text: bounded so no answer costs much)."""
    if not text.startswith("{") or _depth(text) > _MAX_DEPTH:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        if repairs[0] <= 0:
            return None
        repairs[0] -= 1
        value = _repaired(text)
    except RecursionError:
        return None
    return value if isinstance(value, dict) else None


def _depth(text: str) -> int:
    """Deepest bracket nesting, strings included (an over-estimate is fine: it only
    rejects answers nested far deeper than any structured answer is)."""
    depth = deepest = 0
    for c in text:
        if c in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "}]":
            depth -= 1
    return deepest


def _repaired(text: str) -> Any:
    """``text`` read as a Python literal with JSON's true/false/null as names: that reads
    single-quoted strings and trailing commas exactly, and nothing executable."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        names = {"true": "True", "false": "False", "null": "None"}
        fixed = [
            t._replace(string=names[t.string]) if t.type == tokenize.NAME and t.string in names else t
            for t in tokens
        ]
        return ast.literal_eval(tokenize.untokenize(fixed))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError, tokenize.TokenError):
        return None


def _matching_brace(text: str, start: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``start``, skipping quoted strings."""
    depth, quote, i = 0, "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


# ---- what works per endpoint ----


class EndpointMemory:
    """The structured mode that last worked per endpoint, in ``path`` (a JSON file under
    the repository's git directory; None: this run only). Reads and writes never fail a run."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] = self._read()

    def get(self, endpoint: str) -> str | None:
        entry = self._entries.get(endpoint)
        if not entry or entry.get("json_mode") not in LADDER:
            return None
        if time.time() - float(entry.get("at", 0)) > MEMORY_DAYS * 86400:
            return None
        return str(entry["json_mode"])

    def put(self, endpoint: str, mode: str) -> None:
        if self._entries.get(endpoint, {}).get("json_mode") == mode:
            return
        self._entries[endpoint] = {"json_mode": mode, "at": time.time()}
        self._write()

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
            entries = data.get("endpoints", {})
        except (OSError, ValueError, AttributeError):
            return {}
        return {k: v for k, v in entries.items() if isinstance(v, dict)} if isinstance(entries, dict) else {}

    def _write(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".endpoints-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "endpoints": self._entries}, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)  # atomic: concurrent runs never see half a file
        except OSError:
            pass


def compact_schema(schema: dict[str, Any], *, descriptions: bool = True) -> dict[str, Any]:
    """``schema`` (pydantic's JSON schema) with what neither a server's grammar nor a
    model needs left out: titles, defaults, ``$defs`` (inlined), the ``null`` of optional
    fields (an optional field is simply left out), and the descriptions when the prompt
    already says what each field means. Every request carries it: it was 2 kB of 5."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, list):
            return [walk(v, depth) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < _MAX_DEPTH:
            return walk(defs.get(ref.rsplit("/", 1)[1], {}), depth + 1)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "default", "$defs") or (key == "description" and not descriptions):
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: walk(v, depth) for name, v in value.items()}  # names, not keywords
                continue
            out[key] = walk(value, depth)
        options = out.get("anyOf")
        if isinstance(options, list):
            kept = [o for o in options if o != {"type": "null"}]
            if len(kept) == 1 and isinstance(kept[0], dict):
                del out["anyOf"]
                out = {**kept[0], **out}
        return out

    compact = walk(schema, 0)
    return compact if isinstance(compact, dict) else {}


def schema_instruction(schema: dict[str, Any]) -> str:
    """The system message of the modes without a server-side schema."""
    text = json.dumps(schema, separators=(",", ":"))
    return (
        "Answer with one JSON object only: no prose, no code fences. "
        f"It must match this JSON schema:\n{text}"
    )
