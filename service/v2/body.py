"""An infer request's body: the JSON object, then the binary tensor data (Triton's binary
tensor data extension: Inference-Header-Content-Length gives the JSON object's length)."""

import zlib
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from service.http.body import byte_count, read_body

HEADER_LENGTH = "Inference-Header-Content-Length"
# Bodies inflated or past this are handled in a worker thread, never on the event loop.
INLINE_BYTES = 256 * 2**10
# zlib's window bits: 16 + 15 reads a gzip wrapper, 15 a zlib one (HTTP's "deflate")
_WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True)
class InferBody:
    header: bytes  # the $inference_request JSON object
    binary: memoryview  # the inputs' binary data, in the order the inputs are listed


async def read_infer_body(request: Request, limit: int) -> InferBody:
    body = await read_body(request, limit)
    encoding, header_length = (
        request.headers.get("content-encoding"),
        request.headers.get(HEADER_LENGTH),
    )
    if encoding is None and len(body) <= INLINE_BYTES:
        return split_body(body, header_length)
    return await run_in_threadpool(_inflated_body, body, encoding, header_length, limit)


def _inflated_body(
    body: bytes, encoding: str | None, header_length: str | None, limit: int
) -> InferBody:
    return split_body(_decompressed(body, encoding, limit), header_length)


def split_body(body: bytes, header_length: str | None) -> InferBody:
    if header_length is None:
        return InferBody(body, memoryview(b""))
    length = byte_count(header_length)
    if length is None or length > len(body):
        raise BadRequest(
            f"{HEADER_LENGTH} must be a byte count within the body's {len(body)} bytes, "
            f"got {header_length[:32]!r}"
        )
    return InferBody(body[:length], memoryview(body)[length:])


def _decompressed(body: bytes, encoding: str | None, limit: int) -> bytes:
    """tritonclient may gzip or deflate a request; the limit applies to what it inflates to.
    Codings are case-insensitive (RFC 9110 8.4.1); one gzip member only: data after the
    first stream's end are refused, never silently dropped."""
    if encoding is None or encoding.strip().lower() == "identity":
        return body
    if encoding.strip().lower() not in _WINDOW_BITS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding[:32]!r}; send gzip, deflate or an uncompressed body"
        )
    encoding = encoding.strip().lower()
    inflater = zlib.decompressobj(_WINDOW_BITS[encoding])
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise BadRequest(f"the {encoding} body does not inflate: {error}") from None
    if len(inflated) > limit:
        raise PayloadTooLarge(f"the body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise BadRequest(f"the {encoding} body ends before its compressed stream does")
    if inflater.unused_data:
        raise BadRequest(
            f"the {encoding} body has {len(inflater.unused_data)} bytes after its compressed "
            "stream (a second gzip member?); send one stream"
        )
    return inflated
