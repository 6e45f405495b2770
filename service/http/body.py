"""A request's whole body, within a byte limit: read for the region API and for V2 alike."""

from fastapi import Request

from service.errors import PayloadTooLarge


def byte_count(text: str | None) -> int | None:
    """A header's decimal count, or None: ASCII digits only (`str.isdigit` takes '¹')."""
    if text is None or not text.isascii() or not text.isdigit():
        return None
    return int(text)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused as soon as it passes `limit` bytes."""
    declared = byte_count(request.headers.get("content-length"))
    if declared is not None:
        if declared > limit:
            raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
        return await _read_declared(request, declared)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body passes the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_declared(request: Request, length: int) -> bytes:
    """A body of known length, into one buffer: it needs no copy to join, and once freed
    (a stalled client cut off included) the allocator returns it whole, where thousands of
    small chunks would stay behind as fragments of its heap."""
    body, size = bytearray(length), 0  # pages untouched until written
    async for chunk in request.stream():  # the server holds the client to `length`
        body[size : size + len(chunk)] = chunk
        size += len(chunk)
    return body  # type: ignore[return-value]  # a bytearray reads as bytes everywhere here
