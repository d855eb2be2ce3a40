"""The catalogue: admin upserts over real HTTP, the files dbt reads, locking and the index."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from marquee.catalog import CatalogIndex, CatalogStore
from marquee.catalog_files import write_catalogue
from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "adm_test_only_0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One API for the module (tests use distinct ids), with an admin token."""
    data_dir = tmp_path_factory.mktemp("catalog") / "data"
    server = start_api(
        data_dir,
        {"MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN, "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"},
    )
    try:
        yield server
    finally:
        server.stop()


def put(api: ApiProcess, kind: str, body: object, headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.put(f"{api.url}/v1/catalog/{kind}", json=body, headers=headers)


def stored(api: ApiProcess, kind: str) -> dict[str, dict[str, object]]:
    records = json.loads((api.data_dir / "catalog" / f"{kind}.json").read_text())
    key = "creator_id" if kind == "creators" else "content_id"
    return {record[key]: record for record in records}


def test_content_is_upserted_by_id_into_the_file_drop_format(api: ApiProcess) -> None:
    first = [
        {"content_id": "up_1", "creator_id": "cr_up", "content_type": "vod", "title": "One"},
        {"content_id": "up_2", "creator_id": "cr_up", "content_type": "clip", "duration_ms": 9000},
    ]
    response = put(api, "content", first)
    assert response.status_code == 200
    assert response.json()["upserted"] == 2 and response.json()["rejected"] == []
    # Times relative to now: an ISO string and epoch milliseconds, both stored as ISO.
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    expires = published + timedelta(hours=24)
    expires_ms = int(expires.timestamp() * 1000)
    second = [
        {"content_id": "up_1", "creator_id": "cr_up", "content_type": "vod", "title": "One (cut)"},
        {
            "content_id": "up_3",
            "creator_id": "cr_up",
            "content_type": "story",
            "published_at": f"{published:%Y-%m-%dT%H:%M:%S}Z",
            "expires_at": expires_ms,
            "announces_live_id": "live_up",
        },
    ]
    assert put(api, "content", second).json()["upserted"] == 2
    records = stored(api, "content")
    assert {"up_1", "up_2", "up_3"} <= set(records)
    assert records["up_1"]["title"] == "One (cut)"
    assert records["up_2"]["duration_ms"] == 9000
    assert records["up_3"]["published_at"] == f"{published:%Y-%m-%dT%H:%M:%S}.000Z"
    assert records["up_3"]["expires_at"] == f"{expires:%Y-%m-%dT%H:%M:%S}.000Z"
    text = (api.data_dir / "catalog" / "content.json").read_text()
    assert text.startswith("[\n") and text.count("\n") == len(json.loads(text)) + 2


def test_creators_upsert_replaces_the_whole_record(api: ApiProcess) -> None:
    put(api, "creators", [{"creator_id": "cr_whole", "name": "A", "created_at": 0}])
    put(api, "creators", [{"creator_id": "cr_whole", "name": "B"}])
    record = stored(api, "creators")["cr_whole"]
    assert record == {"creator_id": "cr_whole", "name": "B", "created_at": None}


def test_admin_token_is_required(api: ApiProcess) -> None:
    body = [{"creator_id": "cr_denied", "name": "nope"}]
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    ):
        response = put(api, "creators", body, headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_admin_token"
        assert response.headers["www-authenticate"].startswith("Bearer")
    path = api.data_dir / "catalog" / "creators.json"
    assert not path.exists() or "cr_denied" not in path.read_text()


def test_admin_endpoints_are_off_without_an_admin_token(data_dir: Path) -> None:
    server = start_api(data_dir, {"MARQUEE_ADMIN_TOKEN": ""})
    try:
        response = put(server, "content", [], {"Authorization": "Bearer anything"})
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.json()["error"] == "admin_token_not_configured"


def test_invalid_records_are_rejected_one_by_one(api: ApiProcess) -> None:
    records = [
        {"content_id": "ok_1", "creator_id": "cr_v", "content_type": "live"},
        {"content_id": "bad_1", "creator_id": "cr_v"},
        {"content_id": "bad_2", "creator_id": "cr_v", "content_type": "podcast"},
        {"content_id": "bad_3", "creator_id": "cr_v", "content_type": "vod", "duration_ms": -1},
        {"content_id": "bad_4", "creator_id": "cr_v", "content_type": "vod", "colour": "red"},
        {"content_id": "bad_5", "creator_id": "cr_v", "content_type": "vod",
         "announces_live_id": "live_1"},
        {"content_id": "bad_6", "creator_id": "cr_v", "content_type": "story",
         "published_at": "2026-01-02T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"},
        "not a record",
    ]  # fmt: skip
    response = put(api, "content", records)
    assert response.status_code == 200
    body = response.json()
    assert body["upserted"] == 1
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
        (1, "missing_field"),
        (2, "invalid_field"),
        (3, "invalid_field"),
        (4, "unknown_field"),
        (5, "invalid_field"),
        (6, "invalid_field"),
        (7, "malformed_record"),
    ]
    assert all(r["detail"] for r in body["rejected"])
    ids = set(stored(api, "content"))
    assert "ok_1" in ids and not any(i.startswith("bad_") for i in ids)


def test_a_clip_source_must_be_live_content_unless_unknown(api: ApiProcess) -> None:
    put(api, "content", [{"content_id": "src_vod", "creator_id": "cr_s", "content_type": "vod"}])
    records = [
        {"content_id": "src_live", "creator_id": "cr_s", "content_type": "live"},
        {"content_id": "clip_ok", "creator_id": "cr_s", "content_type": "clip",
         "source_live_id": "src_live"},
        {"content_id": "clip_of_vod", "creator_id": "cr_s", "content_type": "clip",
         "source_live_id": "src_vod"},
        {"content_id": "clip_unknown", "creator_id": "cr_s", "content_type": "clip",
         "source_live_id": "live_not_yet_catalogued"},
        {"content_id": "vod_with_source", "creator_id": "cr_s", "content_type": "vod",
         "source_live_id": "src_live"},
        {"content_id": "clip_self", "creator_id": "cr_s", "content_type": "clip",
         "source_live_id": "clip_self"},
    ]  # fmt: skip
    body = put(api, "content", records).json()
    assert body["upserted"] == 3
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
        (2, "invalid_field"),
        (4, "invalid_field"),
        (5, "invalid_field"),
    ]
    assert "names vod content" in body["rejected"][0]["detail"]
    content = stored(api, "content")
    assert content["clip_ok"]["source_live_id"] == "src_live"
    assert content["clip_unknown"]["source_live_id"] == "live_not_yet_catalogued"
    assert not {"clip_of_vod", "vod_with_source", "clip_self"} & set(content)
    # The catalogue as it is: a later request's clip naming the stored vod is refused too.
    late = [{"content_id": "clip_late", "creator_id": "cr_s", "content_type": "clip",
             "source_live_id": "src_vod"}]  # fmt: skip
    assert put(api, "content", late).json()["rejected"][0]["index"] == 0


def test_a_put_that_changes_nothing_leaves_the_file_alone(api: ApiProcess) -> None:
    records = [{"content_id": "same_1", "creator_id": "cr_same", "content_type": "vod"}]
    assert put(api, "content", records).json()["upserted"] == 1
    path = api.data_dir / "catalog" / "content.json"
    before = path.stat()
    assert put(api, "content", records).json()["upserted"] == 1
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_bodies_that_are_not_arrays_are_refused(api: ApiProcess) -> None:
    response = httpx.put(
        f"{api.url}/v1/catalog/content", content=b'{"content_id": "x"}', headers=AUTH
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body"
    response = httpx.put(
        f"{api.url}/v1/catalog/content",
        content=b"content_id,creator_id",
        headers={**AUTH, "Content-Type": "text/csv"},
    )
    assert response.status_code == 415


def test_file_drop_is_the_catalogue_the_cmcd_endpoint_resolves(api: ApiProcess) -> None:
    report = f'e=ps,sid="s_drop",cid="drop_vod",sta=s,ts={int(time.time() * 1000)},v=2'
    headers = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"}

    def post() -> dict[str, object]:
        return httpx.post(f"{api.url}/v1/cmcd", content=report, headers=headers).json()

    assert post()["rejected"] == [{"index": 0, "reason": "unknown_content"}]
    catalog = api.data_dir / "catalog"
    content = CatalogStore(catalog).read("content")
    content.append({"content_id": "drop_vod", "creator_id": "cr_drop", "content_type": "vod"})
    creators = CatalogStore(catalog).read("creators")
    write_catalogue(catalog, creators, content)
    assert post() == {"accepted": 1, "rejected": [], "events": 1, "ignored": 0}


def test_index_reloads_when_the_file_changes(tmp_path: Path) -> None:
    index = CatalogIndex(tmp_path / "content.json")
    index.refresh()
    assert index.content("c1") is None
    store = CatalogStore(tmp_path)
    store.upsert("content", [{"content_id": "c1", "creator_id": "cr", "content_type": "vod"}])
    index.refresh()
    assert index.content("c1") is not None and index.content("c1").content_type == "vod"  # type: ignore[union-attr]
    store.upsert("content", [{"content_id": "c1", "creator_id": "cr", "content_type": "live"}])
    index.refresh()
    assert index.content("c1").content_type == "live"  # type: ignore[union-attr]
    (tmp_path / "content.json").write_text("[{")
    assert index.stale()
    index.refresh()
    assert index.content("c1") is not None, "a half-written drop keeps the last good index"
    assert not index.stale(), "and is not parsed again until it changes"
    (tmp_path / "content.json").unlink()
    index.refresh()
    assert index.content("c1") is None


def _upsert_many(directory: str, worker: int, count: int) -> None:
    store = CatalogStore(Path(directory))
    for n in range(count):
        record = {"content_id": f"w{worker}_{n}", "creator_id": "cr", "content_type": "clip"}
        store.upsert("content", [record])


def test_concurrent_upserts_from_several_processes_lose_nothing(tmp_path: Path) -> None:
    workers, per_worker = 6, 25
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_upsert_many, args=(str(tmp_path), worker, per_worker))
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    ids = {record["content_id"] for record in CatalogStore(tmp_path).read("content")}
    assert len(ids) == workers * per_worker
