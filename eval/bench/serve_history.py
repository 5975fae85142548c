"""`codemm serve` with a long chat history: a 1001-turn request (the issue's ~38 KB: 1000 earlier
user/assistant turns, then the question) against a 1-turn one, on the real model.

    python -m codemm.eval.bench.serve_history [--model smollm2-135m-instruct] [--turns 1001] [--no-serve]

Two figures per size. "prepare": retrieval plus fitting the prompt into the window (where the
history is fitted; it re-tokenized the whole prompt once per kept turn), timed in process, best of
3. "served": the whole request through `codemm serve` asking for 2 tokens, which adds the prefill
of the final prompt (proportional to its tokens, not to the work of fitting). Printed beside them:
one count of the final prompt's tokens, what tokenizing the prompt once costs. Target: the 1001-turn
request costs < 3 s plus the generation.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from codemm.ask import generation_settings
from codemm.config import Settings
from codemm.repo.index import RepoIndex
from codemm.serve import create_app
from codemm.session import AskSession

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"
QUESTION = "Where is parse_due_date defined?"


def conversation(turns: int) -> list[dict[str, str]]:
    """``turns - 1`` alternating earlier turns of ~38 bytes each, then the question."""
    earlier = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}: what about the due dates?"}
               for i in range(turns - 1)]  # fmt: skip
    return [*earlier, {"role": "user", "content": QUESTION}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--turns", type=int, default=1001)
    parser.add_argument("--no-serve", action="store_true", help="Only the in-process prepare figures.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        index = RepoIndex(SAMPLE, db_path=Path(folder) / "index.sqlite")
        index.refresh()
        session = AskSession(Settings(model=args.model), repo=index.root, index=index)
        try:
            session.load_model()
            assert session.model is not None
            settings = generation_settings(session.settings)
            for turns in (1, args.turns):
                messages = conversation(turns)
                best = float("inf")
                for _ in range(3):
                    started = time.perf_counter()
                    prepared = session.prepare(session.request(QUESTION, messages[:-1]), settings)
                    best = min(best, time.perf_counter() - started)
                prompt = prepared.prompt
                started = time.perf_counter()
                session.model.count_tokens(prompt.messages)
                count_s = time.perf_counter() - started
                size = sum(len(m["content"]) for m in messages) / 1000
                print(f"{turns:>5} turns ({size:.1f} KB) prepare: {best:.3f} s; final prompt {prompt.tokens} tokens, "
                      f"{len(prompt.messages) - 2} history turns kept; one count of it: {count_s:.3f} s")  # fmt: skip
            if not args.no_serve:
                for turns, seconds, tokens in served(session, (1, args.turns)):
                    print(
                        f"{turns:>5} turns served: {seconds:.2f} s for 2 tokens (prompt {tokens} tokens, "
                        "its prefill included)"
                    )
        finally:
            session.close()


def served(session: AskSession, sizes: tuple[int, ...]) -> list[tuple[int, float, int]]:
    """Each size once through uvicorn on a loopback port, after a warm-up request."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/chat/completions"
    rows = []
    try:
        for turns in (1, *sizes):
            body = {"model": "codemm", "messages": conversation(turns), "max_tokens": 2}
            started = time.perf_counter()
            response = httpx.post(url, json=body, timeout=600)
            seconds = time.perf_counter() - started
            response.raise_for_status()
            rows.append((turns, seconds, response.json()["usage"]["prompt_tokens"]))
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    return rows[1:]


if __name__ == "__main__":
    main()
