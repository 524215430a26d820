"""Aider as a third arm of bench/live.py (issue 10: "aim: ahead of Aider").

Aider 0.86.2 (the version the issue measured) runs in its own venv under the bench cache
(``--setup`` installs it; ``ASTM_LIVE_CACHE`` moves it), never in astm's. Each task runs
``aider --message INTENT FILES`` once, in a git repository of the project, with the same
model through the same counting proxy, its ``whole`` edit format (the issue's: its ``diff``
format passed nothing) and no auto-commit; the files as aider leaves them are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from serve import CACHE, log

VERSION = "0.86.2"
VENV = CACHE / "aider"
AIDER = VENV / "bin" / "aider"


def ensure() -> None:
    """A venv with aider-chat, apart from astm's (it pins its own dependencies)."""
    if AIDER.exists():
        return
    log(f"installing aider-chat {VERSION} into {VENV}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"aider-chat=={VERSION}"],
                   check=True)


@dataclass
class Run:
    wall: float
    error: str  # "" when aider ended normally
    output: str  # its console output (tail)


def run(project: Path, intent: str, files: list[str], model: str, base_url: str,
        timeout: float, edit_format: str = "whole") -> Run:
    """Aider on ``project`` (a git repository), once, non-interactively."""
    home = project.parent / "aider-home"  # no user config, caches or analytics prompts
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AIDER_", "ASTM_"))}
    env.update({"HOME": str(home), "OPENAI_API_KEY": "not-needed", "OPENAI_API_BASE": base_url})
    cmd = [
        str(AIDER), "--model", f"openai/{model}", "--openai-api-base", base_url,
        "--edit-format", edit_format, "--yes-always", "--no-auto-commits", "--no-dirty-commits",
        "--no-stream", "--no-pretty", "--no-fancy-input", "--no-check-update", "--no-analytics",
        "--no-show-model-warnings", "--map-tokens", "0", "--no-restore-chat-history",
        "--timeout", str(int(timeout)), "--message", intent, *files,
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True,
                              timeout=timeout * 3, check=False, stdin=subprocess.DEVNULL)
        out = proc.stdout + proc.stderr
        error = "" if proc.returncode == 0 else f"aider exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        out, error = "", f"aider killed after {timeout * 3:.0f}s"
    return Run(time.monotonic() - start, error, out[-4000:])
