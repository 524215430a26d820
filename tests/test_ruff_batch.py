"""ruff on many files in one process (``astm.validate.ruff_batch``): the same findings as
one process a file, whatever the batch holds, with fewer processes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from astm.validate import ruff, ruff_batch

CLEAN = b"def f(x):\n    return x + 1\n"
UNDEFINED = b"def f(x):\n    return y + 1\n"
IMPORTED = b"import os\n\n\ndef f(x):\n    return x\n"  # F401: ruff's default set, not the gate's
CONFIGURED = '[tool.ruff.lint]\nselect = ["F401"]\n'


def sandbox(root: Path, name: str, data: bytes, pyproject: str | None = None) -> Path:
    box = root / name
    (box / "pkg").mkdir(parents=True)
    (box / "pkg" / "m.py").write_bytes(data)
    if pyproject is not None:
        (box / "pyproject.toml").write_text(pyproject)
    return box


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each ruff process of a batch checked (a spy: ruff still runs)."""
    sizes: list[int] = []
    real = ruff.run_files

    def counted(cwd, files, cmd, extra=()):  # type: ignore[no-untyped-def]
        sizes.append(len(files))
        return real(cwd, files, cmd, extra)

    monkeypatch.setattr(ruff, "run_files", counted)
    return sizes


def together(requests: list[tuple[Path, bytes]]) -> list[list[ruff.Finding] | None]:
    """Submit every request from its own thread at once, as a run's leaves do."""
    futures: list[object] = [None] * len(requests)
    go = threading.Barrier(len(requests))

    def submit(i: int) -> None:
        go.wait()
        futures[i] = ruff_batch.findings_many([(requests[i][0], "pkg/m.py", requests[i][1])])[0]

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [f.result(timeout=60) for f in futures]  # type: ignore[attr-defined]


def test_a_batch_finds_what_one_process_a_file_finds(tmp_path: Path, processes: list[int]) -> None:
    texts = [CLEAN, UNDEFINED, IMPORTED] * 6
    boxes = [sandbox(tmp_path, f"s{i}", t) for i, t in enumerate(texts)]
    got = together(list(zip(boxes, texts, strict=True)))
    alone = [ruff.findings(b, "pkg/m.py", t) for b, t in zip(boxes, texts, strict=True)]
    assert got == alone
    assert [f.code for f in got[1] or []] == ["F821"]  # the gate: F821 counts, F401 does not
    assert got[2] == []
    assert sum(processes) >= 2 and max(processes) >= 2  # some files shared a process


def test_each_file_follows_its_own_configuration(tmp_path: Path, processes: list[int]) -> None:
    # A configured project decides its rules; an unconfigured one gets the gate: two batches.
    requests = [(sandbox(tmp_path, f"c{i}", IMPORTED, CONFIGURED), IMPORTED) for i in range(4)]
    requests += [(sandbox(tmp_path, f"u{i}", IMPORTED), IMPORTED) for i in range(4)]
    got = together(requests)
    assert [[f.code for f in g or []] for g in got] == [["F401"]] * 4 + [[]] * 4


def test_a_file_that_is_not_the_text_asked_about_is_checked_on_stdin(tmp_path: Path) -> None:
    boxes = [sandbox(tmp_path, f"s{i}", CLEAN) for i in range(6)]
    # The caller promised the text is on disk; where it is not, the answer is still the text's.
    got = together([(b, UNDEFINED if i % 2 else CLEAN) for i, b in enumerate(boxes)])
    assert [[f.code for f in g or []] for g in got] == [[], ["F821"]] * 3


def test_a_broken_configuration_spoils_only_its_own_file(tmp_path: Path, processes: list[int]) -> None:
    # In one batch with files ruff can check (both configured): ruff refuses the batch, so
    # each file is checked alone.
    broken = CONFIGURED + 'line-length = "wide"\n'
    requests = [(sandbox(tmp_path, "broken", IMPORTED, broken.replace("[tool.ruff.lint]", "[tool.ruff]")), IMPORTED)]
    requests += [(sandbox(tmp_path, f"s{i}", IMPORTED, CONFIGURED), IMPORTED) for i in range(5)]
    batch = [ruff_batch._Request(box, "pkg/m.py", data) for box, data in requests]
    ruff_batch._check(batch)  # one batch, as the batcher would make it
    assert processes == [6]  # the batch was tried
    got = [r.done.result(timeout=60) for r in batch]
    assert got[0] is None  # ruff cannot tell: the project's business, as ruff.findings says
    assert [[f.code for f in g or []] for g in got[1:]] == [["F401"]] * 5
