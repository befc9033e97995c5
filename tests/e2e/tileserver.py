"""A local XYZ tile server for the browser tests (no tests here): every tile is a small
generated PNG that looks like a street grid; ``failing = True`` answers 500 instead."""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import zlib
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIZE = 256
TILE = re.compile(r"^/(\d+)/(\d+)/(\d+)\.png$")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


@cache
def tile_png(z: int, x: int, y: int) -> bytes:
    """Blocks (beige), streets every 64 px (white) and an avenue (yellow) on some tiles."""
    land, street, avenue, park = b"\xf2\xef\xe9", b"\xff\xff\xff", b"\xfc\xd6\xa4", b"\xc8\xe6\xc0"
    rows = []
    avenue_row = 128 if (x + y + z) % 3 == 0 else -100
    for py in range(SIZE):
        if abs(py - avenue_row) < 5:
            row = avenue * SIZE
        elif py % 64 < 4:
            row = street * SIZE
        else:
            cells = []
            for cx in range(4):
                fill = park if (x * 4 + cx + y * 7 + py // 64) % 11 == 0 else land
                cells.append(street * 4 + fill * 60)
            row = b"".join(cells)
        rows.append(b"\x00" + row)
    raw = zlib.compress(b"".join(rows), 6)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", raw)
            + _chunk(b"IEND", b""))


class TileServer:
    def __init__(self) -> None:
        self.failing = False
        self.served = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                m = TILE.match(self.path)
                if server.failing or not m:
                    self.send_error(500 if server.failing else 404)
                    return
                body = tile_png(*(int(g) for g in m.groups()))
                server.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)  # the map may cancel a tile it no longer needs

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/{{z}}/{{x}}/{{y}}.png"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TileServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
