"""uvicorn's httptools protocol with limits on request heads and deadlines on slow clients.

uvicorn bounds neither the size nor the number of request headers under httptools (its
`h11_max_incomplete_event_size` applies to h11 only), closes an idle connection only after
a first response (`timeout_keep_alive`), and sets no deadline for a head or a body sent a
byte at a time. One client could so hold memory with a huge header, or a connection
slot forever with one that never finishes. This protocol, chosen in `__main__`, adds:

- a head limit: the request line and headers over `http_max_header_bytes` bytes, or more
  than `http_max_headers` headers, answer `431 headers_too_large` / `too_many_headers`.
  Bytes are counted as they arrive, so a 50 MiB header is refused at the limit, not
  after it has been buffered;
- a head deadline: a connection that has not completed a request head within
  `http_header_timeout_s` of opening (or of starting the head, after a keep-alive
  response) is closed: with `408 header_timeout` if it began one (header drip), silently
  if it sent nothing (idle: a client could take an unasked 408 for its next answer);
- a body deadline: a body not complete within `http_body_timeout_s` of its head gets
  `408 body_timeout` if no answer has started, and the connection is closed either way;
  the app sees a disconnect and acknowledges nothing.

- a request on a connection past `http_max_connections` open ones (or with as many
  requests in flight) gets `503 too_many_connections` with Retry-After, where uvicorn's
  `limit_concurrency` would answer a plain-text 503 (it is set one higher, as a backstop).

Each refusal is a JSON error body (`{"error", "detail"}`, as every other error) with
`Connection: close`, and the connection is closed. Limits are settings (`MARQUEE_HTTP_*`,
docs/api.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from marquee.settings import get_settings

HEADER_OVERHEAD = 4
"""`: ` and CRLF around each header, counted in its size."""


class HeadRefused(Exception):
    """Raised in a parser callback to stop parsing; the refusal itself is kept aside."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.max_head_bytes = settings.http_max_header_bytes
        self.max_headers = settings.http_max_headers
        self.header_timeout_s = settings.http_header_timeout_s
        self.body_timeout_s = settings.http_body_timeout_s
        self.max_connections = settings.http_max_connections
        self.in_head = True
        self.head_begun = False
        self.head_bytes = 0
        self.head_deadline: asyncio.TimerHandle | None = None
        self.body_deadline: asyncio.TimerHandle | None = None
        self.refusal: tuple[int, str, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadlines()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refusal is not None:
            return
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.refusal is None and self.in_head and self.head_bytes > self.max_head_bytes:
            self._refuse(431, "headers_too_large", f"request head over {self.max_head_bytes} bytes")

    def send_400_response(self, msg: str) -> None:
        """A parser error; or a refusal raised from a callback, which the parser reports so."""
        if self.refusal is not None:
            self._send_refusal(*self.refusal)
            return
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_begun = True
        if self.head_deadline is None:
            self._arm_head_deadline()

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if len(self.headers) > self.max_headers:
            self.refusal = (431, "too_many_headers", f"over {self.max_headers} headers")
            raise HeadRefused

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(
            len(name) + len(value) + HEADER_OVERHEAD for name, value in self.headers
        )
        if size > self.max_head_bytes:
            self.refusal = (
                431,
                "headers_too_large",
                f"request head over {self.max_head_bytes} bytes",
            )
            raise HeadRefused
        if len(self.connections) > self.max_connections or len(self.tasks) >= self.max_connections:
            self.refusal = (503, "too_many_connections", "the server is at its connection limit")
            raise HeadRefused
        self.in_head = False
        self.head_begun = False
        self.head_bytes = 0
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None
        self.body_deadline = self.loop.call_later(self.body_timeout_s, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self.body_deadline is not None:
            self.body_deadline.cancel()
            self.body_deadline = None
        super().on_message_complete()

    def _arm_head_deadline(self) -> None:
        self.head_deadline = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _cancel_deadlines(self) -> None:
        for handle in (self.head_deadline, self.body_deadline):
            if handle is not None:
                handle.cancel()
        self.head_deadline = self.body_deadline = None

    def _head_timed_out(self) -> None:
        self.head_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_deadline()  # a pipelined head waits for the answer before it
            return
        if not self.head_begun:
            # Nothing sent: closed silently, as uvicorn closes an idle keep-alive connection,
            # since a client could take an unasked 408 for the answer to its next request.
            self.refusal = (408, "header_timeout", "idle")
            self.transport.close()
            return
        self._refuse(408, "header_timeout", f"no request head within {self.header_timeout_s} s")

    def _body_timed_out(self) -> None:
        self.body_deadline = None
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()
            return
        if cycle is not None:
            cycle.disconnected = True  # the app's answer, if any, is dropped
        self._refuse(
            408, "body_timeout", f"request body not complete within {self.body_timeout_s} s"
        )

    def _refuse(self, status: int, code: str, detail: str) -> None:
        self.refusal = (status, code, detail)
        self._send_refusal(status, code, detail)

    def _send_refusal(self, status: int, code: str, detail: str) -> None:
        if self.transport.is_closing():
            return
        # uvicorn has logged "Invalid HTTP request received." for a refusal raised while
        # parsing; this line names the refusal (no client address, as in every log line).
        self.logger.warning("connection refused: %d %s", status, code)
        body = msgspec.json.encode({"error": code, "detail": detail})
        head = [STATUS_LINE[status]]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        if status == 503:
            head.append(b"retry-after: 1\r\n")
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
