"""A PNG's chunks walked from their framing (length, type, data, CRC), nothing decoded: what
the decoder's fast path checks a file for (service/regions/fast_decode.py), and whether Pillow
reads its header in a few microseconds, which decides if the memory estimate of a large PNG may
run on the event loop rather than make a trip to a thread (about 0.07 ms of the loop's time,
measured). Pillow reads every chunk before the first IDAT, and inflates text chunks and an ICC
profile (iCCP, up to a MiB) there; a small header has none of those and only a few small
chunks."""

from collections.abc import Iterator

SIGNATURE = b"\x89PNG\r\n\x1a\n"
INFLATED_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"iCCP"})
SMALL_HEADER_BYTES = 16 * 2**10
SMALL_HEADER_CHUNKS = 16
CHUNK_FRAME = 12  # length, type and CRC around each chunk's data


def png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, where its data starts, its declared length) of each chunk after the signature
    whose length and type lie within `data`, in order; a chunk's data may run past the end."""
    at = len(SIGNATURE)
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        yield data[at + 4 : at + 8], at + 8, length
        at += CHUNK_FRAME + length


def small_png_header(data: bytes) -> bool:
    """A PNG whose first IDAT comes within SMALL_HEADER_BYTES and SMALL_HEADER_CHUNKS chunks,
    no text chunk or ICC profile before it."""
    if not data.startswith(SIGNATURE):
        return False
    for count, (kind, _, _) in enumerate(png_chunks(data[:SMALL_HEADER_BYTES])):
        if count == SMALL_HEADER_CHUNKS or kind in INFLATED_CHUNKS:
            return False
        if kind == b"IDAT":
            return True
    return False
