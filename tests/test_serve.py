"""`codemm serve`: the OpenAI-compatible API, driven by clients no one here wrote (the official
``openai`` client, httpx, codemm's own openai backend) against uvicorn on 127.0.0.1, with a scripted
model behind the seam. Load, disconnects, limits and the security defaults included."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gc
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil
import pytest
import uvicorn

from codemm.adapters.store import CARD, AdapterCard, adapter_dir
from codemm.config import Settings
from codemm.repo.index import RepoIndex
from codemm.serve import ServeConfig, create_app
from codemm.session import AskSession
from tests.models.fake_model import FakeModel

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-repo"
QUESTION = "Where is parse_due_date defined?"
SIGNATURE = "def parse_due_date(text: str, today: date) -> date"
KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RepoIndex]:
    """One index of the sample repo for the module (embedding it is the slow part), kept outside the
    user's cache by an explicit path."""
    index = RepoIndex(SAMPLE, db_path=tmp_path_factory.mktemp("serve-index") / "index.sqlite")
    index.refresh()
    yield index
    index.close()


@contextmanager
def running(app: Any) -> Iterator[str]:
    """uvicorn in a thread on a socket bound here (127.0.0.1, a free port): the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


Serve = Callable[..., str]


@pytest.fixture
def serve(sample_index: RepoIndex) -> Iterator[Serve]:
    """serve(fake, config=..., repo=...) starts codemm serve over the sample repo (or ``repo``)."""
    with ExitStack() as stack:

        def start(fake: FakeModel, config: ServeConfig | None = None, repo: Path | None = None) -> str:
            if repo is None:
                session = AskSession(Settings(), model=fake, repo=sample_index.root, index=sample_index)
            else:
                session = AskSession(Settings(), model=fake)
                session.set_repo(repo)
                stack.callback(session.index.close)
            return stack.enter_context(running(create_app(session, config)))

        yield start


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def body(question: str = QUESTION, stream: bool = False, model: str = "codemm", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": question}], "stream": stream, **extra}


def store_card(name: str) -> None:
    """An adapter in the store as `adapters train` leaves it: a peft folder and codemm's card."""
    path = adapter_dir(name)
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text("{}")
    card = AdapterCard(name=name, base_model="fake-model", base_id="0" * 64, dataset_sha256="", recipe={}, metrics={},
                       created=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    (path / CARD).write_text(json.dumps(dataclasses.asdict(card)))


def one_line_error(response: httpx.Response) -> dict[str, Any]:
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and "\n" not in error["message"]
    return dict(error)


# -- what an OpenAI client sees --------------------------------------------------------------


def test_models_list_codemm_and_each_adapter(serve: Serve) -> None:
    store_card("team")
    url = serve(FakeModel())
    api = client(url)
    assert [m.id for m in api.models.list()] == ["codemm", "codemm:team"]
    assert api.models.retrieve("codemm:team").id == "codemm:team"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-4o")


def test_chat_completion_is_grounded_and_cites(serve: Serve) -> None:
    fake = FakeModel()
    api = client(serve(fake))
    reply = api.chat.completions.create(model="codemm", messages=[
        {"role": "system", "content": "You are a helpful editor assistant."},
        {"role": "user", "content": "What does the project do?"},
        {"role": "assistant", "content": "It tracks tasks."},
        {"role": "user", "content": QUESTION},
    ])  # fmt: skip
    content = reply.choices[0].message.content or ""
    assert content.startswith("From the index:") and SIGNATURE in content and content.endswith("It returns a date.")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    citations = (reply.model_extra or {})["citations"]
    assert {"path": "tasktracker/dates.py", "start": 10, "end": 28, "valid": True, "source": "index"} in citations
    prompt = fake.prompts[-1]  # the question last, the earlier turns as history, the client's system prompt left out
    assert QUESTION in prompt[-1]["content"]
    assert {"role": "assistant", "content": "It tracks tasks."} in prompt
    assert all("helpful editor" not in m["content"] for m in prompt)


def test_a_question_for_a_diagram_gets_mermaid_drawn_from_the_code(serve: Serve) -> None:
    reply = client(serve(FakeModel())).chat.completions.create(
        model="codemm", messages=body("Draw a call graph of what calls parse_due_date")["messages"]
    )
    content = reply.choices[0].message.content or ""
    block = content.split("```mermaid\n", 1)[1].split("```", 1)[0]  # Markdown that renders as a diagram
    assert block.startswith("flowchart LR") and '"parse_due_date"' in block
    assert 'href "tasktracker/dates.py#L10"' in block and content.endswith("It returns a date.")


def test_streamed_completion_carries_the_same_answer(serve: Serve) -> None:
    api = client(serve(FakeModel()))
    chunks = list(api.chat.completions.create(model="codemm", messages=body()["messages"], stream=True,
                                              stream_options={"include_usage": True}))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert SIGNATURE in text and text.endswith("It returns a date.")
    last = [c for c in chunks if c.choices][-1]
    assert last.choices[0].finish_reason == "stop"
    assert any(c["path"] == "tasktracker/dates.py" for c in (last.model_extra or {})["citations"])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


def test_model_id_selects_the_adapter(serve: Serve) -> None:
    store_card("team")
    fake = FakeModel()
    api = client(serve(fake))
    api.chat.completions.create(model="codemm:team", messages=body()["messages"])
    assert fake.adapter == "team"
    api.chat.completions.create(model="codemm", messages=body()["messages"])
    assert fake.adapter is None


def test_unknown_model_is_a_404_in_openai_error_json(serve: Serve) -> None:
    url = serve(FakeModel())
    with pytest.raises(openai.NotFoundError) as caught:
        client(url).chat.completions.create(model="codemm:nosuch", messages=body()["messages"])
    assert caught.value.code == "model_not_found"
    assert "codemm:nosuch" in caught.value.message


def test_codemm_openai_backend_talks_to_codemm_serve(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    """A codemm talking to a codemm: the backend's probe reads /v1/models, then it streams, with a key."""
    from codemm.models.factory import open_model
    from codemm.models.stream import GenerationSettings

    url = serve(FakeModel(), ServeConfig(api_key=KEY))
    monkeypatch.setenv("SERVE_KEY", KEY)
    model = open_model(Settings(backend="openai", api_base=url + "/v1", model="codemm", api_key_env="SERVE_KEY"))
    try:
        stream = model.stream([{"role": "user", "content": QUESTION}], GenerationSettings(max_new_tokens=64))
        text = stream.text()
    finally:
        model.close()
    assert SIGNATURE in text and text.endswith("It returns a date.")
    assert stream.stats.stop_reason == "eos"


# -- security ------------------------------------------------------------------------------------


def test_api_key_is_required_everywhere_but_health(serve: Serve) -> None:
    url = serve(FakeModel(), ServeConfig(api_key=KEY))
    with pytest.raises(openai.AuthenticationError):
        client(url, "wrong-key").models.list()
    with pytest.raises(openai.AuthenticationError):
        client(url, "wrong-key").chat.completions.create(model="codemm", messages=body()["messages"])
    bare = httpx.post(url + "/v1/chat/completions", json=body())
    assert bare.status_code == 401 and one_line_error(bare)["code"] == "invalid_api_key"
    assert httpx.get(url + "/health").status_code == 200
    assert [m.id for m in client(url, KEY).models.list()] == ["codemm"]


def test_without_a_key_only_loopback_host_names_are_answered(serve: Serve) -> None:
    """A web page re-pointed at 127.0.0.1 (DNS rebinding) still sends its own Host."""
    url = serve(FakeModel())
    refused = httpx.get(url + "/v1/models", headers={"Host": "attacker.example"})
    assert refused.status_code == 400 and one_line_error(refused)["code"] == "invalid_host"
    assert httpx.get(url + "/v1/models", headers={"Host": "localhost:1234"}).status_code == 200


def test_huge_body_is_413(serve: Serve) -> None:
    url = serve(FakeModel())
    huge = json.dumps(body("x" * (9 * 2**20))).encode()
    response = httpx.post(url + "/v1/chat/completions", content=huge, headers={"Content-Type": "application/json"},
                          timeout=30)  # fmt: skip
    assert response.status_code == 413 and one_line_error(response)["code"] == "request_too_large"


def _image_message(url: str, question: str = "What does this show?") -> dict[str, Any]:
    content = [{"type": "text", "text": question}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": "codemm", "messages": [{"role": "user", "content": content}]}


def test_bad_image_urls_are_one_line_400s(serve: Serve) -> None:
    url = serve(FakeModel(), ServeConfig(max_image_bytes=4096))
    post = lambda image: httpx.post(url + "/v1/chat/completions", json=_image_message(image), timeout=30)  # noqa: E731
    corrupt = post("data:image/png;base64," + base64.b64encode(b"this is not a png").decode())
    assert corrupt.status_code == 400
    assert one_line_error(corrupt)["message"] == (
        "image_url 1 is not an image Pillow can read (wrong extension or corrupt file)"
    )
    assert "not valid base64" in one_line_error(post("data:image/png;base64,%%%"))["message"]
    remote = post("http://169.254.169.254/latest/meta-data")  # never fetched
    assert remote.status_code == 400 and "fetches no URLs" in one_line_error(remote)["message"]
    big = post("data:image/png;base64," + base64.b64encode(b"\0" * 8192).decode())
    assert big.status_code == 413 and one_line_error(big)["code"] == "image_too_large"


def test_screenshot_goes_through_the_image_path(serve: Serve) -> None:
    from codemm.eval.screens import fonts, real_traceback, render_text
    from codemm.vision.ocr import available_backends

    if not available_backends():
        pytest.skip("no OCR backend installed")
    buffer = io.BytesIO()
    render_text(real_traceback(SAMPLE), fonts()["dejavu-mono"], 16, "dark").save(buffer, format="PNG")
    fake = FakeModel()
    url = serve(fake)
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    response = httpx.post(url + "/v1/chat/completions", timeout=120,
                          json=_image_message(data_url, "Which file and line raised this error?"))  # fmt: skip
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["choices"][0]["message"]["content"].startswith("Screenshot locations")
    assert any(c["path"] == "tasktracker/dates.py" and c["source"] == "index" for c in data["citations"])
    assert "Text read from image image-1.png" in fake.prompts[-1][-1]["content"]


def test_serve_on_all_interfaces_without_a_key_refuses_to_start() -> None:
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", "serve", "--repo", str(SAMPLE), "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and "--api-key-env" in proc.stderr
    unset = subprocess.run([sys.executable, "-m", "codemm.cli", "serve", "--repo", str(SAMPLE), "--host", "0.0.0.0",
                            "--api-key-env", "CODEMM_TEST_UNSET_KEY"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert unset.returncode == 2 and "CODEMM_TEST_UNSET_KEY" in unset.stderr and len(unset.stderr.splitlines()) == 1


def test_serve_command_answers_with_a_real_model(tiny_llama_long_dir: Path) -> None:
    """The CLI end to end: index, model load, uvicorn, a key from the environment, a completion."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SERVE_TEST_KEY": KEY}
    process = subprocess.Popen([sys.executable, "-m", "codemm.cli", "serve", "--repo", str(SAMPLE), "--port", str(port),
                                "--model", str(tiny_llama_long_dir), "--api-key-env", "SERVE_TEST_KEY"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "codemm serve did not come up"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        reply = client(url, KEY).chat.completions.create(model="codemm", messages=body()["messages"], max_tokens=4)
        assert SIGNATURE in (reply.choices[0].message.content or "")
    finally:
        process.terminate()
        process.wait(30)


# -- flow control ----------------------------------------------------------------------------


def test_load_is_answered_or_refused_never_lost(serve: Serve) -> None:
    """50 clients at once against one slot and a short queue: each gets 200 or 429 with Retry-After,
    none a 5xx or nothing; and serving rounds of them does not grow the process."""
    fake = FakeModel(pieces=[f"p{i} " for i in range(8)], delay=0.02)
    url = serve(fake, ServeConfig(queue=4))

    async def storm(n: int) -> list[tuple[int, str | None, str]]:
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=n)) as http:

            async def one(i: int) -> tuple[int, str | None, str]:
                response = await http.post("/v1/chat/completions", json=body(stream=i % 2 == 0))
                return response.status_code, response.headers.get("retry-after"), response.text

            return await asyncio.gather(*(one(i) for i in range(n)))

    started = time.monotonic()
    results = asyncio.run(storm(50))
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 429} and statuses.count(429) > 0 and statuses.count(200) >= 5
    for status, retry_after, text in results:
        if status == 429:
            assert retry_after is not None and 1 <= int(retry_after) <= 60 and "busy" in text
        else:
            done = text.endswith("data: [DONE]\n\n") or json.loads(text)["choices"][0]["finish_reason"] == "stop"
            assert SIGNATURE in text and done
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    for _ in range(3):
        assert {status for status, _, _ in asyncio.run(storm(50))} <= {200, 429}
    gc.collect()
    assert process.memory_info().rss - before < 64 * 2**20
    assert time.monotonic() - started < 60
    assert httpx.get(url + "/health").json() | {"model_loaded": True} == {
        "status": "ok", "generating": 0, "queued": 0, "model_loaded": True}  # fmt: skip


def test_clients_that_walk_away_leave_no_generation_running(serve: Serve) -> None:
    fake = FakeModel(pieces=[f"w{i} " for i in range(200)], delay=0.02)  # 4 s each unless cancelled
    url = serve(fake)

    def walk_away(_: int) -> int:
        with (
            httpx.Client(base_url=url, timeout=30) as http,
            http.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response,
        ):
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data: ")
                if seen == 3:  # the preamble and two pieces, then the connection closes
                    return seen
        return seen

    started = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(walk_away, range(10))) == [3] * 10
    deadline = time.monotonic() + 10
    while any(not s.cancelled for s in fake.streams) or httpx.get(url + "/health").json()["generating"]:
        assert time.monotonic() < deadline, "a generation kept running after its client left"
        time.sleep(0.05)
    produced = fake.produced
    time.sleep(0.5)
    assert fake.produced == produced
    assert len(fake.streams) == 10 and all(s.stats.stop_reason == "cancelled" for s in fake.streams)
    assert produced < 10 * 50 and time.monotonic() - started < 30
    fake.delay, fake.pieces = 0.0, ["fine."]  # the slot is free again
    assert httpx.post(url + "/v1/chat/completions", json=body(), timeout=30).status_code == 200


def test_clients_that_leave_a_queue_or_a_plain_request_free_their_place(serve: Serve) -> None:
    fake = FakeModel(pieces=[f"w{i} " for i in range(200)], delay=0.02)
    url = serve(fake)
    health = lambda: httpx.get(url + "/health").json()  # noqa: E731
    with (
        httpx.Client(base_url=url, timeout=30) as first,
        first.stream("POST", "/v1/chat/completions", json=body(stream=True)) as streaming,
    ):
        lines = streaming.iter_lines()  # kept: dropping the iterator would close the connection
        next(lines)  # it holds the only slot
        with pytest.raises(httpx.ReadTimeout):  # queued behind it, then gone
            httpx.post(url + "/v1/chat/completions", json=body(), timeout=0.5)
        deadline = time.monotonic() + 5
        while health()["queued"]:
            assert time.monotonic() < deadline, "a client that left still holds a place in the queue"
            time.sleep(0.05)
        assert health()["generating"] == 1 and len(fake.streams) == 1
    deadline = time.monotonic() + 5
    while health()["generating"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(httpx.ReadTimeout):  # a non-streamed answer the client stops waiting for
        httpx.post(url + "/v1/chat/completions", json=body(), timeout=0.5)
    deadline = time.monotonic() + 5
    while not (len(fake.streams) == 2 and fake.streams[1].cancelled) or health()["generating"]:
        assert time.monotonic() < deadline, "the plain request's generation outlived its client"
        time.sleep(0.05)
    assert fake.produced < 2 * 100


def test_a_request_past_its_timeout_is_504_and_cancelled(serve: Serve) -> None:
    fake = FakeModel(pieces=[f"s{i} " for i in range(100)], delay=0.05)
    url = serve(fake, ServeConfig(timeout_s=1.0))
    response = httpx.post(url + "/v1/chat/completions", json=body(), timeout=30)
    assert response.status_code == 504 and one_line_error(response)["code"] == "timeout"
    deadline = time.monotonic() + 5
    while not (fake.streams and fake.streams[0].stats.stop_reason == "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_repo_deleted_while_serving_is_a_clear_500_and_the_server_stays_up(serve: Serve, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    url = serve(FakeModel(), ServeConfig(refresh_s=0), repo=repo)
    assert httpx.post(url + "/v1/chat/completions", json=body(), timeout=30).status_code == 200
    shutil.rmtree(repo)
    gone = httpx.post(url + "/v1/chat/completions", json=body(), timeout=30)
    assert gone.status_code == 500
    error = one_line_error(gone)
    assert error["code"] == "repo_unavailable" and str(repo) in error["message"]
    health = httpx.get(url + "/health")
    assert health.status_code == 503 and health.json()["status"] == "repo_unavailable"
    shutil.copytree(SAMPLE, repo)
    assert httpx.post(url + "/v1/chat/completions", json=body(), timeout=30).status_code == 200


def test_requests_that_are_not_a_question_are_400(serve: Serve) -> None:
    url = serve(FakeModel())
    post = lambda data: httpx.post(url + "/v1/chat/completions", json=data, timeout=30)  # noqa: E731
    no_question = post({"model": "codemm", "messages": [{"role": "assistant", "content": "hi"}]})
    assert (
        no_question.status_code == 400 and "last message must be the user's" in one_line_error(no_question)["message"]
    )
    assert post({"model": "codemm", "messages": []}).status_code == 400
    assert post(body(n=2)).status_code == 400
    bad_json = httpx.post(
        url + "/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and one_line_error(bad_json)["message"].startswith("invalid request")
    assert httpx.get(url + "/v1/nothing-here").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True), ("::1", True),
     ("127.8.9.1", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5:8000", False), ("localhost.evil.example", False),
     ("", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    from codemm.http_guards import is_loopback

    assert is_loopback(host) is loopback


def test_serve_config_validates_itself() -> None:
    from codemm.errors import BadInputError

    with pytest.raises(BadInputError, match="--slots must be at least 1"):
        ServeConfig(slots=0)
    with pytest.raises(BadInputError, match="--slots above 1 needs --backend openai"):
        create_app(AskSession(Settings(), model=FakeModel()), ServeConfig(slots=2))
    assert KEY not in repr(ServeConfig(api_key=KEY))  # a key never lands in a log line


def test_mcp_tools_over_http_at_slash_mcp(serve: Serve) -> None:
    """The same MCP tools as `codemm mcp`, over streamable HTTP, through the SDK's own client."""

    check_mcp_over_http(serve(FakeModel()))


def check_mcp_over_http(url: str) -> None:
    """initialize, tools/list and find_definition at ``url``/mcp through the SDK's streamable-HTTP client."""
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def call() -> tuple[list[str], str]:
        async with streamable_http_client(url + "/mcp") as streams, ClientSession(streams[0], streams[1]) as mcp:
            await mcp.initialize()
            names = [tool.name for tool in (await mcp.list_tools()).tools]
            found = await mcp.call_tool("find_definition", {"symbol": "parse_due_date"})
            assert not found.is_error, found.content
            return names, json.dumps(found.structured_content)

    names, found = anyio.run(call)
    assert {"search_code", "find_definition", "read_range", "ask"} <= set(names)
    assert "tasktracker/dates.py:10" in found
