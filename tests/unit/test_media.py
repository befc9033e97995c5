"""Attachment types sniffed from bytes, photo thumbnails and EXIF facts; enrolment links."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from services.attachments import InvalidUpload, UnsupportedType, content_type_for
from services.checklist_files import InvalidFileAnswer, attachment_id_of
from services.enrolment import enrolment_url, qr_svg
from services.media import UnreadableImage, photo_facts, sniff


def image_bytes(fmt: str, size: tuple[int, int] = (800, 600), exif: Image.Exif | None = None
                ) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", size, (40, 160, 90))
    if exif is not None:
        img.save(out, fmt, exif=exif)
    else:
        img.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "ctype"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                            ("WEBP", "image/webp"), ("PDF", "application/pdf")])
def test_sniff_real_files(fmt: str, ctype: str) -> None:
    assert sniff(image_bytes(fmt, (20, 20))[:16]) == ctype


@pytest.mark.parametrize("head", [b"", b"hello world", b"GIF89a......", b"RIFF\0\0\0\0WAVE",
                                  b"<svg xmlns=", b"\xff\xd8"])
def test_sniff_refuses_other_bytes(head: bytes) -> None:
    assert sniff(head) is None


def test_kinds_take_their_types() -> None:
    png, pdf = image_bytes("PNG", (4, 4)), b"%PDF-1.7\n"
    assert content_type_for("photo", png) == "image/png"
    assert content_type_for("document", pdf) == "application/pdf"
    with pytest.raises(UnsupportedType, match="must be an image"):
        content_type_for("signature", pdf)
    with pytest.raises(UnsupportedType, match="only JPEG, PNG, WebP and PDF"):
        content_type_for("document", b"GIF89a")
    with pytest.raises(InvalidUpload):
        content_type_for("selfie", png)


def test_photo_thumbnail_and_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x8769] = {36867: "2026:12:04 10:11:12", 36881: "+01:00"}
    exif[0x8825] = {1: "S", 2: (33.0, 51.0, 54.0), 3: "E", 4: (151.0, 12.0, 36.0)}
    path = tmp_path / "p.jpg"
    path.write_bytes(image_bytes("JPEG", (1600, 1200), exif))
    facts = photo_facts(path)
    assert facts.taken_at == datetime(2026, 12, 4, 9, 11, 12, tzinfo=UTC)
    assert facts.lat == pytest.approx(-33.865) and facts.lon == pytest.approx(151.21)
    with Image.open(io.BytesIO(facts.thumbnail)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 320


def test_photo_without_exif_and_broken_image(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(image_bytes("PNG", (100, 50)))
    facts = photo_facts(path)
    assert (facts.taken_at, facts.lat, facts.lon) == (None, None, None)
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)  # starts like a JPEG, is not one
    with pytest.raises(UnreadableImage):
        photo_facts(path)


def test_enrolment_link_and_qr() -> None:
    assert enrolment_url("https://ff.example/", "abc") == "https://ff.example/app/#enrol=abc"
    svg = qr_svg("https://ff.example/app/#enrol=abc")
    assert svg.startswith("<svg") and "path" in svg


@pytest.mark.parametrize("value", ["att-1", {"attachment_id": "att-1"}, " att-1 "])
def test_checklist_file_answers_name_an_attachment(value: object) -> None:
    assert attachment_id_of("photo_after", "photo", value) == "att-1"


@pytest.mark.parametrize("value", [None, "", 7, {"ref": "x.jpg"}, {"attachment_id": 1},
                                   "x" * 65, {"attachment_id": "a", "lat": 1}])
def test_checklist_file_answers_refuse_other_shapes(value: object) -> None:
    with pytest.raises(InvalidFileAnswer):
        attachment_id_of("photo_after", "photo", value)
