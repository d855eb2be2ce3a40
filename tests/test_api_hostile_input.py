"""Hostile input to the real API process: a 4xx or a per-event rejection, never a 5xx, the
valid events of a batch accepted or the batch clearly refused, and no raw viewer id on disk.

Bodies: invalid UTF-8, JSON nested past the parser's limit, viewer ids under an escaped
key or with an array, object or number as value, content types the docs do not list.
Connections (raw sockets): idle and header-drip connections, a body sent too slowly, a huge
head, too many headers and too many connections each get their JSON error and are closed.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from marquee.eventlog.segments import OPEN_SUFFIX, SEALED_SUFFIX
from tests.support.api import WRITE_KEY, LaunchedApi, event, launch_api, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T = TypeVar("T")
ADMIN_TOKEN = "hostile-admin-token"
HEADERS = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApi]:
    server = launch_api(
        tmp_path_factory.mktemp("hostile") / "data", {"MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN}
    )
    try:
        yield server
    finally:
        stop(server)


def raw_id() -> str:
    return f"RAWID-{uuid.uuid4().hex}"


def post(api: LaunchedApi, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    response = httpx.post(f"{api.url}/v1/events", content=body, headers=headers or HEADERS)
    assert response.status_code < 500, response.text
    assert set(response.json()) >= ({"accepted"} if response.status_code == 202 else {"error"})
    return response


def settled(read: Callable[[], T]) -> T:
    """`read()` again when a segment was sealed (renamed) while it was being read."""
    for _ in range(20):
        try:
            return read()
        except FileNotFoundError:
            time.sleep(0.05)
    return read()


def on_disk(data_dir: Path, *needles: str) -> list[tuple[str, str]]:
    """(needle, file) for every needle found in any file under the data directory."""

    def read() -> list[tuple[str, str]]:
        found = []
        for path in data_dir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [(needle, str(path)) for needle in needles if needle.encode() in data]
        return found

    return settled(read)


def segment_lines(directory: Path) -> list[bytes]:
    def read() -> list[bytes]:
        return [
            line
            for path in sorted(directory.iterdir())
            if path.suffix in (OPEN_SUFFIX, SEALED_SUFFIX)
            for line in path.read_bytes().splitlines()
        ]

    return settled(read)


def logged_event_ids(data_dir: Path) -> set[str]:
    return {json.loads(line)["event_id"] for line in segment_lines(data_dir / "log")}


def quarantined(data_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in segment_lines(data_dir / "quarantine")]


def encoded(record: dict[str, object]) -> bytes:
    return json.dumps(record).encode()


def test_invalid_utf8_rejects_only_its_event_and_keeps_no_raw_id(api: LaunchedApi) -> None:
    good, bad_viewer, bad_field = raw_id(), raw_id(), raw_id()
    valid = event(viewer_id=good)
    in_viewer_id = encoded(event(viewer_id=bad_viewer)).replace(
        bad_viewer.encode(), bad_viewer.encode() + b"\xff\xfe"
    )
    in_a_field = encoded(event(viewer_id=bad_field, device="x")).replace(b'"x"', b'"\xc3("')
    for body in (
        b'{"events":[' + encoded(valid) + b"," + in_viewer_id + b"," + in_a_field + b"]}",
        b"[" + encoded(valid | {"event_id": str(uuid.uuid4())}) + b"," + in_viewer_id + b"]",
    ):
        answer = post(api, body).json()
        assert answer["accepted"] == 1
        assert {item["reason"] for item in answer["rejected"]} == {"malformed_event"}
    ndjson = encoded(valid | {"event_id": str(uuid.uuid4())}) + b"\n" + in_a_field + b"\n"
    answer = post(api, ndjson, HEADERS | {"Content-Type": "application/x-ndjson"}).json()
    assert answer == {"accepted": 1, "rejected": [{"index": 1, "reason": "malformed_event"}]}
    # in the envelope, outside the events: the body is refused as a whole
    envelope = b'{"sent_at":"\xff","events":[' + encoded(event(viewer_id=good)) + b"]}"
    refused = post(api, envelope)
    assert (refused.status_code, refused.json()["error"]) == (400, "malformed_body")
    time.sleep(0.1)
    assert valid["event_id"] in logged_event_ids(api.data_dir)
    reasons = {record["reason"] for record in quarantined(api.data_dir)}
    assert {"malformed_event", "malformed_body"} <= reasons
    assert on_disk(api.data_dir, good, bad_viewer, bad_field) == []


def test_an_event_nested_too_deep_is_rejected_alone_and_keeps_no_raw_id(
    api: LaunchedApi,
) -> None:
    viewers = [raw_id() for _ in range(3)]
    deep = b"[" * 1000 + b"]" * 1000
    deep_event = encoded(event(viewer_id=viewers[0]))[:-1] + b',"x":' + deep + b"}"
    valid = [event(viewer_id=viewers[1]) for _ in range(4)]
    rejected_second = [{"index": 1, "reason": "malformed_event"}]
    json_types = HEADERS | {"Content-Type": "application/json"}
    ndjson = HEADERS | {"Content-Type": "application/x-ndjson"}
    for body, headers in (
        (b'{"events":[' + encoded(valid[0]) + b"," + deep_event + b"]}", json_types),
        (b"[" + encoded(valid[1]) + b"," + deep + b"]", json_types),
        (encoded(valid[2]) + b"\n" + deep_event, ndjson),
    ):
        assert post(api, body, headers).json() == {"accepted": 1, "rejected": rejected_second}
    padded = b'{"padding":' + deep + b',"events":[' + encoded(valid[3]) + b"]}"
    assert post(api, padded).json() == {"accepted": 1, "rejected": []}  # unknown keys ignored
    # 8 MiB of brackets from a small gzip body: split without recursion, then over the
    # per-event limit, quickly
    bomb = gzip.compress(b"[" * (4 * 1024 * 1024) + b"]" * (4 * 1024 * 1024))
    started = time.monotonic()
    refused = post(api, bomb, HEADERS | {"Content-Encoding": "gzip"})
    assert (refused.status_code, refused.json()["error"]) == (413, "event_too_large")
    assert time.monotonic() - started < 5
    # a body cut after the deep part is still refused whole
    cut = post(api, b"[" + encoded(event(viewer_id=viewers[2])) + b"," + deep[:1500])
    assert (cut.status_code, cut.json()["error"]) == (400, "malformed_body")
    time.sleep(0.1)
    assert {str(record["event_id"]) for record in valid} <= logged_event_ids(api.data_dir)
    assert on_disk(api.data_dir, *viewers) == []


@pytest.mark.parametrize(
    "shape",
    [
        "escaped key, body refused",
        "escaped key, cut short",
        "array value",
        "object value",
        "number value",
        "array value, body refused",
        "value nested past the limit",
        "unquoted value",
    ],
)
def test_no_raw_viewer_id_in_any_store_whatever_the_body_shape(
    api: LaunchedApi, shape: str
) -> None:
    raw = raw_id()
    numeric = str(uuid.uuid4().int)[:18]
    escaped_key = encoded(event(viewer_id=raw)).replace(b'"viewer_id"', b'"viewer\\u005fid"')
    bodies = {
        "escaped key, body refused": b'{"sent_at":"bad","events":[' + escaped_key + b"]}",
        "escaped key, cut short": b'{"events":[' + escaped_key[:-3],
        "array value": encoded({"events": [event(viewer_id=[raw, {"x": raw}])]}),
        "object value": encoded({"events": [event(viewer_id={"id": raw})]}),
        "number value": encoded({"events": [event()]}).replace(
            b'"viewer-raw-id-42"', numeric.encode()
        ),
        "array value, body refused": encoded({"sent_at": [], "events": [event(viewer_id=[raw])]}),
        "value nested past the limit": b'{"events":[{"viewer_id":'
        + b"[" * 2000
        + json.dumps(raw).encode()
        + b"]" * 2000
        + b"}]}",
        "unquoted value": b'{"events":[{"viewer_id":' + raw.encode() + b',"type":"x"}]}',
    }
    post(api, bodies[shape])
    time.sleep(0.1)
    assert on_disk(api.data_dir, raw, numeric) == []
    assert quarantined(api.data_dir)[-1]["app_id"] == "test_app"


def test_an_escaped_viewer_id_key_is_pseudonymised_like_any_other(api: LaunchedApi) -> None:
    raw = raw_id()
    body = encoded(event(viewer_id=raw)).replace(b'"viewer_id"', b'"viewer\\u005fid"')
    assert post(api, b"[" + body + b"]").json() == {"accepted": 1, "rejected": []}
    late = encoded(event(viewer_id=raw, ts=int(time.time() * 1000) - 30 * 86_400_000))
    late = late.replace(b'"viewer_id"', b'"viewer\\u005fid"')
    answer = post(api, b"[" + late + b"]").json()
    assert answer["rejected"] == [{"index": 0, "reason": "event_too_old"}]
    time.sleep(0.1)
    assert on_disk(api.data_dir, raw) == []
    # the quarantined event carries the same pseudonym as the accepted one (erasure finds both)
    logged = [json.loads(line) for line in segment_lines(api.data_dir / "log")]
    accepted_key = next(
        r["viewer_key"] for r in logged if r["event_id"] == json.loads(body)["event_id"]
    )
    payload = quarantined(api.data_dir)[-1]["payload"]
    assert isinstance(payload, str) and accepted_key in payload


def test_catalogue_records_nested_too_deep_or_not_utf8_are_rejected_alone(
    api: LaunchedApi,
) -> None:
    valid = b'{"content_id": "hostile_ok", "creator_id": "cr_h", "content_type": "vod"}'
    deep = b'{"content_id": "deep", "x": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    not_utf8 = b'{"content_id": "bad\xff", "creator_id": "cr_h", "content_type": "vod"}'
    response = httpx.put(
        f"{api.url}/v1/catalog/content",
        content=b"[" + deep + b"," + valid + b"," + not_utf8 + b"]",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["upserted"] == 1
    assert [item["index"] for item in answer["rejected"]] == [0, 2]
    assert answer["rejected"][1]["reason"] == "malformed_record"  # not UTF-8


@pytest.mark.parametrize("content_type", [";;;===", ";", "application/xml", "json", "text/html"])
def test_content_types_the_docs_do_not_list_get_415(api: LaunchedApi, content_type: str) -> None:
    body = encoded({"events": [event()]})
    refused = post(api, body, {"X-Write-Key": WRITE_KEY, "Content-Type": content_type})
    assert (refused.status_code, refused.json()["error"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", [None, "", "application/json", "text/plain;charset=UTF-8", "Application/JSON"]
)
def test_listed_content_types_and_none_are_read_as_json(
    api: LaunchedApi, content_type: str | None
) -> None:
    headers = {"X-Write-Key": WRITE_KEY}
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = post(api, encoded({"events": [event()]}), headers)
    assert answer.status_code == 202 and answer.json()["accepted"] == 1


# Connections, through raw sockets, against an API with short deadlines.

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
KEEP_ALIVE_S = 1
MAX_CONNECTIONS = 20


@pytest.fixture(scope="module")
def strict_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApi]:
    server = launch_api(
        tmp_path_factory.mktemp("strict") / "data",
        {
            "MARQUEE_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "MARQUEE_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            "MARQUEE_HTTP_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
            "MARQUEE_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
    )
    try:
        yield server
    finally:
        stop(server)


def connect(api: LaunchedApi) -> socket.socket:
    host, port = api.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(15)
    return sock


def until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    sock.close()
    return received, time.monotonic() - started


def response_of(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) read from a kept-alive connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)["error"]


def test_idle_and_header_drip_connections_are_closed(strict_api: LaunchedApi) -> None:
    idle = [connect(strict_api) for _ in range(50)]
    drip = connect(strict_api)
    drip.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
    for _ in range(3):
        time.sleep(HEADER_TIMEOUT_S / 3)
        try:
            drip.sendall(b"X-Slow: 1\r\n")
        except OSError:
            break
    answer, waited = until_closed(drip)
    assert status_and_code(answer) == (408, "header_timeout")
    for sock in idle:  # closed without an answer nobody asked for
        answer, waited = until_closed(sock)
        assert answer == b"" and waited < HEADER_TIMEOUT_S + 5


def test_a_body_sent_too_slowly_gets_408_and_nothing_is_accepted(
    strict_api: LaunchedApi,
) -> None:
    viewer = raw_id()
    body = encoded({"events": [event(viewer_id=viewer)]})
    sock = connect(strict_api)
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Write-Key: {WRITE_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[:10])
    started = time.monotonic()
    answer, _ = until_closed(sock)
    assert status_and_code(answer) == (408, "body_timeout")
    assert BODY_TIMEOUT_S - 0.2 < time.monotonic() - started < BODY_TIMEOUT_S + 5
    time.sleep(0.1)
    assert json.loads(body)["events"][0]["event_id"] not in logged_event_ids(strict_api.data_dir)
    assert on_disk(strict_api.data_dir, viewer) == []


def test_a_huge_header_is_refused_at_the_limit_and_the_connection_closed(
    strict_api: LaunchedApi,
) -> None:
    sock = connect(strict_api)
    sent = 0
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * 65536
        while sent < 50 * 1024 * 1024:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the server closed the connection while we were still sending
    assert sent < 50 * 1024 * 1024
    answer, _ = until_closed(sock)
    assert status_and_code(answer) == (431, "headers_too_large")


def test_too_many_headers_get_431(strict_api: LaunchedApi) -> None:
    sock = connect(strict_api)
    headers = b"".join(b"X-H%d: 1\r\n" % index for index in range(101))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    answer, _ = until_closed(sock)
    assert status_and_code(answer) == (431, "too_many_headers")
    sock = connect(strict_api)
    sock.sendall(b"GET /healthz HTTP/1.1\r\n" + headers[: -len(b"X-H100: 1\r\n")] + b"\r\n")
    assert response_of(sock).startswith(b"HTTP/1.1 200")
    sock.close()


def test_keep_alive_serves_requests_then_closes_an_idle_connection(
    strict_api: LaunchedApi,
) -> None:
    sock = connect(strict_api)
    for _ in range(3):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response_of(sock).startswith(b"HTTP/1.1 200")
    answer, waited = until_closed(sock)
    assert answer == b"" and waited < KEEP_ALIVE_S + 5


def test_connections_past_the_limit_get_503_with_retry_after(strict_api: LaunchedApi) -> None:
    held = [connect(strict_api) for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.2)
    extra = connect(strict_api)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer, _ = until_closed(extra)
    assert status_and_code(answer) == (503, "too_many_connections")
    assert b"retry-after: 1" in answer.lower()
    for sock in held:
        sock.close()
    time.sleep(0.3)
    assert httpx.get(f"{strict_api.url}/healthz").status_code == 200
