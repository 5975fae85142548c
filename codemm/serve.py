"""`codemm serve`: codemm's pipeline behind an OpenAI-compatible HTTP API, for editors and agents.

Every answer goes through the same ``AskSession`` as `codemm ask` (retrieval, repo map, prompt
budget, grounded facts, citation checks): a client gets what `ask` prints, the grounded block and
then the model's text, with the checked citations in an extra ``citations`` field.

Flow control, in the order a request meets it, and why each part exists:
- ``Guard`` and ``BodyLimit`` (codemm.http_guards): the API key, the Host check, the body size.
- ``Gate`` (codemm.serve_gate): ``slots`` generations at once (1 for an in-process engine: one model, one forward pass
  at a time) and at most ``queue`` requests waiting for a slot. Beyond that a request is refused at
  once with 429 and Retry-After: an unbounded queue only turns overload into timeouts and memory.
- A worker thread per generation: a ``TokenStream`` blocks between pieces, so it is never iterated
  on the event loop; its pieces come back through an asyncio queue.
- Cancellation: a client that disconnects (polled while waiting, and for streams also the ASGI task
  Starlette cancels) or runs past ``timeout_s`` cancels its stream. Its slot is freed only once the
  worker has drained the stream, so a new generation never overlaps one still winding down.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from codemm import __version__
from codemm.ask import generation_settings, preamble
from codemm.errors import BadInputError, CodemmError, ModelServerError, RepoUnavailableError, error_from_oserror
from codemm.http_guards import BodyLimit, Guard, is_loopback
from codemm.models.stream import GenerationSettings, TokenStream
from codemm.openai_wire import (
    ApiError,
    ChatRequest,
    Completion,
    Conversation,
    adapter_of,
    error_body,
    model_ids,
    model_list,
    model_object,
    parse_chat_request,
    read_conversation,
    usage,
)
from codemm.openapi_doc import CHAT_DOC, HEALTH_DOC, MODEL_DOC, MODELS_DOC, document
from codemm.serve_gate import Gate, Ticket
from codemm.session import AskSession

log = logging.getLogger("codemm.serve")

POLL_S = 0.25
"""How often a waiting request looks whether its client is still there."""


BODY_ROOM = 2**20
"""What a request with an image at the size limit may still carry besides it (text, history)."""


def base64_size(size: int) -> int:
    return (size + 2) // 3 * 4


@dataclass
class ServeConfig:
    """How `codemm serve` admits, bounds and times requests."""

    api_key: str | None = field(default=None, repr=False)
    """Clients must send ``Authorization: Bearer KEY``; None: no key (loopback only)."""
    slots: int = 1
    """Generations at once. In-process engines take 1; a server behind the openai backend batches more."""
    queue: int = 16
    """Requests that may wait for a slot; one more is refused with 429."""
    timeout_s: float = 300.0
    """Per request, from its arrival (queueing included) to its last piece."""
    max_body_bytes: int = 8 * 2**20
    max_image_bytes: int = 5 * 2**20
    """Per decoded image_url (pixel counts and formats are checked by codemm.vision.images). Its
    base64 (4/3 as large) must fit in the body with room for the rest of the request."""
    allowed_origins: tuple[str, ...] = ()
    """Web pages (``https://app.example``) that may call the server from a browser; any other Origin
    but the server's own loopback one gets 403."""
    refresh_s: float = 2.0
    """At most one index refresh per this many seconds: edits show up without a walk per request."""

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise BadInputError("--slots must be at least 1")
        if self.queue < 0:
            raise BadInputError("--queue must not be negative")
        if self.timeout_s <= 0:
            raise BadInputError("--timeout must be more than 0 seconds")
        if self.max_body_bytes < 1 or self.max_image_bytes < 1 or self.refresh_s < 0:
            raise BadInputError("serve limits must be positive")
        if base64_size(self.max_image_bytes) + BODY_ROOM > self.max_body_bytes:
            raise BadInputError(
                f"an image of {self.max_image_bytes / 2**20:g} MiB is {base64_size(self.max_image_bytes) / 2**20:.1f} "
                f"MiB as base64, over the {self.max_body_bytes / 2**20:g} MiB body limit: lower the image limit"
            )


def read_api_key(env_var: str | None) -> str | None:
    """The key from the environment variable a user named (a key never goes on a command line,
    where `ps` and shell history would show it)."""
    import os

    if not env_var:
        return None
    key = os.environ.get(env_var, "").strip()
    if not key:
        raise BadInputError(f"--api-key-env names {env_var}, but that variable is empty or unset")
    return key


def check_bind(host: str, api_key: str | None) -> None:
    """Refuses to listen beyond this machine without an API key."""
    if api_key is None and not is_loopback(host):
        raise BadInputError(
            f"--host {host} is reachable from other machines: set a key with --api-key-env VAR "
            "(VAR holds the key clients send as Bearer), or bind to 127.0.0.1"
        )


class _ClientGone(Exception):
    pass


class _TimedOut(Exception):
    pass


# -- the thread side: one generation ----------------------------------------------------------


@dataclass(eq=False)  # hashed by identity: the server keeps a set of the jobs in flight
class Job:
    conversation: Conversation
    adapter: str | None
    generation: GenerationSettings
    cancelled: threading.Event = field(default_factory=threading.Event)
    stream: TokenStream | None = None

    def cancel(self) -> None:
        """From any thread; whichever of this and the worker's start comes second cancels the stream."""
        self.cancelled.set()
        stream = self.stream
        if stream is not None:
            stream.cancel()


class Pipeline:
    """The session every request shares. The index (one SQLite connection), the retriever cache and
    the model's adapter are shared state: a lock covers refreshing, preparing and finishing, while
    the generation itself runs outside it (slots > 1 overlap there)."""

    def __init__(self, session: AskSession, refresh_s: float) -> None:
        self.session, self.refresh_s = session, refresh_s
        self.lock = threading.Lock()
        self._refreshed = time.monotonic()  # the session's index was refreshed when it was opened

    def repo_problem(self) -> str | None:
        root = self.session.repo
        if root is not None and not root.is_dir():
            return f"the repository {root} is gone (deleted or moved while serving); restore it or restart codemm serve"
        return None

    def run(self, job: Job, emit: Callable[[str, Any], None]) -> None:
        """Sends ("ready", preamble), then ("piece", text)..., then ("done", AskResult); or ("error", exc)."""
        if job.cancelled.is_set():  # its client left between getting the slot and this thread starting
            emit("error", ApiError(499, "the client went away", "client_gone"))
            return
        try:
            with self.lock:
                session = self._session_for(job)
                request = session.request(job.conversation.question, job.conversation.history)
                prepared, stream = session.run(request, job.generation)
            job.stream = stream
            if job.cancelled.is_set():
                stream.cancel()
            emit("ready", preamble(prepared))
            pieces = []
            for piece in stream:  # after a cancel the engine ends the stream at its next step: drained here
                if not job.cancelled.is_set():
                    pieces.append(piece)
                    emit("piece", piece)
            if job.cancelled.is_set():
                return  # nobody waits for the result
            with self.lock:
                result = session.finish("".join(pieces), stream, prepared)
            emit("done", result)
        except Exception as exc:
            if job.stream is not None:
                job.stream.cancel()
            emit("error", exc)

    def _session_for(self, job: Job) -> AskSession:
        self._refresh()
        if self.session.model is None:  # created without a model: loaded by the first request
            try:
                self.session.load_model()
            except CodemmError as exc:  # the server's configuration, not the client's request: a 500
                raise CodemmError(f"the model did not load: {exc}") from None
        session = replace(self.session, images=[], adapter=self.session.model.adapter if self.session.model else None)
        if session.adapter != job.adapter:
            session.set_adapter(job.adapter)
        if job.conversation.images:
            with tempfile.TemporaryDirectory(prefix="codemm-serve-") as folder:
                for number, image in enumerate(job.conversation.images, 1):
                    path = Path(folder) / f"image-{number}{image.suffix}"
                    path.write_bytes(image.data)
                    try:
                        session.attach_image(path)  # pixels and OCR text are in memory once this returns
                    except BadInputError as exc:  # name the image as the request did, not by its temp file
                        raise BadInputError(str(exc).replace(str(path), image.label)) from None
        return session

    def _refresh(self) -> None:
        problem = self.repo_problem()
        if problem:
            raise RepoUnavailableError(problem)
        index = self.session.index
        if index is None or time.monotonic() - self._refreshed < self.refresh_s:
            return
        try:
            index.refresh()
        except (OSError, CodemmError) as exc:
            problem = self.repo_problem()  # deleted during the walk
            if problem:
                raise RepoUnavailableError(problem) from None
            if isinstance(exc, OSError):
                raise error_from_oserror(exc, "refreshing the index") from None
            raise
        self._refreshed = time.monotonic()


# -- the event-loop side: one request in flight -------------------------------------------------


class Flight:
    """A job running in the worker pool, seen from the event loop: its events, its deadline."""

    def __init__(self, job: Job, request: Request, deadline: float) -> None:
        self.job, self.request, self.deadline = job, request, deadline
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._looked = time.monotonic()

    def start(self, executor: ThreadPoolExecutor, pipeline: Pipeline, done: Callable[[float], None]) -> None:
        loop = asyncio.get_running_loop()

        def emit(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))
            except RuntimeError:  # the loop is closed: the server is shutting down
                self.job.cancel()

        started = time.monotonic()
        future = loop.run_in_executor(executor, pipeline.run, self.job, emit)
        future.add_done_callback(lambda _: done(time.monotonic() - started))

    async def next(self) -> tuple[str, Any]:
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                raise _TimedOut
            if now - self._looked >= POLL_S:  # pieces may come fast: look for a disconnect now and then
                self._looked = now
                if await self.request.is_disconnected():
                    raise _ClientGone
            try:
                return await asyncio.wait_for(self.events.get(), min(POLL_S, self.deadline - now))
            except TimeoutError:
                continue


def as_api_error(exc: BaseException) -> ApiError:
    """Every failure as OpenAI error JSON with a one-line message."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RepoUnavailableError):
        return ApiError(500, str(exc), "repo_unavailable", "server_error")
    if isinstance(exc, ModelServerError):
        return ApiError(502, str(exc), "upstream_error", "server_error")
    if isinstance(exc, BadInputError):
        return ApiError(400, str(exc), "invalid_request")
    if isinstance(exc, CodemmError):
        return ApiError(500, str(exc), "codemm_error", "server_error")
    log.error("internal error", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}: {exc}", "internal_error", "server_error")


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


class Server:
    """The endpoints' state: the pipeline, the gate, the worker pool and the jobs in flight."""

    def __init__(self, session: AskSession, config: ServeConfig) -> None:
        if config.slots > 1 and session.settings.backend != "openai":
            raise BadInputError(
                f"the {session.settings.backend} engine generates one answer at a time in this process: "
                "--slots above 1 needs --backend openai (a server that batches)"
            )
        self.config = config
        self.pipeline = Pipeline(session, config.refresh_s)
        self.gate = Gate(config.slots, config.queue)
        self.executor = ThreadPoolExecutor(config.slots, thread_name_prefix="codemm-serve")
        self.jobs: set[Job] = set()
        self.created = int(time.time())

    def adapters(self) -> list[str]:
        from codemm.adapters.store import list_adapters

        return [card.name for card in list_adapters()]

    def generation(self, chat: ChatRequest) -> GenerationSettings:
        """The client's sampling settings; the server's max_new_tokens is the ceiling."""
        base = generation_settings(self.pipeline.session.settings)
        wanted = chat.max_completion_tokens or chat.max_tokens
        return replace(
            base,
            max_new_tokens=min(wanted, base.max_new_tokens) if wanted else base.max_new_tokens,
            temperature=base.temperature if chat.temperature is None else chat.temperature,
            top_p=base.top_p if chat.top_p is None else chat.top_p,
            seed=base.seed if chat.seed is None else chat.seed,
        )

    async def chat(self, request: Request) -> Response:
        chat = parse_chat_request(await request.body())
        adapter = adapter_of(chat.model, self.adapters())
        job = Job(read_conversation(chat.messages, self.config.max_image_bytes), adapter, self.generation(chat))
        ticket = self.gate.admit()
        if ticket is None:
            wait = self.gate.retry_after()
            raise ApiError(429, f"the server is busy ({self.gate.slots} generating, {self.gate.queue} waiting); "
                           f"retry in {wait} s", "server_busy", "rate_limit_error", retry_after=wait)  # fmt: skip
        flight = Flight(job, request, time.monotonic() + self.config.timeout_s)
        started = handed_off = False
        try:
            await self._wait_for_slot(ticket, flight)

            def done(seconds: float) -> None:
                ticket.release(seconds)
                self.jobs.discard(job)

            flight.start(self.executor, self.pipeline, done)
            started = True
            self.jobs.add(job)
            kind, value = await flight.next()
            if kind == "error":
                raise as_api_error(value)
            completion = Completion(chat.model)
            if chat.stream:
                include_usage = chat.stream_options is not None and chat.stream_options.include_usage
                events = self._events(flight, completion, value, include_usage)
                handed_off = True
                return StreamingResponse(events, media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
            return JSONResponse(await self._collect(flight, completion))
        except _ClientGone:
            return Response(status_code=499)  # nobody reads it; the access log says what happened
        except _TimedOut:
            raise ApiError(504, f"no answer within {self.config.timeout_s:g} s (the server's --timeout)", "timeout",
                           "timeout_error") from None  # fmt: skip
        finally:
            if not handed_off:
                job.cancel()  # a no-op once the job is done
            if not started:
                ticket.release()

    async def _wait_for_slot(self, ticket: Ticket, flight: Flight) -> None:
        acquiring = asyncio.ensure_future(ticket.acquire())
        try:
            while True:
                done, _ = await asyncio.wait({acquiring}, timeout=POLL_S)
                if done:
                    acquiring.result()
                    return
                if await flight.request.is_disconnected():
                    raise _ClientGone
                if time.monotonic() >= flight.deadline:
                    wait = self.gate.retry_after()
                    raise ApiError(503, f"no generation slot came free within {self.config.timeout_s:g} s; "
                                   f"retry in {wait} s", "server_busy", "server_error", retry_after=wait)  # fmt: skip
        finally:
            if not acquiring.done():
                acquiring.cancel()

    async def _collect(self, flight: Flight, completion: Completion) -> dict[str, Any]:
        while True:
            kind, value = await flight.next()
            if kind == "error":
                raise as_api_error(value)
            if kind == "done":
                stats = value.stream.stats
                citations = [c.as_json() for c in value.citations]
                used = usage(stats.prompt_tokens, stats.new_tokens)
                return completion.response(value.answer, stats.stop_reason, used, citations)

    async def _events(
        self, flight: Flight, completion: Completion, first: str, include_usage: bool
    ) -> AsyncIterator[str]:
        """The SSE stream: the role and the preamble, each piece, a last chunk with the finish reason
        and the citations, then [DONE]. A failure after the headers is sent as an error event."""
        try:
            yield _sse(completion.chunk({"role": "assistant", "content": first}))
            while True:
                kind, value = await flight.next()
                if kind == "piece":
                    yield _sse(completion.chunk({"content": value}))
                elif kind == "done":
                    stats = value.stream.stats
                    citations = [c.as_json() for c in value.citations]
                    yield _sse(completion.chunk({}, stats.stop_reason, citations=citations))
                    if include_usage:
                        yield _sse(completion.usage_chunk(usage(stats.prompt_tokens, stats.new_tokens)))
                    yield "data: [DONE]\n\n"
                    return
                else:
                    yield _sse(as_api_error(value).body())
                    return
        except _ClientGone:
            return
        except _TimedOut:
            message = f"the answer took longer than {self.config.timeout_s:g} s (the server's --timeout)"
            yield _sse(error_body(message, "timeout_error", "timeout"))
        finally:  # also when Starlette cancels this task because the client went away
            flight.job.cancel()

    def health(self) -> tuple[int, dict[str, Any]]:
        problem = self.pipeline.repo_problem()
        body = {"status": "repo_unavailable" if problem else "ok", "generating": self.gate.running,
                "queued": self.gate.admitted - self.gate.running,
                "model_loaded": self.pipeline.session.model is not None}  # fmt: skip
        if problem:
            body["message"] = problem
        return (503 if problem else 200), body

    def shut_down(self) -> None:
        for job in list(self.jobs):
            job.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)


def create_app(session: AskSession, config: ServeConfig | None = None, repo: Path | None = None) -> FastAPI:
    """The HTTP app over ``session``, whose model is loaded by the first request when it is not
    loaded yet. ``repo`` (default: ``session.repo``) is the repository of the MCP tools at /mcp:
    named here, so that /mcp does not depend on whether the caller opened the session's index
    before or after building the app. The caller keeps the session and closes it after the server
    stops."""
    from codemm.mcp_server import build_mcp_server
    from codemm.tool_routes import add_tool_routes
    from codemm.tools import RepoTools

    config = config or ServeConfig()
    server = Server(session, config)
    # The MCP tools over the same repository. Their `ask` keeps its own session (and loads its own
    # model on first use): sharing this one would let an MCP client switch the adapter under /v1.
    repo = repo if repo is not None else session.repo
    tools = RepoTools(repo, session.settings) if repo is not None else None
    mcp = build_mcp_server(tools) if tools is not None else None
    # Stateless: each MCP request stands alone, so a restarted server or a second client needs no
    # session bookkeeping (the tools hold no per-client state).
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True) if mcp else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if mcp is None:
            yield
        else:
            async with mcp.session_manager.run():  # the SDK's streamable-HTTP sessions live here
                yield
        server.shut_down()
        if tools is not None:
            tools.close()

    # The schema at /openapi.json sits behind the same guards as the rest; no docs pages (they load
    # scripts from a CDN).
    app = FastAPI(title="codemm", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    document(app, lambda: model_ids(server.adapters()))
    app.state.server = server

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status, headers=exc.headers())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        return JSONResponse(error_body(str(exc.detail), "invalid_request_error", code), exc.status_code)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        error = as_api_error(exc)
        return JSONResponse(error.body(), error.status)

    @app.get("/health", **HEALTH_DOC)
    async def health() -> JSONResponse:
        status, body = server.health()
        return JSONResponse(body, status)

    @app.get("/v1/models", **MODELS_DOC)
    async def models() -> dict[str, Any]:
        return model_list(server.adapters(), server.created)

    @app.get("/v1/models/{model_id:path}", **MODEL_DOC)
    async def model(model_id: str) -> dict[str, Any]:
        if model_id not in model_ids(server.adapters()):
            adapter_of(model_id, server.adapters())  # raises the 404
        return model_object(model_id, server.created)

    @app.post("/v1/chat/completions", **CHAT_DOC)
    async def chat_completions(request: Request) -> Response:
        return await server.chat(request)

    # The MCP tools over streamable HTTP at /mcp, behind the same Guard (API key, Host check) and
    # BodyLimit as /v1: its route joins this app's routes; its session manager runs in `lifespan`.
    if mcp_app is not None:
        app.router.routes.extend(mcp_app.routes)
    if tools is not None:  # the same tools as plain HTTP: GET /v1/tools, POST /v1/tools/{name}
        add_tool_routes(app, tools)

    # Added last = outermost: the key is checked before a body is read.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(Guard, api_key=config.api_key, allowed_origins=config.allowed_origins)
    return app


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is a one-line error (uvicorn would log
    it and exit the process)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        hint = " (another server is on that port: pick another with --port)" if exc.errno == errno.EADDRINUSE else ""
        raise BadInputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.set_inheritable(True)
    return sock


def serve_forever(app: FastAPI, sock: socket.socket) -> None:
    """Runs uvicorn on ``sock`` until Ctrl-C or SIGTERM; open streams get 10 s to finish."""
    import uvicorn

    config = uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=10)
    uvicorn.Server(config).run(sockets=[sock])
