"""Bytes astm exchanges with the model for a one-method intent, against a whole-file edit.

    python bench/tokens.py [--module argparse.py] [--method ArgumentParser.error]
    python bench/tokens.py --all      # stdlib modules of 770-1,400 lines (and argparse)

Copies a module of the running Python's standard library into a throwaway git repository
(pinned identity) and runs the venv's ``astm apply INTENT`` as a user runs it (a
subprocess, no PATHS, the real ``OpenAIProvider``; ``ASTM_MODEL``, ``ASTM_BASE_URL``,
``OPENAI_API_KEY`` set for it only) against the loopback OpenAI-compatible server of
``tests/openai_server.py``. The server answers as a model would: the file routes to the
class, the class routes to the method, the method's generate call gets the method's text
with one small change.

Counted: the raw HTTP bodies, every request as the server received it and every response
as it sent it. The baseline is a whole-file edit: the generate template filled with the
whole file (one request body) and the whole file as the answer (one response body). The
last line is ``ratio astm/whole-file: R (target <= 0.15)``. Figures only; everything it
made is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
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
from openai_server import LoopbackServer, Reply, _completion  # tests/: needs pytest

from astm.lang.python import syntax as pysyntax
from astm.llm.prompt import render

DEFAULT_MODULE = "argparse.py"
DEFAULT_METHOD = "ArgumentParser.error"
# The default intent and the one-line change the "model" makes for it.
DEFAULT_INTENT = "ArgumentParser.error must exit with status 3 instead of 2"
DEFAULT_CHANGE = ("self.exit(2, ", "self.exit(3, ")
TARGET = 0.15
ASTM = str(Path(sys.executable).with_name("astm"))




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


MODULES = {  # stdlib modules of 770-1,400 lines (and argparse), one method each
    "argparse.py": DEFAULT_METHOD,
    "calendar.py": "Calendar.getfirstweekday",
    "ftplib.py": "FTP.quit",
    "nntplib.py": "NNTP.quit",
    "smtplib.py": "SMTP.quit",
    "configparser.py": "RawConfigParser.sections",
}


def reply_bytes(content: str) -> int:
    """The raw HTTP body the loopback server sends for ``content`` (what the client reads)."""
    return len(json.dumps(_completion(Reply(content), "bench-model")).encode())


def measure(module: str, method_name: str, verbose: bool, dump: Path | None = None) -> float:
    """Run ``astm apply`` (the command, as a user runs it) for one method; the ratio."""
    source = Path(sysconfig.get_paths()["stdlib"]) / module
    data = source.read_bytes()
    name = Path(module).name
    tree = pysyntax.parse(name, data)
    cls_name = method_name.split(".", 1)[0]
    cls = tree.child(f"{name}::{cls_name}")
    method = cls.child(f"{name}::{method_name}") if cls is not None else None
    if cls is None or method is None:
        raise SystemExit(f"{module} has no method {method_name}")
    old = data[method.start : method.end].decode("utf-8")
    new = changed_text(old, method_name)
    intent = DEFAULT_INTENT if method_name == DEFAULT_METHOD else f"{method_name} must change slightly"

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
    env = {**os.environ, **GIT_ENV, "ASTM_MODEL": "bench-model", "ASTM_BASE_URL": server.base_url,
           "OPENAI_API_KEY": "sk-bench", "TMPDIR": str(tmp)}
    try:
        repo = build_repo(tmp, name, data)
        # As a user runs it: the command, no PATHS (the index ranks the candidate files).
        proc = subprocess.run([ASTM, "apply", intent, "--branch", "bench/tokens", "--json"],
                              cwd=repo, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"astm apply exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        result = json.loads(proc.stdout)
        diff = git(repo, "diff", "--numstat", "main", "bench/tokens")
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)

    requests = [r for r in server.requests if r.path.endswith("/chat/completions")]
    if dump is not None:  # every request body as sent, for reading the prompts
        dump.mkdir(parents=True, exist_ok=True)
        for i, r in enumerate(requests):
            (dump / f"{name}.{i}.json").write_bytes(r.raw)
    if len(requests) != len(answers):
        raise SystemExit(f"{len(requests)} requests but {len(answers)} answers")
    whole_prompt = render(
        "generate", language="python", node_id=name, node_kind="file", key="(none)",
        intent=intent, context="(none)", text=data.decode("utf-8").rstrip("\n"), hint="",
        shape="the whole file", requests="",  # the file carries its own imports: no request section
    )
    messages = [{"role": "user", "content": whole_prompt}]
    whole_sent = len(json.dumps({"model": "bench-model", "messages": messages}).encode())
    whole_got = reply_bytes(data.decode("utf-8"))
    sent = sum(len(r.raw) for r in requests)
    got = sum(reply_bytes(c) for _, c in answers)
    ratio = (sent + got) / (whole_sent + whole_got)
    lines = data.count(b"\n")
    if verbose:
        print(f"module: {source} ({lines} lines, {len(data)} bytes)")
        print(f"intent: {intent!r} on {method.id} ({method.end - method.start} bytes)")
        print(f"landed: {result.get('branch')}; diff --numstat: {diff}")
        print(f"  {'call (raw HTTP bodies)':<48}{'request':>9}{'response':>10}{'prompt text':>12}")
        for r, (call, content) in zip(requests, answers):
            print(f"  {call:<48}{len(r.raw):>9}{reply_bytes(content):>10}{size(text_of(r.body)):>12}")
        print(f"  {'astm total':<48}{sent:>9}{got:>10}")
        print(f"  {'whole-file edit (file in, file out)':<48}{whole_sent:>9}{whole_got:>10}")
    print(f"{name:<16}{lines:>6} lines  {len(requests)} calls  astm {sent + got:>7} B  "
          f"whole-file {whole_sent + whole_got:>7} B  ratio {ratio:.2f}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default=DEFAULT_MODULE, help="path under the stdlib")
    ap.add_argument("--method", default=DEFAULT_METHOD, help="Class.method to change")
    ap.add_argument("--all", action="store_true", help="every module of MODULES, one line each")
    ap.add_argument("--dump", type=Path, help="write every request body to this folder")
    args = ap.parse_args(argv)
    if not args.all:
        ratio = measure(args.module, args.method, verbose=True, dump=args.dump)
        print(f"ratio astm/whole-file: {ratio:.2f} (target <= {TARGET:.2f})")
        return 0
    ratios = [measure(m, meth, verbose=False, dump=args.dump) for m, meth in MODULES.items()]
    print(f"ratio astm/whole-file, raw HTTP bodies: worst {max(ratios):.2f}, "
          f"best {min(ratios):.2f} (target <= {TARGET:.2f} on every module)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
