"""Reading a machine's request body safely: optional gzip, hard size caps.

Decompression is bounded: at most `limit + 1` bytes are ever inflated, so a
gzip bomb is refused without exhausting memory. Concatenated gzip members are
all read; trailing garbage or a cut-short stream is refused (400), so no
record is ever dropped silently.
"""

from __future__ import annotations

import zlib

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

CHUNK = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


def read_body(request: HttpRequest, limit: int) -> bytes:
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise BodyTooLarge(f"the request body is larger than {limit:,} bytes") from exc
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > limit:
            raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadBody(f"unsupported Content-Encoding {encoding!r}; send gzip or plain JSON")
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    return _inflate(raw, wbits, encoding, limit)


def _inflate(raw: bytes, wbits: int, encoding: str, limit: int) -> bytes:
    """Every gzip member in turn (as `gzip -d` reads concatenated files), at
    most `limit` bytes in all. Data after the last member is refused, except
    zero padding (which gzip also ignores): never drop records silently.

    Input is fed a chunk at a time, so the leftover zlib copies after each
    member is at most one chunk: many tiny members cost linear time."""
    body = bytearray()
    view = memoryview(raw)
    pos = 0
    data: bytes | memoryview = b""
    while True:  # one member per turn
        inflater = zlib.decompressobj(wbits)
        while not inflater.eof:
            if not data:
                if pos >= len(raw):
                    raise BadBody(f"the {encoding} data is cut short; send the whole body")
                data, pos = view[pos : pos + CHUNK], pos + CHUNK
            try:
                body += inflater.decompress(data, limit + 1 - len(body))
            except zlib.error as exc:
                raise BadBody(f"the body is not valid {encoding}: {exc}") from exc
            if len(body) > limit or inflater.unconsumed_tail:
                raise BodyTooLarge(f"the decompressed body is larger than {limit:,} bytes")
            data = b""
        data = inflater.unused_data
        if len(data) < 2 and pos < len(raw):  # enough to see the next member's magic
            data, pos = data + view[pos : pos + CHUNK], pos + CHUNK
        if encoding != "deflate" and data[:2] == GZIP_MAGIC:
            continue
        extra = len(data) + max(0, len(raw) - pos)
        if data.count(0) + raw.count(0, pos) == extra:  # nothing left, or zero padding
            return bytes(body)
        raise BadBody(
            f"the body has {extra:,} bytes after the end of the {encoding} data; "
            "send one compressed document"
        )
