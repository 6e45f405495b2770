"""An infer request's body: the JSON object, then the binary tensor data (Triton's binary
tensor data extension: Inference-Header-Content-Length gives the JSON object's length)."""

import zlib
from dataclasses import dataclass

from starlette.requests import Request

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from service.http.body import read_body

HEADER_LENGTH = "Inference-Header-Content-Length"
# zlib's window bits: 16 + 15 reads a gzip wrapper, 15 a zlib one (HTTP's "deflate")
_WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True)
class InferBody:
    header: bytes  # the $inference_request JSON object
    binary: memoryview  # the inputs' binary data, in the order the inputs are listed


async def read_infer_body(request: Request, limit: int) -> InferBody:
    body = await read_body(request, limit)
    body = _decompressed(body, request.headers.get("content-encoding"), limit)
    return split_body(body, request.headers.get(HEADER_LENGTH))


def split_body(body: bytes, header_length: str | None) -> InferBody:
    if header_length is None:
        return InferBody(body, memoryview(b""))
    if not header_length.isdigit() or int(header_length) > len(body):
        raise BadRequest(
            f"{HEADER_LENGTH} must be a byte count within the body's {len(body)} bytes, "
            f"got {header_length!r}"
        )
    length = int(header_length)
    return InferBody(body[:length], memoryview(body)[length:])


def _decompressed(body: bytes, encoding: str | None, limit: int) -> bytes:
    """tritonclient may gzip or deflate a request; the limit applies to what it inflates to."""
    if encoding is None or encoding == "identity":
        return body
    if encoding not in _WINDOW_BITS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r}; send gzip, deflate or an uncompressed body"
        )
    inflater = zlib.decompressobj(_WINDOW_BITS[encoding])
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise BadRequest(f"the {encoding} body does not inflate: {error}") from None
    if len(inflated) > limit:
        raise PayloadTooLarge(f"the body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise BadRequest(f"the {encoding} body ends before its compressed stream does")
    return inflated
