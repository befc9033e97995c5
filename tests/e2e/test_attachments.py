"""Attachments through the real API: stored byte-identical, photos with thumbnail and
EXIF, idempotent re-uploads, wrong type (415) and oversize (413, refused while the body
streams in) answered and dead-lettered, roles as for the order, checklist items that
take only attachments of their own order and kind; and the S3 backend against a real
S3-compatible server (moto's, run as a subprocess)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from PIL import Image

from services.attachments import StoredFile, add_attachment, content
from stack.procs import free_port
from store.blobs import MissingBlob, S3Blobs
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.test_api_world import make_order, make_world, move, ok
from tests.e2e.test_ingest import consume_all

pytestmark = pytest.mark.e2e


def photo(size: tuple[int, int] = (1024, 768), colour: tuple[int, int, int] = (90, 20, 200)
          ) -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {36867: "2026:12:04 08:30:00"}
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 6.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def post(client: httpx.Client, order: str, data: bytes, kind: str, **fields: str
         ) -> httpx.Response:
    return client.post(f"/api/v1/work-orders/{order}/attachments",
                       files={"file": ("upload.bin", data, "application/octet-stream")},
                       data={"kind": kind, **fields})


def test_upload_download_idempotent_and_checklist(stack: Stack) -> None:
    w = make_world(stack, engineers=2)
    mine, other = w.engineers
    with stack.api() as api:
        order = make_order(api, w)
        ok(move(api, order["id"], "assigned", engineer_id=mine))
        elsewhere = make_order(api, w)
        ok(move(api, elsewhere["id"], "assigned", engineer_id=other))
    jpeg = photo()
    with stack.api(w.tokens[mine]) as me:
        resp = post(me, order["id"], jpeg, "photo", lat="51.49", lon="-0.11")
        assert resp.status_code == 201, resp.text
        att = resp.json()
        assert att["sha256"] == hashlib.sha256(jpeg).hexdigest() and att["size"] == len(jpeg)
        assert att["content_type"] == "image/jpeg" and att["kind"] == "photo"
        assert (att["lat"], att["lon"]) == (51.49, -0.11)  # the client's, over EXIF's
        assert att["captured_at"].startswith("2026-12-04T08:30:00")  # EXIF, none given
        got = me.get(f"/api/v1/attachments/{att['id']}")
        assert got.status_code == 200 and got.content == jpeg
        assert got.headers["content-type"] == "image/jpeg"
        thumb = me.get(att["thumbnail_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(thumb.content)) as img:
            assert max(img.size) == 320
        again = post(me, order["id"], jpeg, "photo")  # the outbox replays the upload
        assert again.status_code == 200 and again.json()["id"] == att["id"]
        pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        doc = post(me, order["id"], pdf, "document")
        assert doc.status_code == 201 and doc.json()["thumbnail_url"] is None
        assert me.get(f"/api/v1/attachments/{doc.json()['id']}").content == pdf
        listed = ok(me.get(f"/api/v1/work-orders/{order['id']}/attachments"))
        assert [a["id"] for a in listed] == [att["id"], doc.json()["id"]]
        # not their order: the same 404 as for the order itself
        assert post(me, elsewhere["id"], jpeg, "photo").status_code == 404
        assert me.get(f"/api/v1/work-orders/{elsewhere['id']}/attachments").status_code == 404
    with stack.api(w.tokens[other]) as them:
        assert them.get(f"/api/v1/attachments/{att['id']}").status_code == 404
        foreign = post(them, elsewhere["id"], photo(colour=(1, 2, 3)), "photo").json()
    with stack.api(w.tokens[mine]) as me:
        for to in ("accepted", "en_route"):
            ok(move(me, order["id"], to))
        ok(move(me, order["id"], "on_site", reason="test"))
        ok(move(me, order["id"], "in_progress"))
        bad = me.put(f"/api/v1/work-orders/{order['id']}/checklist",
                     json={"answers": {"photo_after": foreign["id"]}})
        assert bad.status_code == 422 and "not an attachment of work order" in bad.text
        bad = me.put(f"/api/v1/work-orders/{order['id']}/checklist",
                     json={"answers": {"photo_after": doc.json()["id"]}})
        assert bad.status_code == 422 and "is a document" in bad.text
        cl = ok(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={"answers": {
            "diagnosis": True, "test_run": True, "photo_after": {"attachment_id": att["id"]}}}))
        assert cl["complete"] is True
        ok(move(me, order["id"], "completed"))


def _chunks(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """A multipart body sent chunked (no Content-Length): only streaming can stop it."""
    yield (b"--BOUND\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nphoto\r\n"
           b"--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n"
           b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0")
    sent = 0
    while sent < total:
        yield b"\0" * chunk
        sent += chunk
    yield b"\r\n--BOUND--\r\n"


def test_wrong_type_and_oversize_are_refused_and_dead_lettered(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        order = make_order(api, w)["id"]
        gif = b"GIF89a" + b"\0" * 64
        err = post(api, order, gif, "photo")
        assert err.status_code == 415 and "only JPEG, PNG, WebP and PDF" in err.text
        err = post(api, order, b"%PDF-1.4\n", "signature")
        assert err.status_code == 415
        err = post(api, order, b"\xff\xd8\xff\xe0" + b"\0" * 200, "photo")  # not a real JPEG
        assert err.status_code == 422 and "not a readable image" in err.text
        err = post(api, order, photo(), "selfie")
        assert err.status_code == 422
        declared = post(api, order, b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024), "photo")
        assert declared.status_code == 413
        streamed = api.post(f"/api/v1/work-orders/{order}/attachments",
                            content=_chunks(40 * 1024 * 1024),
                            headers={"Content-Type": "multipart/form-data; boundary=BOUND"})
        assert streamed.status_code == 413 and "10485760 byte limit" in streamed.text
        assert ok(api.get(f"/api/v1/work-orders/{order}/attachments")) == []
        good = post(api, order, photo(), "photo")  # valid uploads still work
        assert good.status_code == 201
    path = f"http:/api/v1/work-orders/{order}/attachments"

    def letters(msgs: list) -> bool:
        return sum(json.loads(m.value())["topic"] == path for m in msgs) >= 6

    got = [json.loads(m.value()) for m in consume_all(stack, ["ingest.deadletter"], letters)]
    reasons = [d["reason"] for d in got if d["topic"] == path]
    assert sum("only JPEG" in r or "must be an image" in r for r in reasons) == 2
    assert sum("byte limit" in r for r in reasons) == 2
    assert any("not a readable image" in r for r in reasons)
    gif_letter = next(d for d in got if d["topic"] == path and "only JPEG" in d["reason"])
    assert base64.b64decode(gif_letter["payload_b64"]).startswith(b"GIF89a")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_until(up, timeout_s=30)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_s3_backend_stores_and_serves_attachments(stack: Stack, s3_server: str,
                                                   tmp_path: Path) -> None:
    blobs = S3Blobs("fieldflow-test", endpoint_url=s3_server, region="us-east-1",
                    access_key="test", secret_key="test", prefix="attachments/")
    blobs.client.create_bucket(Bucket="fieldflow-test")
    with pytest.raises(MissingBlob):
        blobs.read("no/such")
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        order = make_order(api, w)
    jpeg = photo(size=(640, 480))
    path = tmp_path / "upload"
    path.write_bytes(jpeg)
    upload = StoredFile(path, hashlib.sha256(jpeg).hexdigest(), len(jpeg), jpeg[:1024])

    async def run() -> tuple[dict, bool, dict, bool, bytes, bytes]:
        conn = await psycopg.AsyncConnection.connect(stack.database_url, autocommit=True)
        try:
            first, created = await add_attachment(
                conn, blobs, order, upload, kind="photo", captured_at=None, lat=None, lon=None,
                actor="test")
            second, again = await add_attachment(
                conn, blobs, order, upload, kind="photo", captured_at=None, lat=None, lon=None,
                actor="test")
            data, _ = await content(blobs, first, thumbnail=False)
            thumb, _ = await content(blobs, first, thumbnail=True)
            return first, created, second, again, data, thumb
        finally:
            await conn.close()

    first, created, second, again, data, thumb = asyncio.run(run())
    assert created and not again and second["id"] == first["id"]
    assert data == jpeg and thumb.startswith(b"\xff\xd8")
    assert first["lat"] == pytest.approx(51.5) and first["lon"] == pytest.approx(-0.1)
    keys = [o["Key"] for o in blobs.client.list_objects_v2(Bucket="fieldflow-test")["Contents"]]
    sha = upload.sha256
    assert sorted(keys) == sorted([f"attachments/thumbnails/{sha[:2]}/{sha}.jpg",
                                   f"attachments/{sha[:2]}/{sha}"])
    head = blobs.client.head_object(Bucket="fieldflow-test", Key=f"attachments/{sha[:2]}/{sha}")
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == len(jpeg)
