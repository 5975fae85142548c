"""The real-engine layer: llama.cpp's own OpenAI-compatible server (llama-cpp-python[server], a
server no one here wrote) on 127.0.0.1 with the embedded SmolLM2 GGUF, and llama.cpp in process.
Skipped, with the reason, where the llamacpp extra is not installed (`make test` installs it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

API_KEY = "codemm-test-key"
KEY_ENV = "CODEMM_TEST_SERVER_KEY"
SERVER_CONTEXT = 4096


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/engines/" in str(item.fspath):
            item.add_marker(pytest.mark.llamacpp)


@pytest.fixture(scope="session")
def gguf() -> Path:
    pytest.importorskip("llama_cpp", reason="the llamacpp extra is not installed (scripts/setup-llamacpp.sh)")
    from codemm.models.registry import REGISTRY

    return REGISTRY["smollm2-135m-instruct"].locate()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    api_base: str
    model_id: str
    log: Path


def start_server(gguf: Path, log: Path, *extra: str, interrupt: bool = False) -> Server:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python was installed without [server]")
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(SERVER_CONTEXT), "--n_threads", "2",
               # queue concurrent requests instead of cutting the running answer short (its default)
               "--interrupt_requests", str(interrupt), *extra]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("llama.cpp server did not start in 120 s")
    return Server(process, f"http://127.0.0.1:{port}/v1", str(gguf), log)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the session, with an API key (so a wrong key can be tested)."""
    running = start_server(gguf, tmp_path_factory.mktemp("server") / "server.log", "--api_key", API_KEY)
    yield running
    stop_server(running)


@pytest.fixture
def server_env(server: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings for the openai backend pointed at the test server, in the environment (as a user's)."""
    values = {"CODEMM_BACKEND": "openai", "CODEMM_API_BASE": server.api_base, "CODEMM_API_KEY_ENV": KEY_ENV,
              KEY_ENV: API_KEY}  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **values}
