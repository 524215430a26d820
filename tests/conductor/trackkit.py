"""Shared helpers of the track tests: a small Python project and track plans for it."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from conftest import git, make_repo

from astm.conductor import planner
from astm.conductor.models import Track
from astm.workspace.repo import Repo

PYPROJECT = '[project]\nname = "shop"\nversion = "0.1.0"\n\n[tool.astm.validate]\ntests = "off"\n'
MODULE = '"""Prices."""\n\n\ndef net(amount: float) -> float:\n    return amount\n\n\ndef gross(amount: float) -> float:\n    return amount\n'


def project(tmp: Path, extra: str = "", name: str = "repo") -> Path:
    return make_repo(tmp / name, {"pyproject.toml": PYPROJECT + extra, "shop/prices.py": MODULE,
                                  "shop/__init__.py": ""})


def replace(node: str, text: str) -> dict[str, Any]:
    return {"version": 1, "intent": "x", "edits": [{"op": "replace", "node": node, "text": text}]}


def insert(parent: str, text: str) -> dict[str, Any]:
    return {"version": 1, "intent": "x", "edits": [{"op": "insert", "parent": parent, "position": "end", "text": text}]}


STUB = "def tax(amount: float) -> float:\n    raise NotImplementedError\n"
TAX = "def tax(amount: float) -> float:\n    return amount * 0.2\n"
NET = "def net(amount: float) -> float:\n    return amount - tax(amount)\n"
GROSS = "def gross(amount: float) -> float:\n    return amount + tax(amount)\n"


def ticket(tid: str, targets: list[str], plan: dict[str, Any] | None, *deps: str,
           archetype: str = "implementer", prompt: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tid, "title": f"Ticket {tid}", "archetype": archetype, "targets": targets,
                           "prompt": prompt or f"do {tid}", "depends_on": list(deps)}
    if plan is not None:
        out["plan"] = plan
    return out


def standard_tickets() -> list[dict[str, Any]]:
    """stub (adds tax) -> tax, net, gross (net and gross need tax's stub, run at once)."""
    f = "shop/prices.py"
    return [
        ticket("stub", [f], insert(f, STUB), archetype="contract_stubber"),
        ticket("tax", [f"{f}::tax"], replace(f"{f}::tax", TAX), "stub"),
        ticket("net", [f"{f}::net"], replace(f"{f}::net", NET), "stub"),
        ticket("gross", [f"{f}::gross"], replace(f"{f}::gross", GROSS), "net", "tax"),
    ]


def write_plan(path: Path, tickets: list[dict[str, Any]], title: str = "Prices with tax") -> Path:
    path.write_text(json.dumps({"version": 1, "title": title, "intent": "add tax", "tickets": tickets}))
    return path


def planned(tmp_path: Path) -> tuple[Repo, Track]:
    """The standard track planned on a fresh project, each ticket with its plan."""
    repo = Repo.open(project(tmp_path))
    plan = planner.load_plan(write_plan(tmp_path / "t.json", standard_tickets()))
    base = repo.base_commit().id
    track = planner.build(plan, intent="", base=str(base), files=set(repo.list_files(base)))
    for t, given in zip(track.tickets, plan.tickets, strict=True):
        t.plan = given.plan
    return repo, track


def track_refs(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname)", "refs/astm/tracks/")
    return out.splitlines() if out else []


def track_id(out: str) -> str:
    """The id from ``astm track ...`` output (its first line: ``track <id>: ...``)."""
    for line in out.splitlines():
        if line.startswith("track "):
            return line.split()[1].rstrip(":")
    raise AssertionError(out)


def stderr_of(proc: subprocess.Popen[bytes]) -> tuple[bytearray, threading.Thread]:
    """``proc``'s standard error as it arrives, read on a thread (joined by the caller)."""
    err = bytearray()

    def read() -> None:
        assert proc.stderr is not None
        while chunk := proc.stderr.read1(4096):  # type: ignore[attr-defined]
            err.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return err, reader
