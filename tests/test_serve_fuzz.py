"""schemathesis (a property-based API fuzzer, run as its own CLI) against `codemm serve` on a loopback
port, from the schema the server publishes at /openapi.json, with a scripted model behind it: no
server error, and every response conforms to the schema (status, content type, body, headers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codemm.config import Settings
from codemm.repo.index import RepoIndex
from codemm.serve import create_app
from codemm.session import AskSession
from tests.models.fake_model import FakeModel
from tests.test_serve import SAMPLE, running

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance," + (
    "response_headers_conformance"
)
MAX_EXAMPLES = 25
"""Per operation and phase: the budget that keeps the run near half a minute."""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index = RepoIndex(SAMPLE, db_path=tmp_path_factory.mktemp("serve-fuzz") / "index.sqlite")
    index.refresh()
    session = AskSession(Settings(), model=FakeModel(), repo=index.root, index=index)
    try:
        with running(create_app(session)) as base:
            yield base
    finally:
        index.close()


def test_the_schema_describes_the_api(url: str) -> None:
    schema = httpx.get(url + "/openapi.json").json()
    assert set(schema["paths"]) == {"/health", "/v1/models", "/v1/models/{model_id}", "/v1/chat/completions"}
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatRequest"}
    assert {"200", "400", "403", "413", "415", "429"} <= set(chat["responses"])
    request = schema["components"]["schemas"]["ChatRequest"]["properties"]
    assert request["model"]["enum"] == ["codemm"]
    assert request["seed"]["anyOf"][0] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    assert httpx.get(url + "/openapi.json", headers={"Host": "evil.example"}).status_code == 400  # loopback only


def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(url: str, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    report = tmp_path / "report.json"
    command = [cli, "run", url + "/openapi.json", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
               "--seed", "1", "--workers", "1", "--request-timeout", "30", "--report", "json",
               "--report-json-path", str(report)]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())
    print(" ".join(command[1:]), "->", result["test_cases"])  # the command and the case count, for the record
    assert result["complete"] and result["operations"]["tested"] == 4
    found = result["test_cases"]["with_failures"] + len(result["failures"]) + len(result["errors"])
    assert found == 0, run.stdout[-6000:]
    assert result["test_cases"]["generated"] >= 200
    accepted = result["valid_rates"]["POST /v1/chat/completions"]
    assert sum(phase["accepted"] for phase in accepted.values()) > 0  # the fuzzer reached the model
    assert run.returncode == 0, run.stdout[-6000:]
