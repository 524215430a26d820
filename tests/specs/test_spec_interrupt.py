"""Ctrl-C mid-build: exit 130, nothing half-written, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai_server as loopback
from conftest import GIT_ENV, Snapshot
from specs_kit import demo_answers, demo_repo

openai_server = loopback.openai_server


def test_sigint_mid_build_writes_nothing(tmp_path: Path, openai_server: loopback.LoopbackServer) -> None:
    repo = demo_repo(tmp_path)
    openai_server.enqueue(demo_answers()["shop.money:parse_money"])  # money is generated ...
    openai_server.enqueue("late", delay=600, times=2)  # ... pricing's agents hang
    before = Snapshot.take(repo)
    env = {**os.environ, **GIT_ENV, "ASTM_MODEL": "m", "ASTM_BASE_URL": openai_server.base_url,
           "OPENAI_API_KEY": "k", "ASTM_MODEL_JOBS": "8"}  # loopback counts as local: 1 slot
    proc = subprocess.Popen([sys.executable, "-m", "astm", "build", "--write"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(openai_server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(openai_server.requests) == 3, "the build never reached the pricing agents"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    # money.py was generated and validated, but a build writes all of its files or none.
    before.assert_unchanged(repo)
    assert not (repo / "src/shop/__generated__").exists()
    records = list((repo / ".git" / "astm" / "runs").glob("*.json"))
    assert [json.loads(r.read_text())["status"] for r in records] == ["interrupted"]
