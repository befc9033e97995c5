"""ASGI middleware: a request-body limit and security headers on every answer.

- Bodies other than ``multipart/form-data`` (uploads have their own limit, set by their
  route) may be at most ``max_json_body_bytes``: a larger ``Content-Length`` is refused
  with 413 before the body is read, and a body streamed without one is cut off at the
  limit with the same answer.
- Every HTTP answer carries ``X-Content-Type-Options: nosniff``, a
  ``Content-Security-Policy`` with ``frame-ancestors 'none'`` (pages run only their own
  scripts: inline ``<script>`` blocks of our static pages are allowed by their SHA-256,
  computed at start), ``Referrer-Policy: no-referrer`` (a tracking link is a credential)
  and ``X-Frame-Options: DENY`` for older browsers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
# Swagger UI and ReDoc load their bundles from a CDN and start with an inline script.
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; worker-src blob:; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)


def inline_script_hashes(pages: Iterable[Path]) -> list[str]:
    """CSP source expressions (``'sha256-...'``) of the inline scripts in ``pages``."""
    out: list[str] = []
    for page in pages:
        for body in _INLINE_SCRIPT.findall(page.read_bytes()):
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            out.append(f"'sha256-{digest}'")
    return sorted(set(out))


def tile_source(template: str) -> str | None:
    """The CSP source of a map tile URL template (``{s}``-style placeholders in the host
    become a ``*`` wildcard); None for ``none`` or a relative template."""
    parts = urlsplit(template.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    return f"{parts.scheme}://{host}"


def content_security_policy(script_hashes: Iterable[str], img_sources: Iterable[str] = ()) -> str:
    scripts = " ".join(["'self'", *script_hashes])
    images = " ".join(["'self'", "data:", "blob:", *img_sources])
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; connect-src 'self'; frame-ancestors 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'"
    )


def _answer(status: int, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    }
    return start, {"type": "http.response.body", "body": body}


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTP exceptions met while reading a
    body, so the central handler answers 413 (any other error would become a 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyLimit:
    """413 for a non-multipart request body over ``limit`` bytes."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
            await self.app(scope, receive, send)
            return
        message = f"request body larger than {self.limit} bytes"
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            for part in _answer(413, message):
                await send(part)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            msg: Message = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(message)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if started:
                raise
            for part in _answer(413, message):
                await send(part)


class SecurityHeaders:
    """Adds the security headers to every HTTP answer."""

    def __init__(self, app: Any, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP.encode() if path.startswith(DOCS_PATHS) else self.csp

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _v in msg.get("headers", [])}
                extra = [(k, v) for k, v in [*self.headers, (b"content-security-policy", csp)]
                         if k not in present]
                msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
            await send(msg)

        await self.app(scope, receive, with_headers)
