"""ask, chat and eval through llama.cpp: in process (`--backend llamacpp`) and over HTTP to llama.cpp's
own OpenAI-compatible server (`--backend openai`); cancelling, and each way a server can fail."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codemm.config import Settings
from codemm.errors import CodemmError, ModelFormatError, ModelServerError
from codemm.models.factory import open_model
from codemm.models.stream import GenerationSettings
from tests.engines.conftest import API_KEY, KEY_ENV, Server, start_server, stop_server

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"
QUESTION = "Where is parse_due_date defined and what does it return?"


def codemm(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)  # fmt: skip


def check_answer(data: dict[str, object]) -> None:
    """A grounded answer: the definition from the index first, and every citation real."""
    citations = data["citations"]
    assert isinstance(citations, list) and citations and all(c["valid"] for c in citations)
    assert any(c["path"] == "tasktracker/dates.py" for c in citations)
    assert "def parse_due_date(text: str, today: date) -> date" in str(data["answer"])


def test_ask_through_the_server(server: Server, server_env: dict[str, str]) -> None:
    proc = codemm("ask", QUESTION, "--repo", str(SAMPLE), "--json", "--max-new-tokens", "48", env=server_env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["backend"] == "openai" and data["server_model"] == server.model_id
    assert data["tokens"]["new"] > 0 and data["context_tokens"]["used"] <= data["context_tokens"]["budget"]
    check_answer(data)


def test_ask_in_process_with_llamacpp(gguf: Path) -> None:
    proc = codemm("ask", QUESTION, "--repo", str(SAMPLE), "--backend", "llamacpp", "--json",
                  "--max-new-tokens", "48")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["backend"] == "llamacpp" and data["quant"] == "gguf"
    check_answer(data)


def test_llamacpp_counts_tokens_exactly_and_decodes(gguf: Path) -> None:
    """One decode step catches a llama.cpp build that dies with SIGILL on this CPU."""
    model = open_model(Settings(backend="llamacpp"))
    messages = [{"role": "user", "content": "Say hi."}]
    stream = model.stream(messages, GenerationSettings(max_new_tokens=4))
    text = stream.text()
    assert text and stream.stats.new_tokens >= 1
    # the engine's own count of the prompt it fed the model
    assert stream.stats.prompt_tokens == model.count_tokens(messages) == len(model._prompt_tokens(messages))
    assert model.context_window == 8192 and model.describe()["architecture"] == "llama"
    model.close()


def test_models_info_and_config_show_the_backend(server: Server, server_env: dict[str, str]) -> None:
    proc = codemm("models", "info", "--json", env=server_env)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["backend"] == "openai" and info["server"] == "llama-cpp-python"
    assert info["served_models"] == [server.model_id] and info["context_window"] > 0
    assert info["capabilities"]["adapters"] is True
    shown = codemm("config", "show", env=server_env)
    assert "backend" in shown.stdout and "openai" in shown.stdout and "(CODEMM_BACKEND)" in shown.stdout


def test_cancel_stops_the_servers_generation(server: Server, server_env: dict[str, str]) -> None:
    model = open_model(Settings(backend="openai", api_base=server.api_base, api_key_env=KEY_ENV))
    long = [{"role": "user", "content": "Write the numbers from 1 to 3000, one per line."}]
    stream = model.stream(long, GenerationSettings(max_new_tokens=2000, stop_on_repeat=False))
    for count, _ in enumerate(stream):
        if count == 4:
            stream.cancel()
    assert stream.stats.stop_reason == "cancelled" and stream.stats.new_tokens < 50
    # The server handles one request at a time: had it kept generating the 2000 tokens (about
    # 100 s here), this short request would wait for them.
    started = time.perf_counter()
    short = model.stream([{"role": "user", "content": "hi"}], GenerationSettings(max_new_tokens=3))
    assert short.text()
    assert time.perf_counter() - started < 20
    model.close()


def test_eval_repoqa_slice_on_each_backend(server: Server, server_env: dict[str, str], tmp_path: Path) -> None:
    for backend in ("openai", "llamacpp"):
        out = tmp_path / backend
        proc = codemm("eval", "run", "repoqa", "--limit", "2", "--backend", backend, "--out", str(out),
                      env=server_env, timeout=900)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert len(rows) == 4 and all(row["cost"]["new_tokens"] > 0 for row in rows)
        run = json.loads((out / "run.json").read_text())
        assert run["model"]["backend"] == backend and run["config"]["backend"] == backend
        if backend == "openai":
            assert run["model"]["server_model"] == server.model_id


def test_eval_concurrency_keeps_rows_in_item_order(server: Server, server_env: dict[str, str], tmp_path: Path) -> None:
    proc = codemm("eval", "run", "repoqa", "--limit", "3", "--concurrency", "3", "--out", str(tmp_path / "c"),
                  env=server_env, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (tmp_path / "c" / "results.jsonl").read_text().splitlines()]
    assert json.loads((tmp_path / "c" / "run.json").read_text())["config"]["concurrency"] == 3
    # as a sequential run writes them: each item's variants together, in the suite's variant order
    items = [r["item"] for r in rows]
    assert len(rows) == 6 and len(set(items)) == 3 and items == sorted(items, key=items.index)
    assert [r["variant"] for r in rows] == ["no-repo", "repo"] * 3
    assert all(r["cost"]["new_tokens"] > 0 and r["output"] for r in rows)  # each answer whole, none cut short


@pytest.mark.parametrize("backend", ["openai", "llamacpp"])
async def test_chat_answers_on_each_engine(
    backend: str, server: Server, server_env: dict[str, str], tmp_path: Path
) -> None:
    from codemm.config import load_settings
    from codemm.session import AskSession
    from codemm.tui.app import ChatApp, PromptArea
    from codemm.tui.history import ChatHistory

    session = AskSession(load_settings({"max_new_tokens": 24, "backend": backend}), repo=SAMPLE)
    history = ChatHistory(tmp_path / "chat.sqlite")
    app = ChatApp(session, history)
    async with app.run_test() as pilot:
        area = app.query_one(PromptArea)
        area.text = QUESTION
        await pilot.press("enter")  # sent at once: answered when model and index are ready
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            stored = history.messages(app.conversation) if app.conversation is not None else []
            if len(stored) == 2 and not stored[1].partial and not app.generating:
                break
            await pilot.pause(0.1)
        stored = history.messages(app.conversation)
        assert [m.role for m in stored] == ["user", "assistant"] and not stored[1].partial
        assert "parse_due_date" in stored[1].content
        assert session.model is not None and session.model.backend == backend


# -- bad input: one line each -------------------------------------------------------------------


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) >= 1 and "Traceback" not in proc.stderr
    return lines[-1]


def test_server_errors_are_one_line(server: Server, server_env: dict[str, str]) -> None:
    ask = ("ask", "hello", "--no-repo", "--max-new-tokens", "4")
    down = one_line_error(codemm(*ask, "--api-base", "http://127.0.0.1:9/v1", env=server_env))
    assert "cannot reach a model server at http://127.0.0.1:9/v1" in down
    root = server.api_base.removesuffix("/v1")
    suffix = one_line_error(codemm(*ask, "--api-base", root, env=server_env))
    assert "has no /models endpoint" in suffix and f"{root}/v1" in suffix
    bad_key = one_line_error(codemm(*ask, env={**server_env, KEY_ENV: "wrong"}))
    assert "refused the API key (401)" in bad_key
    unknown = one_line_error(codemm(*ask, "--model", "no-such-model", env=server_env))
    assert "does not serve 'no-such-model'" in unknown
    adapter = one_line_error(codemm(*ask, "--adapter", "team", env=server_env))
    assert "adapter 'team' is not served by" in adapter and "--lora-modules team=DIR" in adapter


def test_context_overflow_is_one_line(server: Server, server_env: dict[str, str], tmp_path: Path) -> None:
    """A window set larger than the server's lets a long question through: the server's 400 is one line."""
    question = tmp_path / "q.txt"
    question.write_text("Explain this log:\n" + "error: disk quota exceeded on volume seven\n" * 900)
    env = {**server_env, "CODEMM_CONTEXT_WINDOW": "32000"}
    line = one_line_error(codemm("ask", "--question-file", str(question), "--no-repo", "--max-new-tokens", "8",
                                 env=env))  # fmt: skip
    assert "model server" in line and "context window" in line


def test_stream_cut_in_the_middle_is_reported(gguf: Path, tmp_path: Path) -> None:
    own = start_server(gguf, tmp_path / "server.log")
    try:
        model = open_model(Settings(backend="openai", api_base=own.api_base))
        stream = model.stream([{"role": "user", "content": "Write the numbers from 1 to 3000, one per line."}],
                              GenerationSettings(max_new_tokens=2000, stop_on_repeat=False))  # fmt: skip
        received = []
        with pytest.raises(ModelServerError, match="broke off after"):
            for piece in stream:
                received.append(piece)
                if len(received) == 3:
                    own.process.kill()
        assert received and stream.stats.stop_reason == "interrupted"
    finally:
        stop_server(own)


def test_an_answer_the_server_cuts_short_is_an_error_not_a_short_answer(gguf: Path, tmp_path: Path) -> None:
    """llama-cpp-python's server, by default, ends a running answer when another request arrives:
    the cut answer must say so, never pass for a complete (empty or short) one."""
    own = start_server(gguf, tmp_path / "server.log", interrupt=True)
    try:
        model = open_model(Settings(backend="openai", api_base=own.api_base))
        counting = [{"role": "user", "content": "Write the numbers from 1 to 3000, one per line."}]
        first = model.stream(counting, GenerationSettings(max_new_tokens=1000, stop_on_repeat=False))
        pieces = iter(first)
        next(pieces)  # the first answer is running
        model.stream([{"role": "user", "content": "hi"}], GenerationSettings(max_new_tokens=3)).text()
        with pytest.raises(ModelServerError, match="without saying why"):
            for _ in pieces:
                pass
        assert first.stats.stop_reason == "interrupted"
    finally:
        stop_server(own)


def test_server_that_never_answers_times_out(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(ModelServerError, match="did not answer in time"):
            open_model(Settings(backend="openai", api_base=f"http://127.0.0.1:{port}/v1", timeout=2))
        assert time.perf_counter() - started < 15


def test_unknown_gguf_architecture_is_one_line(gguf: Path, tmp_path: Path) -> None:
    import gguf as gguf_lib
    import numpy as np

    path = tmp_path / "mystery.gguf"
    writer = gguf_lib.GGUFWriter(str(path), "mysterynet")
    writer.add_context_length(256)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelFormatError, match="architecture 'mysterynet' is unknown"):
        open_model(Settings(backend="llamacpp", model=str(path)))
    with pytest.raises(CodemmError, match="runs GGUF files"):
        open_model(Settings(backend="llamacpp", model=str(tmp_path)))


def test_server_key_is_read_from_the_named_variable_only(server: Server) -> None:
    with pytest.raises(CodemmError, match="CODEMM_NO_SUCH_VAR"):
        open_model(Settings(backend="openai", api_base=server.api_base, api_key_env="CODEMM_NO_SUCH_VAR"))
    assert API_KEY not in json.dumps(Settings(backend="openai").as_dict())


def test_adapter_on_llamacpp_goes_through_the_export(gguf: Path) -> None:
    """--adapter NAME with the llamacpp backend: the stored peft adapter is exported once to a LoRA
    GGUF and bound to the model; its answers differ from the base model's."""
    from codemm.models.load import load
    from codemm.models.registry import DEFAULT_MODEL
    from tests.adapters.test_export import ALL_LINEAR, store_adapter

    loaded = load(DEFAULT_MODEL, device="cpu")
    store_adapter("smol", loaded.model, DEFAULT_MODEL, loaded.resolved, seed=1, r=8, lora_alpha=16,
                  target_modules=ALL_LINEAR)  # fmt: skip
    model = open_model(Settings(backend="llamacpp"))
    messages = [{"role": "user", "content": "Hello! How are you?"}]
    settings = GenerationSettings(max_new_tokens=8, stop_on_repeat=False)
    base = model.stream(messages, settings).text()
    model.set_adapter("smol")
    adapted = model.stream(messages, settings).text()
    assert model.adapter == "smol" and str(model.describe()["adapter_gguf"]).endswith("adapter.gguf")
    assert adapted != base
    model.set_adapter(None)
    assert model.stream(messages, settings).text() == base  # back to the base model, exactly
    model.close()
