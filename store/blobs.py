"""Where attachment bytes live: a directory (default) or an S3-compatible object store.

Keys are content addresses (``<prefix><sha256>``), so the same file uploaded twice is
stored once. Methods are blocking; async callers run them in a thread.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol


class BlobStore(Protocol):
    def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    def read(self, key: str) -> bytes: ...
    def describe(self) -> str: ...


class MissingBlob(LookupError):
    pass


def _safe_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"bad blob key {key!r}")
    return key


class LocalBlobs:
    """Files under one directory (``$FIELDFLOW_HOME/attachments`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)  # atomic: a reader never sees half a file

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MissingBlob(key) from None

    def describe(self) -> str:
        return f"directory {self.root}"


class S3Blobs:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph, ...) through boto3."""

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str,
                 access_key: str | None, secret_key: str | None, prefix: str = "") -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        )

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self.client.upload_file(str(path), self.bucket, self.prefix + _safe_key(key),
                                ExtraArgs={"ContentType": content_type})

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + _safe_key(key), Body=data,
                               ContentType=content_type)

    def read(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.prefix + _safe_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise MissingBlob(key) from None
            raise
        data: bytes = obj["Body"].read()
        return data

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url or 'AWS'}"


def open_blobs(settings: Any) -> BlobStore:
    """The store the settings name: S3 when ``s3_bucket`` is set, else the directory."""
    if settings.s3_bucket:
        return S3Blobs(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url,
                       region=settings.s3_region, access_key=settings.s3_access_key,
                       secret_key=settings.s3_secret_key, prefix=settings.s3_prefix)
    return LocalBlobs(settings.resolved_attachments_dir)
