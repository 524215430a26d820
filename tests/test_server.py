"""The command server (astm/server/): a served command is the command run locally, as the
user sees it (output, exit code, landed branch, Ctrl-C), and the server is the user's alone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import openai_server as loopback
import pytest
from conftest import GIT_ENV, Snapshot, git, make_repo

from astm.server import address, wire

openai_server = loopback.openai_server
ASTM = str(Path(sys.executable).with_name("astm"))  # the console script, as users run it
PYPROJECT = '[project]\nname = "shop"\nversion = "1"\n'
ROUTE = {"act": [{"id": "pyproject.toml::project", "intent": "x"}]}

pytestmark = pytest.mark.skipif(not address.enabled({}), reason="no fork or Unix sockets here")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of commands that use a server of this test's own (a short private
    directory: a Unix socket's path is limited to about 100 bytes). Their sandboxes go
    under the test's own directory: a run these tests kill leaves its sandbox, and its
    repository is gone before any ``astm gc`` could remove it."""
    where = tempfile.mkdtemp(prefix="astm-t-", dir="/tmp")
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()
    env = {**os.environ, **GIT_ENV, "ASTM_SERVER": "1", "XDG_RUNTIME_DIR": where, "TMPDIR": str(sandboxes)}
    monkeypatch.setenv("ASTM_SERVER", "1")
    monkeypatch.setenv("XDG_RUNTIME_DIR", where)
    try:
        yield env
    finally:
        pid = _status(env).get("pid")
        subprocess.run([ASTM, "server", "stop"], env=env, capture_output=True, check=False, timeout=30)
        if isinstance(pid, int):
            _wait(lambda: not _alive(pid), 10)
        shutil.rmtree(where, ignore_errors=True)


def astm(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASTM, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


def _status(env: dict[str, str]) -> dict[str, object]:
    """The server's own report (the console script's module path names its socket)."""
    res = subprocess.run([ASTM, "server", "status", "--json"], env=env, capture_output=True, text=True,
                         check=True, timeout=30)
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def _wait(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _plan(tmp_path: Path, name: str) -> Path:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "edits": [
        {"op": "replace", "node": "pyproject.toml::project", "text": f'[project]\nname = "{name}"\nversion = "1"\n'}]}))
    return plan


def test_first_command_starts_a_server_and_the_next_runs_in_it(served: dict[str, str], tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    before = Snapshot.take(repo)
    plan = _plan(tmp_path, "b")
    local = astm("apply", "rename", "--plan", str(plan), "--branch", "astm/local", cwd=repo, env=served)
    assert local.returncode == 0, local.stderr
    assert _wait(lambda: _status(served).get("served") == 0, 60), "no server was started"

    res = astm("apply", "rename", "--plan", str(plan), "--branch", "astm/served", cwd=repo, env=served)
    assert res.returncode == 0, res.stderr
    assert _status(served)["served"] == 1  # it ran in the server
    assert "landed: astm/served" in res.stdout
    assert git(repo, "rev-parse", "astm/served^{tree}") == git(repo, "rev-parse", "astm/local^{tree}")
    Snapshot.take(repo)  # nothing of the user's moved: HEAD, index, files
    assert Snapshot.take(repo).files == before.files
    assert git(repo, "rev-parse", "HEAD") == before.head
    # The served run's sandboxes go once its caller has the exit code (workspace/depot.py).
    assert _wait(lambda: "astm-" not in git(repo, "worktree", "list"), 30), "the served run left sandboxes"


def test_a_served_command_has_the_callers_streams_directory_environment_and_exit_code(
    served: dict[str, str], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "src/a.py": "x = 1\n"})
    subprocess.run([ASTM, "server", "start"], env=served, check=True, capture_output=True, timeout=90)
    env = {**served, "ASTM_MODEL": "from-the-callers-env"}
    res = astm("config", cwd=repo / "src", env=env)  # a subdirectory: the repository is found from it
    assert res.returncode == 0, res.stderr
    assert "from-the-callers-env" in res.stdout and res.stderr == ""
    bad = astm("apply", "x", "--no-such-flag", cwd=repo, env=served)
    assert bad.returncode == 2 and bad.stdout == "" and "no-such-flag" in bad.stderr
    outside = astm("runs", cwd=tmp_path, env=served)  # not a repository: one line, exit 2
    assert outside.returncode == 2 and outside.stderr.startswith("astm: error"), outside.stderr
    assert _status(served)["served"] == 3
    # ``python -m astm`` puts the current directory on the module path: it runs locally.
    local = subprocess.run([sys.executable, "-m", "astm", "runs"], cwd=repo, env=served, capture_output=True,
                           text=True, check=False, timeout=60)
    assert local.returncode == 0, local.stderr
    assert _status(served)["served"] == 3


def _hanging_run(served: dict[str, str], tmp_path: Path, server: loopback.LoopbackServer
                 ) -> tuple[Path, Snapshot, subprocess.Popen[str]]:
    """A served ``astm apply`` whose node generation hangs at the model, once it asks."""
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT})
    before = Snapshot.take(repo)
    server.enqueue(json.dumps(ROUTE))
    server.enqueue("[project]\n", delay=30, times=2)  # generation hangs
    subprocess.run([ASTM, "server", "start"], env=served, check=True, capture_output=True, timeout=90)
    env = {**served, "ASTM_MODEL": "m", "ASTM_BASE_URL": server.base_url, "OPENAI_API_KEY": "k"}
    proc = subprocess.Popen([ASTM, "apply", "change things"], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if not _wait(lambda: len(server.requests) >= 2, 60):
        proc.kill()
        raise AssertionError("the run never asked for the node")
    return repo, before, proc


def test_ctrl_c_reaches_the_served_run_which_cleans_up(
    served: dict[str, str], tmp_path: Path, openai_server: loopback.LoopbackServer
) -> None:
    repo, before, proc = _hanging_run(served, tmp_path, openai_server)
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    before.assert_unchanged(repo)
    assert _status(served)["served"] == 1


def test_a_killed_client_stops_its_served_run(
    served: dict[str, str], tmp_path: Path, openai_server: loopback.LoopbackServer
) -> None:
    repo, before, proc = _hanging_run(served, tmp_path, openai_server)
    proc.kill()
    proc.communicate(timeout=10)
    # The child saw its caller go and stopped as on a Ctrl-C: it removed what it made.
    assert _wait(lambda: "astm-" not in git(repo, "worktree", "list"), 30), "the run went on"
    before.assert_unchanged(repo)


def test_a_sigterm_to_the_client_ends_both_as_it_would_end_one(
    served: dict[str, str], tmp_path: Path, openai_server: loopback.LoopbackServer
) -> None:
    _, _, proc = _hanging_run(served, tmp_path, openai_server)
    try:
        proc.terminate()
        proc.communicate(timeout=20)
        assert proc.returncode == -signal.SIGTERM
    finally:
        proc.kill()


def test_an_idle_server_exits_and_removes_its_socket(served: dict[str, str]) -> None:
    env = {**served, address.IDLE: "1"}
    subprocess.run([ASTM, "server", "start"], env=env, check=True, capture_output=True, timeout=90)
    assert _status(env)["idle"] == 1
    socks = list(Path(env["XDG_RUNTIME_DIR"]).glob("astm-server-*/*.sock"))
    assert len(socks) == 1
    assert _wait(lambda: not socks[0].exists(), 20), "the idle server is still there"
    res = subprocess.run([ASTM, "server", "status"], env=env, capture_output=True, text=True, check=False)
    assert "not running" in res.stdout


def test_the_servers_directory_must_be_private(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    mine = address.runtime_dir(env)
    assert mine is not None and (os.stat(mine).st_mode & 0o777) == 0o700
    os.chmod(mine, 0o755)  # readable by others: not used
    assert address.runtime_dir(env) is None
    os.chmod(mine, 0o700)
    other = tmp_path / "elsewhere"
    other.mkdir(mode=0o700)
    shutil.rmtree(mine)
    os.symlink(other, mine)  # a symlink planted where the directory goes: not used
    assert address.runtime_dir(env) is None


def test_a_servers_name_follows_astms_files_and_keyed_settings(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    first = address.fingerprint({}, package)
    assert address.fingerprint({}, package) == first
    os.utime(package / "sub" / "b.py", ns=(1, 1))  # an edited (or reinstalled) astm
    assert address.fingerprint({}, package) != first
    second = address.fingerprint({}, package)
    assert address.fingerprint({"ASTM_GENERATED_DIR": "gen"}, package) != second


def test_a_servers_name_follows_installs_on_the_module_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = address.fingerprint({})
    (site / "openai-9.9.dist-info").mkdir()  # what pip does when it installs or upgrades
    os.utime(site, ns=(10**18, 10**18))
    assert address.fingerprint({}) != before


def test_what_runs_locally() -> None:
    assert address.served(["apply", "x"])
    assert not address.served(["apply", "x", "--step"])  # the clutch opens $EDITOR on the terminal
    assert not address.served(["hook", "run"])
    assert not address.served(["apply", "--help"])
    assert not address.served(["--version"])
    assert not address.enabled({"ASTM_SERVER": "0"})
    assert not address.enabled({"ASTM_PAUSE_AT": "import"})  # read at import: the server's would stand


def test_messages_carry_descriptors_and_refuse_oversized_ones() -> None:
    a, b = socket.socketpair()
    r, w = os.pipe()
    with a, b:
        wire.send(a, {"op": "run", "n": "é" * 10}, fds=(w,))
        msg, fds = wire.receive(b, max_fds=3)
        assert msg == {"op": "run", "n": "é" * 10} and len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        assert os.read(r, 100) == b"through the passed descriptor"
        for fd in (*fds, r, w):
            os.close(fd)
        a.sendall(wire._LEN.pack(wire.MAX_MESSAGE + 1))
        with pytest.raises(wire.WireError):
            wire.receive(b)


def test_odd_callers_run_their_command_locally_as_before(served: dict[str, str], tmp_path: Path) -> None:
    """A deleted working directory or a closed stdin: the command runs in its own process,
    with exactly what it does there (never a traceback of the client's)."""
    subprocess.run([ASTM, "server", "start"], env=served, check=True, capture_output=True, timeout=90)
    gone = tmp_path / "gone"
    script = f'mkdir "{gone}" && cd "{gone}" && rmdir "{gone}" && exec "{ASTM}" runs'
    res = [subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False)
           for env in (served, {**served, "ASTM_SERVER": "0"})]
    assert res[0].returncode == res[1].returncode == 2
    assert res[0].stderr == res[1].stderr
    assert "the current directory no longer exists" in res[0].stderr and res[0].stderr.count("\n") == 1
    assert not list(Path(served["TMPDIR"]).glob("astm-crash-*"))  # a usage error, not a crash
    closed = subprocess.run(f'"{ASTM}" runs <&-', shell=True, cwd=tmp_path, env=served,
                            capture_output=True, text=True, timeout=60, check=False)
    assert closed.returncode == 2 and "Traceback" not in closed.stderr
    assert _status(served)["served"] == 0


def test_ctrl_z_stops_the_served_run_with_its_client_and_fg_resumes_both(
    served: dict[str, str], tmp_path: Path, openai_server: loopback.LoopbackServer
) -> None:
    _, _, proc = _hanging_run(served, tmp_path, openai_server)
    server = _status(served)["pid"]
    children = Path(f"/proc/{server}/task/{server}/children")
    if not children.exists():
        proc.kill()
        pytest.skip("no /proc children list here")
    child = int(children.read_text().split()[0])

    def state(pid: int) -> str:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    try:
        proc.send_signal(signal.SIGTSTP)
        assert _wait(lambda: state(proc.pid) == "T" and state(child) == "T", 10), (state(proc.pid), state(child))
        proc.send_signal(signal.SIGCONT)
        assert _wait(lambda: state(proc.pid) != "T" and state(child) != "T", 10)
        proc.send_signal(signal.SIGINT)  # and it still ends as a Ctrl-C ends it
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
