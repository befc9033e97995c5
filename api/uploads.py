"""A multipart upload read as it streams in: the ``file`` part goes to a temporary file
while its SHA-256 and size are counted, and the read stops as soon as the size limit is
passed (nothing is held in memory, nothing past the limit is written)."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELDS = 16
MAX_FIELD_BYTES = 1024
HEAD_BYTES = 1024


class UploadRejected(Exception):
    """A bad upload; ``status`` 400 (malformed) or 413 (too large), ``head`` its first bytes."""

    def __init__(self, status: int, message: str, head: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.head = head


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None  # the file part, on disk
    size: int = 0
    sha256: str = ""
    head: bytes = b""  # its first bytes (type sniffing, dead letters)
    filename: str | None = None


class _Reader:
    def __init__(self, tmp_dir: Path, limit: int) -> None:
        self.tmp_dir, self.limit = tmp_dir, limit
        self.upload = Upload()
        self._hash = hashlib.sha256()
        self._file: IO[bytes] | None = None
        self._headers: dict[str, str] = {}
        self._hname = b""
        self._hvalue = b""
        self._name: str | None = None
        self._value = bytearray()
        self._is_file = False

    # python-multipart callbacks -------------------------------------------------
    def on_part_begin(self) -> None:
        self._headers, self._name, self._is_file, self._value = {}, None, False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue.decode("latin-1")
        self._hname, self._hvalue = b"", b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        if name == "file":
            if self.upload.path is not None:
                raise UploadRejected(400, "only one 'file' part per upload")
            self._is_file = True
            raw = params.get(b"filename")
            self.upload.filename = raw.decode("utf-8", "replace")[:200] if raw else None
            self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finish()
                dir=self.tmp_dir, prefix="upload-", delete=False)
            self.upload.path = Path(self._file.name)
        elif len(self.upload.fields) >= MAX_FIELDS:
            raise UploadRejected(400, f"more than {MAX_FIELDS} form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._is_file:
            self._value += chunk
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadRejected(400, f"form field {self._name!r} over {MAX_FIELD_BYTES} B")
            return
        up = self.upload
        if len(up.head) < HEAD_BYTES:
            up.head += chunk[: HEAD_BYTES - len(up.head)]
        up.size += len(chunk)
        if up.size > self.limit:
            raise UploadRejected(413, f"file exceeds the {self.limit} byte limit", up.head)
        self._hash.update(chunk)
        assert self._file is not None
        self._file.write(chunk)

    def on_part_end(self) -> None:
        if self._is_file:
            assert self._file is not None
            self._file.close()
        elif self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self.upload.sha256 = self._hash.hexdigest()


async def read_upload(request: Request, tmp_dir: Path, limit: int) -> Upload:
    """Parse a ``multipart/form-data`` request; ``UploadRejected`` on a bad or big one.
    The caller deletes ``upload.path`` when done (``discard``)."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadRejected(400, "expected multipart/form-data with a 'file' part")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise UploadRejected(413, f"request of {declared} bytes exceeds the {limit} byte limit")
    tmp_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - one cheap call
    reader = _Reader(tmp_dir, limit)
    callbacks: Any = {name: getattr(reader, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_part_data", "on_part_end")}
    parser = MultipartParser(boundary, callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except UploadRejected:
        reader.close()
        discard(reader.upload)
        raise
    except Exception as exc:  # the parser's own errors: a malformed body
        reader.close()
        discard(reader.upload)
        raise UploadRejected(400, f"malformed multipart body: {exc}"[:200]) from None
    reader.close()
    if reader.upload.path is None or reader.upload.size == 0:
        discard(reader.upload)
        raise UploadRejected(400, "missing or empty 'file' part", b"")
    return reader.upload


def discard(upload: Upload) -> None:
    if upload.path is not None:
        upload.path.unlink(missing_ok=True)
