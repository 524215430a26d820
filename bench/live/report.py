"""What bench/live.py prints and writes: the table, the JSON of a run, and astm's raw
output for each task it did not pass (for whoever fixes astm)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ArmResult = Any  # bench/live.py's ArmResult (the script is __main__: not importable here)


def record_astm_failure(path: Path, model: str, result: ArmResult) -> None:
    """Append astm's raw output for a task it did not pass (for whoever fixes astm)."""
    raw = result.raw
    out = raw.get("json") or {}
    nodes = "\n".join(f"    {json.dumps(n)}" for n in out.get("nodes", []))
    block = [
        f"## {result.task} ({model}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        (f"- result: {'landed, check failed' if result.landed else 'not landed'}; "
         f"exit {raw.get('exit')}; {result.wall:.0f}s; {result.calls} calls; "
         f"tokens wire {result.tokens}, astm-reported {result.tokens_reported}"),
        f"- detail: `{result.detail}`",
        f"- error: `{out.get('error')}`",
        f"- notices: {out.get('notices')}",
        "- nodes:", nodes or "    (none)",
        "", "stderr (tail):", "```", raw.get("stderr", "").strip()[-3000:], "```",
    ]
    if raw.get("diff"):
        block += ["", "landed diff:", "```diff", raw["diff"][-3000:], "```"]
    with path.open("a", encoding="utf-8") as f:
        f.write("\n".join(block) + "\n\n")


def fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def print_table(results: list[ArmResult], sets: dict[str, str]) -> None:
    """``sets``: each task's set (tuned, heldout), for the totals."""
    head = ["task", "arm", "result", "calls", "tokens", "astm-tokens", "wall s", "detail"]
    rows = []
    for r in results:
        verdict = "PASS" if r.passed else ("fail" if r.landed is not False else "no-land")
        rows.append([r.task, r.arm, verdict, str(r.calls), str(r.tokens),
                     "-" if r.tokens_reported is None else str(r.tokens_reported),
                     f"{r.wall:.0f}", r.detail[:90]])
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]
    widths[-1] = 0
    print(fmt_row(head, widths))
    for row in rows:
        print(fmt_row(row, widths))
    print()
    for arm in sorted({r.arm for r in results}):
        for which in ("all", "tuned", "heldout"):
            mine = [r for r in results if r.arm == arm and which in ("all", sets.get(r.task))]
            if not mine or (which != "all" and len(mine) == len([r for r in results if r.arm == arm])):
                continue
            print(f"total {arm:5} {which:7}  passed {sum(r.passed for r in mine)}/{len(mine)}  "
                  f"calls {sum(r.calls for r in mine)}  tokens {sum(r.tokens for r in mine)}  "
                  f"wall {sum(r.wall for r in mine):.0f}s")


def write_json(path: Path, spec: object, results: list[ArmResult], args: argparse.Namespace) -> None:
    data = {
        "model": getattr(spec, "description", ""),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "astm_args": args.astm_args,
        "astm_settings": args.astm_setting,
        "results": [{k: v for k, v in asdict(r).items() if k != "raw"} for r in results],
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
