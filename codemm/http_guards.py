"""ASGI middleware between the network and `codemm serve`: who may ask, and how much they may send.

Plain ASGI classes rather than FastAPI dependencies, so that they also cover whatever else is
mounted on the app (the MCP endpoint at /mcp) and run before a request body is read.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codemm.openai_wire import error_body

OPEN_PATHS = ("/health",)
"""Paths answered without an API key: a load balancer's health check carries none."""


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (a host name, an address, or a Host header with a port)."""
    if host.startswith("["):  # [::1]:8000
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:  # 127.0.0.1:8000, localhost:8000
        host = host.split(":")[0]
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str, code: str,
                  headers: dict[str, str] | None = None) -> None:  # fmt: skip
    response = JSONResponse(error_body(message, "invalid_request_error", code), status, headers=headers)
    await response(scope, receive, send)


class Guard:
    """Who may ask, checked before anything else reads the request.

    - Origin: a browser names the page that made a request. Any page may send a loopback server a
      CORS "simple" request (a text/plain POST needs no preflight), so a request whose Origin is not
      the server's own loopback origin, nor in ``allowed_origins``, is refused with 403. Clients
      that are not browsers send no Origin.
    - With an API key: every path but /health needs ``Authorization: Bearer KEY`` (401 otherwise).
    - Without one the server is bound to loopback, and a request must also name a loopback host: a
      web page whose domain was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name, and is
      refused."""

    def __init__(self, app: ASGIApp, api_key: str | None, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app, self.api_key = app, api_key
        self.allowed_origins = {origin.rstrip("/").lower() for origin in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, host):
            message = (f"Origin '{origin}' may not call this server: a web page can only use codemm serve when "
                       "the server allows its origin")  # fmt: skip
            await _refuse(scope, receive, send, 403, message, "origin_not_allowed")
            return
        if self.api_key is None:
            if not is_loopback(host):
                message = (f"Host '{host}' is not this machine: without an API key codemm serve answers only "
                           "requests to localhost")  # fmt: skip
                await _refuse(scope, receive, send, 400, message, "invalid_host")
                return
        elif scope["path"] not in OPEN_PATHS and not self._authorized(headers.get("authorization", "")):
            await _refuse(scope, receive, send, 401, "missing or wrong API key: send Authorization: Bearer KEY",
                          "invalid_api_key", {"WWW-Authenticate": "Bearer"})  # fmt: skip
            return
        await self.app(scope, receive, send)

    def _origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        own = origin in (f"http://{host.lower()}", f"https://{host.lower()}")
        return own and is_loopback(host)

    def _authorized(self, header: str) -> bool:
        assert self.api_key is not None
        scheme, _, token = header.partition(" ")
        # compare_digest: the time taken must not tell how much of a guessed key was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())


JSON_TYPES = ("application/json",)
BODY_METHODS = ("POST", "PUT", "PATCH")
"""Requests whose body is read as a request (a DELETE, such as an MCP client ending its session, has none)."""


class BodyLimit:
    """What a client may send: a JSON body (415 for any other Content-Type, so a form or a text/plain
    "simple" request is never read as a request) of up to ``max_bytes`` (413 beyond).

    The rest of a too-large body is still read (up to ``DRAIN_FACTOR`` times the limit) before the
    answer, so that a client still sending its body reads the 413 instead of a reset connection."""

    DRAIN_FACTOR = 4

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if scope["method"] in BODY_METHODS and media_type not in JSON_TYPES:
            shown = f"'{media_type}'" if media_type else "no Content-Type"
            await _refuse(scope, receive, send, 415, f"the request body must be JSON (Content-Type: "
                          f"application/json), not {shown}", "unsupported_media_type")  # fmt: skip
            return
        declared = headers.get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more and size <= self.max_bytes * self.DRAIN_FACTOR:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its request: nobody to answer
            body = message.get("body", b"")
            size += len(body)
            more = message.get("more_body", False)
            if size > self.max_bytes:
                too_large, chunks = True, []
            elif not too_large:
                chunks.append(body)
        if too_large:
            limit = f"{self.max_bytes / 2**20:.0f} MiB"
            await _refuse(scope, receive, send, 413, f"the request body is larger than {limit}", "request_too_large")
            return
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, then the connection's own messages (a client disconnecting)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return replayed
