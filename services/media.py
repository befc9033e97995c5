"""What an uploaded file is, from its bytes: the type, and for photos a thumbnail and the
EXIF time and GPS position. Pure functions of bytes/paths (Pillow), no storage."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
ALL_TYPES = (*IMAGE_TYPES, "application/pdf")
# Which types each attachment kind takes.
KIND_TYPES = {"photo": IMAGE_TYPES, "signature": IMAGE_TYPES, "document": ALL_TYPES}
SNIFF_BYTES = 16
THUMBNAIL_PX = 320

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _DATETIME_ORIGINAL, _DATETIME_DIGITIZED, _OFFSET_ORIGINAL = 306, 36867, 36868, 36881


class UnreadableImage(ValueError):
    """The bytes start like an image but Pillow cannot decode them."""


def sniff(head: bytes) -> str | None:
    """The content type of a file from its first bytes: JPEG, PNG, WebP or PDF; else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@dataclass(frozen=True)
class PhotoFacts:
    thumbnail: bytes  # JPEG, at most THUMBNAIL_PX on its longer side
    taken_at: datetime | None
    lat: float | None
    lon: float | None


def _ratio(value: Any) -> float:
    return float(value)


def _dms(values: Any, ref: Any, negative: str) -> float | None:
    """EXIF degrees/minutes/seconds and N/S (E/W) -> signed decimal degrees."""
    try:
        deg, minutes, seconds = (_ratio(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = deg + minutes / 60 + seconds / 3600
    if not math.isfinite(value):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref).strip().upper() == negative else value


def _exif_time(stamp: Any, offset: Any) -> datetime | None:
    """``YYYY:MM:DD HH:MM:SS`` (+ OffsetTimeOriginal ``+01:00``); no offset: taken as UTC."""
    if not isinstance(stamp, str):
        return None
    try:
        local = datetime.strptime(stamp.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz: timezone = UTC
    if isinstance(offset, str) and len(offset.strip()) == 6:
        text = offset.strip()
        try:
            sign = -1 if text[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        except ValueError:
            tz = UTC
    return local.replace(tzinfo=tz).astimezone(UTC)


def exif_facts(img: Image.Image) -> tuple[datetime | None, float | None, float | None]:
    """(time taken, lat, lon) from EXIF when present and sane."""
    exif = img.getexif()
    main = exif.get_ifd(_EXIF_IFD)
    taken = _exif_time(main.get(_DATETIME_ORIGINAL) or main.get(_DATETIME_DIGITIZED)
                       or exif.get(_DATETIME), main.get(_OFFSET_ORIGINAL))
    gps = exif.get_ifd(_GPS_IFD)
    lat = _dms(gps.get(2), gps.get(1), "S") if gps.get(2) else None
    lon = _dms(gps.get(4), gps.get(3), "W") if gps.get(4) else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return taken, lat, lon


def photo_facts(path: Path) -> PhotoFacts:
    """Thumbnail and EXIF facts of an image file; ``UnreadableImage`` when it does not
    decode (a truncated upload, a file that only starts like an image)."""
    try:
        with Image.open(path) as img:
            taken, lat, lon = exif_facts(img)
            img.draft("RGB", (THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))  # JPEG: decode scaled down
            thumb = ImageOps.exif_transpose(img)
            thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            thumb.convert("RGB").save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not a readable image: {exc}"[:200]) from None
    return PhotoFacts(out.getvalue(), taken, lat, lon)


def check_image(path: Path) -> None:
    """Raise ``UnreadableImage`` unless the file decodes (signatures: no thumbnail kept)."""
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not a readable image: {exc}"[:200]) from None
