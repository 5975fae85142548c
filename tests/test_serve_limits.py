"""`codemm serve` against hostile or careless requests: every numeric parameter out of range is a
400 in OpenAI error JSON (never a 500, never a 200 then an error event), a web page on another origin
cannot make the server generate, bodies must be JSON, and the per-image limit is reachable."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from codemm.config import Settings
from codemm.errors import BadInputError
from codemm.repo.index import RepoIndex
from codemm.serve import ServeConfig, create_app
from codemm.session import AskSession
from tests.models.fake_model import FakeModel
from tests.test_serve import SAMPLE, body, one_line_error, running

Start = Callable[..., str]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RepoIndex]:
    index = RepoIndex(SAMPLE, db_path=tmp_path_factory.mktemp("serve-limits") / "index.sqlite")
    index.refresh()
    yield index
    index.close()


@pytest.fixture
def start(index: RepoIndex) -> Iterator[Start]:
    """start(fake, config) runs codemm serve over the sample repository (its /mcp included)."""
    with ExitStack() as stack:

        def run(fake: FakeModel, config: ServeConfig | None = None) -> str:
            session = AskSession(Settings(), model=fake, repo=index.root, index=index)
            return stack.enter_context(running(create_app(session, config)))

        yield run


def post(url: str, data: dict[str, Any] | bytes, **headers: str) -> httpx.Response:
    content = data if isinstance(data, bytes) else json.dumps(data).encode()
    return httpx.post(url + "/v1/chat/completions", content=content, timeout=30,
                      headers={"Content-Type": "application/json", **headers})  # fmt: skip


OUT_OF_RANGE = [
    ("seed", 1180591620717411303424),  # the issue's: above int64
    ("seed", -(2**63) - 1),
    ("temperature", 1e-45),  # the issue's: inf/nan probabilities
    ("temperature", -0.5),
    ("temperature", 2.5),
    ("top_p", 0),
    ("top_p", 1.5),
    ("max_tokens", 0),
    ("max_tokens", 2**63),
    ("max_completion_tokens", -1),
    ("n", 0),
    ("n", 2**70),
    ("presence_penalty", 2.5),
    ("frequency_penalty", -3),
    ("top_logprobs", 21),
    ("logit_bias", {"50256": 101}),
]


@pytest.mark.parametrize("stream", [False, True])
def test_every_numeric_parameter_out_of_range_is_a_400(start: Start, stream: bool) -> None:
    fake = FakeModel()
    url = start(fake)
    for name, value in OUT_OF_RANGE:
        response = post(url, body(stream=stream, **{name: value}))
        assert response.status_code == 400, (name, value, response.text)
        error = one_line_error(response)
        assert error["type"] == "invalid_request_error" and error["param"] == name, error
        assert name in error["message"]
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):  # not JSON numbers, or past a double
        raw = json.dumps(body(stream=stream, temperature=0.5)).encode().replace(b"0.5", literal)
        response = post(url, raw)
        assert response.status_code == 400, (literal, response.text)
    assert fake.prompts == []  # nothing out of range reached the model


def test_the_edges_of_each_range_are_answered(start: Start) -> None:
    url = start(FakeModel())
    for name, value in [("seed", 2**63 - 1), ("seed", -(2**63)), ("temperature", 0), ("temperature", 2),
                        ("top_p", 1), ("max_tokens", 1), ("presence_penalty", -2), ("frequency_penalty", 2),
                        ("top_logprobs", 0), ("logit_bias", {"1": -100}), ("n", 1)]:  # fmt: skip
        response = post(url, body(**{name: value}))
        assert response.status_code == 200, (name, value, response.text)


def test_a_cross_origin_text_plain_post_cannot_make_the_server_generate(start: Start) -> None:
    """The issue's request: a CORS "simple" request any web page can send to a loopback server."""
    fake = FakeModel()
    url = start(fake)
    data = json.dumps(body()).encode()
    evil = post(url, data, **{"Content-Type": "text/plain", "Origin": "http://evil.example"})
    assert evil.status_code == 403 and one_line_error(evil)["code"] == "origin_not_allowed"
    assert post(url, data, Origin="http://evil.example").status_code == 403  # as JSON too (after a preflight)
    assert post(url, data, Origin="null").status_code == 403  # sandboxed frames and file:// pages
    assert httpx.get(url + "/v1/models", headers={"Origin": "http://evil.example"}).status_code == 403
    mcp = httpx.post(url + "/mcp", content=b"{}", headers={"Origin": "http://evil.example",
                                                           "Content-Type": "application/json"})  # fmt: skip
    assert mcp.status_code == 403
    assert fake.prompts == []
    plain = post(url, data, **{"Content-Type": "text/plain"})  # no Origin: not a browser, but not JSON either
    assert plain.status_code == 415 and one_line_error(plain)["code"] == "unsupported_media_type"
    form = post(url, data, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    assert post(url, data, **{"Content-Type": "application/json; charset=utf-8"}).status_code == 200
    assert post(url, data, Origin=url).status_code == 200  # the server's own loopback origin
    assert fake.prompts and len(fake.prompts) == 2


def test_allowed_origins_let_a_named_web_app_in(start: Start) -> None:
    url = start(FakeModel(), ServeConfig(allowed_origins=("https://app.example",)))
    assert post(url, body(), Origin="https://app.example").status_code == 200
    assert post(url, body(), Origin="https://other.example").status_code == 403


def test_the_per_image_limit_is_reached_before_the_body_limit(start: Start) -> None:
    """With the default limits an image just over its own limit gets the image's 413, not the body's."""
    config = ServeConfig()
    url = start(FakeModel(), config)
    image = base64.b64encode(b"\0" * (config.max_image_bytes + 1024)).decode()
    content = [{"type": "text", "text": "What does this show?"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64," + image}}]  # fmt: skip
    response = post(url, {"model": "codemm", "messages": [{"role": "user", "content": content}]})
    assert response.status_code == 413, response.text
    error = one_line_error(response)
    assert error["code"] == "image_too_large" and "image_url 1" in error["message"]


def test_limits_that_could_never_trigger_are_refused() -> None:
    with pytest.raises(BadInputError, match="image"):
        ServeConfig(max_image_bytes=6 * 2**20)  # its base64 is over the 8 MiB body limit
