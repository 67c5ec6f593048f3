"""Reading a machine's request body safely: optional gzip, hard size caps.

Decompression is bounded: at most `limit + 1` bytes are ever inflated, so a
gzip bomb is refused without exhausting memory.
"""

from __future__ import annotations

import zlib

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest


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
    inflater = zlib.decompressobj(wbits)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadBody(f"the body is not valid {encoding}: {exc}") from exc
    if len(body) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(f"the decompressed body is larger than {limit:,} bytes")
    return body
