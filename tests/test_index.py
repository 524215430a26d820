"""The repository index: what it stores, what a refresh re-parses, routing, bad input."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from conftest import Snapshot, git, make_repo

from astm.index import candidates, indexer, refresh, summaries, summarize
from astm.index import summary as summary_mod
from astm.index.store import FILENAME, SCHEMA
from astm.lang.python.syntax import build

CLIENT = (
    textwrap.dedent('''
    """An HTTP client."""
    import socket


    class HTTPConnection:
        """One connection."""

        def __init__(self, host: str, timeout: float | None = None) -> None:
            self.host = host

        # Sends one request.
        @retry(times=3)
        def request(self, method: str, url: str, body: bytes = b"") -> "Response":
            return self._send(method, url, body)

        def close(self):
            pass


    def connect(host, port=80):
        return HTTPConnection(host)
''')
    .lstrip()
    .encode()
)
UTIL = b"def slugify(text):\n    return text.lower()\n\n\nMAX_LEN = 48\n"
PYPROJECT = b'[project]\nname = "demo"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'


def index_file(repo: Path) -> Path:
    return repo / ".git" / "astm" / "index" / FILENAME


def commit_file(repo: Path, rel: str, data: bytes, message: str = "change") -> None:
    f = repo / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {
            "net/client.py": CLIENT,
            "text/util.py": UTIL,
            "pyproject.toml": PYPROJECT,
            "README.md": "not indexed\n",
        },
    )


def test_refresh_parses_only_blobs_it_has_not_seen(repo: Path) -> None:
    first = refresh(repo)
    assert (first.files, first.parsed, first.reused, first.rebuilt) == (3, 3, 0, None)
    assert first.commit == git(repo, "rev-parse", "HEAD")
    assert index_file(repo).is_file()
    again = refresh(repo)
    assert (again.parsed, again.reused) == (0, 3)

    commit_file(repo, "text/util.py", UTIL + b"\n\ndef shorten(text):\n    return text[:9]\n")
    changed = refresh(repo)
    assert (changed.files, changed.parsed, changed.reused) == (3, 1, 2)

    commit_file(repo, "copy/util.py", UTIL)  # the old blob again, at a new path
    before = Snapshot.take(repo)
    copied = refresh(repo)
    assert (copied.files, copied.parsed) == (4, 0)
    assert set(summaries(repo)) == {
        "net/client.py",
        "text/util.py",
        "copy/util.py",
        "pyproject.toml",
    }
    before.assert_unchanged(repo)  # only .git/astm/ was written


def test_summary_holds_ids_kinds_names_signatures_and_ranges(repo: Path) -> None:
    s = summaries(repo, ["net/client.py"])["net/client.py"]
    tree = build("net/client.py", CLIENT)
    assert [(n.id, n.kind, n.key, n.start, n.end) for n in tree.walk() if not n.is_file] == [
        (f"net/client.py::{e.qual}", e.kind, e.key, e.start, e.end) for e in s.nodes
    ]
    sigs = {e.qual: e.signature for e in s.nodes}
    assert sigs["HTTPConnection.request"] == (
        '@retry(times=3) def request(self, method: str, url: str, body: bytes = b"") -> "Response":'
    )
    assert sigs["HTTPConnection"] == "class HTTPConnection:"
    assert sigs["(imports)"] == "import socket"
    toml = summaries(repo, ["pyproject.toml"])["pyproject.toml"]
    assert [(e.qual, e.signature) for e in toml.nodes] == [
        ("project", "[project] name"),
        ("tool.pytest.ini_options", "[tool.pytest.ini_options] testpaths"),
    ]
    assert summaries(repo, ["nope.py"]) == {}


def test_bad_files_are_summarised_never_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_mod, "MAX_BYTES", 20_000)
    repo = make_repo(
        tmp_path / "r",
        {
            "broken.py": b"def ok():\n    pass\n\ndef bad(:\n    pass\n",
            "latin.py": b"# coding: latin-1\nx = '\xe9'\n",
            "empty.py": b"",
            "huge.py": b"x = 1\n" * 5000,
            "bad.toml": b"[a]\nx = = 1\n",
            "deep.py": b"x = " + b"(" * 5000 + b")" * 5000 + b"\n",
        },
    )
    report = refresh(repo)
    assert report.files == 6
    assert report.broken == ("bad.toml", "broken.py")
    assert report.skipped == (
        ("huge.py", "too large (30000 bytes)"),
        ("latin.py", "not UTF-8 (byte 23)"),
    )
    got = summaries(repo)
    assert got["broken.py"].nodes[0].qual == "ok"
    assert got["empty.py"].nodes == () and got["empty.py"].status == "ok"
    assert [e.qual for e in got["deep.py"].nodes] == ["x"]


def test_a_corrupted_index_is_rebuilt(repo: Path) -> None:
    refresh(repo)
    index_file(repo).write_bytes(b"this is not a database" * 100)
    report = refresh(repo)
    assert report.rebuilt == "the index file was corrupted"
    assert (report.files, report.parsed) == (3, 3)


def test_a_truncated_index_is_rebuilt_or_still_read(repo: Path) -> None:
    refresh(repo)
    f = index_file(repo)
    for suffix in ("-wal", "-shm"):
        Path(str(f) + suffix).unlink(missing_ok=True)
    f.write_bytes(f.read_bytes()[:3000])
    found = candidates(repo, "connection timeout")
    assert found and found[0].path == "net/client.py"


def test_an_index_of_another_version_is_rebuilt(repo: Path) -> None:
    refresh(repo)
    with sqlite3.connect(index_file(repo)) as conn:
        conn.execute("UPDATE meta SET value = 'schema=0' WHERE key = 'format'")
    report = refresh(repo)
    assert report.rebuilt == "the index was written by another version"
    assert report.parsed == 3
    with sqlite3.connect(index_file(repo)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA + 1}")
    assert refresh(repo).rebuilt == "the index was written by another version"


def test_a_damaged_summary_row_does_not_crash_routing(repo: Path) -> None:
    refresh(repo)
    with sqlite3.connect(index_file(repo)) as conn:
        conn.execute("UPDATE blobs SET summary = '{not json'")
    found = candidates(repo, "HTTP connection")
    assert found[0].path == "net/client.py" and found[0].nodes == ()


def test_candidates_rank_files_and_name_nodes(repo: Path) -> None:
    found = candidates(repo, "Add a timeout to HTTPConnection.request")
    assert found[0].path == "net/client.py"
    assert found[0].nodes[:2] == (
        "net/client.py::HTTPConnection",
        "net/client.py::HTTPConnection.request",
    )
    assert "net/client.py::HTTPConnection.__init__" in found[0].nodes  # `timeout` parameter
    path, _, nodes = candidates(repo, "slugify titles")[0]
    assert (path, nodes) == ("text/util.py", ("text/util.py::slugify",))
    assert candidates(repo, "pytest options")[0].nodes == (
        "pyproject.toml::tool.pytest.ini_options",
    )
    assert candidates(repo, "the a of") == []  # nothing but function words
    assert candidates(repo, "quantum entanglement") == []
    assert len(candidates(repo, "text", limit=1)) == 1


def test_candidates_follow_head_without_an_explicit_refresh(repo: Path) -> None:
    assert candidates(repo, "parse yaml") == []
    commit_file(repo, "conf/yaml_loader.py", b"def parse_yaml(text):\n    return {}\n")
    found = candidates(repo, "parse yaml")
    assert found[0][0] == "conf/yaml_loader.py"
    assert found[0].nodes == ("conf/yaml_loader.py::parse_yaml",)


def test_a_repository_without_commits(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    report = refresh(repo)
    assert (report.commit, report.files) == (None, 0)
    assert candidates(repo, "anything") == []


def test_worker_processes_build_the_same_index(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process = summaries(repo)
    other = make_repo(
        tmp_path / "other",
        {
            "net/client.py": CLIENT,
            "text/util.py": UTIL,
            "pyproject.toml": PYPROJECT,
        },
    )
    monkeypatch.setattr(indexer, "POOL_MIN", 1)
    monkeypatch.setattr(indexer, "CHUNK", 1)
    report = refresh(other, jobs=2)
    assert report.parsed == 3
    assert summaries(other) == in_process


def test_summarize_is_pure_and_round_trips() -> None:
    s = summarize("python", CLIENT)
    assert summary_mod.Summary.from_json(s.to_json()) == s
    with pytest.raises(ValueError):
        summary_mod.Summary.from_json('{"lang": "python"}')
    assert "connection" in s.weights() and s.weights()["httpconnection"] == 3


def test_cli_index_and_query(repo: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("index", cwd=repo / "net")
    assert res.code == 0
    assert res.out.startswith("indexed 3 files at ") and "parsed 3, reused 0" in res.out
    res = astm("index", "--query", "http connection timeout", "--limit", "1", cwd=repo)
    lines = res.out.splitlines()
    assert "parsed 0, reused 3" in lines[0]
    assert lines[1].split()[1:3] == ["net/client.py", "HTTPConnection"]
    res = astm("index", "--json", "-q", "slugify", cwd=repo)
    out = json.loads(res.out)
    assert out["files"] == 3 and out["candidates"][0]["path"] == "text/util.py"
    res = astm("index", "--rebuild", cwd=repo)
    assert "rebuilt from empty: asked" in res.out


def test_cli_index_outside_a_repository(tmp_path: Path, astm) -> None:  # type: ignore[no-untyped-def]
    res = astm("index", cwd=tmp_path)
    assert res.code == 2 and "not a git repository" in res.err


def test_concurrent_refreshes_and_routing(repo: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    commit_file(repo, "conf/yaml_loader.py", b"def parse_yaml(text):\n    return {}\n")
    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(refresh, repo) for _ in range(2)]
        jobs += [pool.submit(candidates, repo, "parse yaml") for _ in range(2)]
        results = [j.result() for j in jobs]
    assert results[2][0].path == results[3][0].path == "conf/yaml_loader.py"
    assert refresh(repo).parsed == 0


def test_routing_at_another_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit_file(repo, "conf/yaml_loader.py", b"def parse_yaml(text):\n    return {}\n")
    assert candidates(repo, "parse yaml", rev=first) == []
    assert candidates(repo, "parse yaml")[0].path == "conf/yaml_loader.py"


def test_summaries_of_blobs_gone_from_head_are_pruned_once_they_outnumber_files(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer, "PRUNE_MIN", 0)
    refresh(repo)
    git(repo, "rm", "-q", "net/client.py", "pyproject.toml")
    git(repo, "commit", "-q", "-m", "remove")
    report = refresh(repo)
    assert (report.files, report.pruned) == (1, 2)
    with sqlite3.connect(index_file(repo)) as conn:
        assert conn.execute("SELECT count(*) FROM blobs").fetchone() == (1,)
        assert conn.execute("SELECT count(DISTINCT blob) FROM terms").fetchone() == (1,)
    assert candidates(repo, "slugify")[0].path == "text/util.py"


def test_threads_opening_a_new_index_together_all_get_it(tmp_path: Path) -> None:
    # Switching a new database to WAL answered "database is locked" at once (no busy
    # wait) to a second opener: about one round in fifteen of four openers failed.
    import threading

    from astm.index.store import Store

    for round_ in range(60):
        directory = tmp_path / str(round_)
        failures: list[BaseException] = []

        def open_it(directory: Path = directory, failures: list[BaseException] = failures) -> None:
            try:
                Store.open(directory).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == [], failures
