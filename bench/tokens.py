"""Bytes astm exchanges with the model for a one-method intent, against a whole-file edit.

    python bench/tokens.py [--module argparse.py] [--method ArgumentParser.error]

Copies a module of the running Python's standard library (over 1,000 lines) into a
throwaway git repository (pinned identity) and runs the real engine with the real
``OpenAIProvider`` (``ASTM_MODEL``, ``ASTM_BASE_URL``, ``OPENAI_API_KEY`` set in this
process only) against the loopback OpenAI-compatible server of ``tests/openai_server.py``.
The server answers as a model would: the file routes to the class, the class routes to
the method, the method's generate call gets the method's text with one small change.

astm's side is what the server recorded: every request's message contents (the rendered
prompts) and every answer's content. The baseline is a whole-file edit: the same generate
template filled with the whole file (file in) and the whole file as the answer (file out).
It also prints the raw HTTP body bytes (JSON encoding, the routing answers' JSON schema)
for reference. The last line is ``ratio astm/whole-file: R (target <= 0.30)``. It prints
figures only; everything it made is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
for extra in (PROJECT, PROJECT / "tests"):  # run as a script from anywhere
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from _common import GIT_ENV, git
from openai_server import LoopbackServer  # tests/: needs pytest importable

from astm import config
from astm.engine.apply import ApplyOptions, apply
from astm.lang.python import syntax as pysyntax
from astm.llm import make_provider
from astm.llm.prompt import render

DEFAULT_MODULE = "argparse.py"
DEFAULT_METHOD = "ArgumentParser.error"
# The default intent and the one-line change the "model" makes for it.
DEFAULT_INTENT = "ArgumentParser.error must exit with status 3 instead of 2"
DEFAULT_CHANGE = ("self.exit(2, ", "self.exit(3, ")
TARGET = 0.30




def build_repo(root: Path, name: str, data: bytes) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / name).write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench fixture")
    return repo


def changed_text(old: str, method: str) -> str:
    """The method's text as the "model" returns it: one small change."""
    if method == DEFAULT_METHOD and DEFAULT_CHANGE[0] in old:
        return old.replace(*DEFAULT_CHANGE, 1)
    # Any other method: one comment line at the end of its body.
    lines = old.rstrip("\n").split("\n")
    body = next((ln for ln in reversed(lines) if ln.strip()), lines[-1])
    indent = body[: len(body) - len(body.lstrip())]
    return "\n".join([*lines, f"{indent}# changed by astm bench"]) + "\n"


def text_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages", []))


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default=DEFAULT_MODULE, help="path under the stdlib")
    ap.add_argument("--method", default=DEFAULT_METHOD, help="Class.method to change")
    args = ap.parse_args(argv)
    source = Path(sysconfig.get_paths()["stdlib"]) / args.module
    data = source.read_bytes()
    name = Path(args.module).name
    tree = pysyntax.parse(name, data)
    cls_name = args.method.split(".", 1)[0]
    cls = tree.child(f"{name}::{cls_name}")
    method = cls.child(f"{name}::{args.method}") if cls is not None else None
    if cls is None or method is None:
        raise SystemExit(f"{args.module} has no method {args.method}")
    old = data[method.start : method.end].decode("utf-8")
    new = changed_text(old, args.method)
    intent = DEFAULT_INTENT
    if args.method != DEFAULT_METHOD:
        intent = f"{args.method} must change slightly"

    server = LoopbackServer()
    answers: list[tuple[str, str]] = []  # (call, content) in the order served

    def respond(body: dict[str, Any]) -> str:
        prompt = text_of(body)
        routed = re.search(r"You are the node (\S+) \(", prompt)
        if routed and "Its children" in prompt:
            target = cls.id if routed.group(1) == tree.id else method.id
            act = [{"id": target, "intent": intent}]
            out = json.dumps({"act": act, "create": [], "delete": []})
            answers.append((f"route {routed.group(1)}", out))
            return out
        answers.append((f"generate {method.id}", new))
        return new

    server.responder = respond
    tmp = Path(tempfile.mkdtemp(prefix="astm-bench-tokens-")).resolve()
    saved_tempdir = tempfile.tempdir
    names = ("ASTM_MODEL", "ASTM_BASE_URL", "OPENAI_API_KEY", *GIT_ENV)
    saved_env = {k: os.environ.get(k) for k in names}
    tempfile.tempdir = str(tmp)  # astm's sandboxes go under gettempdir(): keep them in here
    try:
        os.environ.update(GIT_ENV)
        os.environ.update(
            ASTM_MODEL="bench-model", ASTM_BASE_URL=server.base_url, OPENAI_API_KEY="sk-bench"
        )
        repo = build_repo(tmp, name, data)
        settings = config.load(repo)
        provider = make_provider(settings, None)
        opts = ApplyOptions(intent=intent, cwd=repo, paths=(name,), branch="bench/tokens")
        result = apply(opts, settings, provider)
        diff = git(repo, "diff", "--numstat", "main", "bench/tokens")
        changed = [n.id for n in result.nodes if n.status == "changed"]
    finally:
        server.close()
        tempfile.tempdir = saved_tempdir
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)

    requests = [r for r in server.requests if r.path.endswith("/chat/completions")]
    if len(requests) != len(answers):
        raise SystemExit(f"{len(requests)} requests but {len(answers)} answers")
    lines = data.count(b"\n")
    print(f"module: {source} ({lines} lines, {len(data)} bytes)")
    print(f"intent: {intent!r} on {method.id} ({method.end - method.start} bytes)")
    print(f"landed: {result.branch} {result.commit[:10] if result.commit else '-'}; "
          f"changed nodes: {', '.join(changed)}; diff --numstat: {diff}")
    print(f"  {'call':<48}{'sent':>9}{'received':>10}{'http body':>11}")
    sent = received = raw = 0
    for r, (call, content) in zip(requests, answers):
        s, a = size(text_of(r.body)), size(content)
        sent, received, raw = sent + s, received + a, raw + len(r.raw)
        print(f"  {call:<48}{s:>9}{a:>10}{len(r.raw):>11}")
    astm_total = sent + received
    print(f"  {'astm total':<48}{sent:>9}{received:>10}{raw:>11}")

    whole_prompt = render(
        "generate", language="python", node_id=name, node_kind="file", key="(none)",
        intent=intent, context="(none)", text=data.decode("utf-8").rstrip("\n"), hint="",
        shape="the whole file",
    )
    whole_in, whole_out = size(whole_prompt), len(data)
    messages = [{"role": "user", "content": whole_prompt}]
    whole_raw = len(json.dumps({"model": "bench-model", "messages": messages}).encode())
    label = "whole-file edit (file in, file out)"
    print(f"  {label:<48}{whole_in:>9}{whole_out:>10}{whole_raw:>11}")
    outline = pysyntax.outline(data)
    with_outline = sum(1 for r in requests if outline in text_of(r.body))
    cls_text = data[cls.start : cls.end].decode("utf-8")
    with_cls = sum(1 for r in requests if cls_text in text_of(r.body))
    print(f"of astm's bytes sent: the file outline, {size(outline)} bytes, in {with_outline} "
          f"prompts; the whole class text, {size(cls_text)} bytes, in {with_cls}")
    whole = whole_in + whole_out
    print(f"astm: {astm_total} bytes in {len(requests)} calls; whole-file: {whole} bytes")
    print(f"ratio astm/whole-file: {astm_total / whole:.2f} (target <= {TARGET:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
