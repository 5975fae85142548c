"""`codemm serve` started as a user starts it (the CLI in its own process), talked to by clients no one
here wrote: the official MCP SDK's streamable-HTTP client at /mcp."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_serve import check_mcp_over_http

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-repo"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_llama_long_dir: Path) -> Iterator[str]:
    """`python -m codemm.cli serve --repo REPO --port P` started from another directory (codemm's dirs in
    a temporary home), REPO a copy of the sample whose codemm.toml caps answers at 3 tokens: its base
    URL once /health answers."""
    home = tmp_path_factory.mktemp("serve-cli-home")
    repo = home / "repo"
    shutil.copytree(SAMPLE, repo)
    (repo / "codemm.toml").write_text("max_new_tokens = 3\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "CODEMM_CONFIG_DIR": str(home / "config"), "CODEMM_DATA_DIR": str(home / "data"),
           "CODEMM_CACHE_DIR": str(home / "cache"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    log = (home / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "codemm.cli", "serve", "--repo", str(repo), "--port",
                                str(port), "--model", str(tiny_llama_long_dir)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=home)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (home / "serve.log").read_text()
            assert time.monotonic() < deadline, "codemm serve did not come up"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_mcp_is_mounted_on_the_cli_server(served: str) -> None:
    """initialize, tools/list and a tool call through the SDK's own streamable-HTTP client."""
    check_mcp_over_http(served)


def test_the_served_repositorys_codemm_toml_applies_wherever_serve_starts(served: str) -> None:
    """Issue 23 row 11: serve read codemm.toml from the current directory, not the served repository."""
    body = {"model": "codemm", "messages": [{"role": "user", "content": "What does parse_due_date return?"}]}
    answer = httpx.post(served + "/v1/chat/completions", json=body, timeout=120).json()
    assert answer["usage"]["completion_tokens"] <= 3, answer
    assert answer["choices"][0]["finish_reason"] == "length"
