"""The same model and prompt on every engine, through codemm's seam, against raw llama.cpp.

Rows: transformers (the GGUF dequantized to fp32, codemm's default), llamacpp (llama.cpp in process
through the seam), openai (llama.cpp's OpenAI-compatible server, llama-cpp-python[server], through
the seam over HTTP on 127.0.0.1), and raw llama.cpp (``llama_cpp.Llama`` with no codemm around it),
the reference the ratios are taken against. Greedy, loop guard off, median of ``--runs``.

    python -m codemm.eval.bench.engines [--tokens 128] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from codemm.config import Settings
from codemm.models.factory import open_model
from codemm.models.stream import GenerationSettings

PROMPT = "Write a Python function that parses an ISO date string and returns a datetime.date, with a docstring."


def _measure(stream_once: Any, runs: int) -> dict[str, float]:
    """stream_once() -> (ttft_s, new_tokens, total_s); medians over runs after one warm-up."""
    stream_once()
    samples = [stream_once() for _ in range(runs)]
    ttft = statistics.median(s[0] for s in samples)
    decode = statistics.median([(s[1] - 1) / (s[2] - s[0]) for s in samples if s[1] > 1 and s[2] > s[0]])
    return {"ttft_s": round(ttft, 3), "decode_tok_s": round(decode, 1), "tokens": samples[-1][1]}


def through_seam(settings: Settings, tokens: int, runs: int) -> dict[str, float]:
    model = open_model(settings)
    messages = [{"role": "user", "content": PROMPT}]
    generation = GenerationSettings(max_new_tokens=tokens, stop_on_repeat=False, repetition_penalty=1.0)

    def once() -> tuple[float, int, float]:
        stream = model.stream(messages, generation)
        stream.text()
        return stream.stats.ttft_s, stream.stats.new_tokens, stream.stats.total_s

    try:
        return _measure(once, runs)
    finally:
        model.close()


def raw_llama_cpp(path: str, tokens: int, runs: int, threads: int) -> dict[str, float]:
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, verbose=False, seed=0)

    def once() -> tuple[float, int, float]:
        started = time.perf_counter()
        first, count = 0.0, 0
        chunks: Any = llm.create_chat_completion([{"role": "user", "content": PROMPT}], max_tokens=tokens,
                                                 temperature=0.0, top_k=1, repeat_penalty=1.0, stream=True)  # fmt: skip
        for chunk in chunks:
            if chunk["choices"][0]["delta"].get("content"):
                count += 1
                first = first or time.perf_counter() - started
        return first, count, time.perf_counter() - started

    return _measure(once, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from codemm.models.registry import DEFAULT_MODEL, REGISTRY

    path = str(REGISTRY[DEFAULT_MODEL].locate())
    rows = {"raw llama.cpp": raw_llama_cpp(path, args.tokens, args.runs, args.threads)}
    rows["llamacpp (seam)"] = through_seam(Settings(backend="llamacpp"), args.tokens, args.runs)
    with socket.socket() as sock:  # a free loopback port for the server
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", path, "--host", "127.0.0.1",
                               "--port", str(port), "--n_ctx", "2048", "--n_threads", str(args.threads)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(5)
        api = f"http://127.0.0.1:{port}/v1"
        rows["openai -> llama.cpp server"] = through_seam(
            Settings(backend="openai", api_base=api), args.tokens, args.runs
        )
    finally:
        server.terminate()
        server.wait()
    rows["transformers fp32 (default)"] = through_seam(Settings(device="cpu"), args.tokens, args.runs)
    reference = rows["raw llama.cpp"]["decode_tok_s"]
    print(f"{'engine':<30} {'ttft s':>8} {'decode tok/s':>13} {'vs raw llama.cpp':>17}")
    for name, row in rows.items():
        print(f"{name:<30} {row['ttft_s']:>8} {row['decode_tok_s']:>13} {row['decode_tok_s'] / reference:>16.2f}x")


if __name__ == "__main__":
    main()
