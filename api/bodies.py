"""Reading a request body with a size limit enforced while it streams in."""

from __future__ import annotations

from fastapi import Request


class BodyTooLarge(Exception):
    def __init__(self, limit: int, head: bytes) -> None:
        super().__init__(f"body exceeds {limit} bytes")
        self.limit = limit
        self.head = head


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or ``BodyTooLarge`` as soon as more than ``limit`` bytes arrived
    (a declared Content-Length over the limit is refused before reading anything)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, b"")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, b"".join(chunks)[:1024])
        chunks.append(chunk)
    return b"".join(chunks)
