"""The header of a plain JPEG read from its markers: what the memory estimate needs, without
Pillow's open (a Python loop over every marker and table: ~0.15 ms of the event loop's time
per request, measured in the server).

Plain: a baseline or extended sequential 8-bit JPEG of 1 or 3 components whose header holds
only JFIF, quantisation and Huffman tables, restart intervals and comments. No EXIF (so no
orientation to read), no Adobe, ICC or MPF segment, no progressive scans: for those, and for
anything unexpected, the answer is None and Pillow reads the header.
"""

from dataclasses import dataclass

SOI = b"\xff\xd8"
SOF_SEQUENTIAL = (0xC0, 0xC1)
SOS = 0xDA
# JFIF (APP0), quantisation tables, Huffman tables, restart interval, comment.
PLAIN_SEGMENTS = frozenset({0xE0, 0xDB, 0xC4, 0xDD, 0xFE})
# Encoders write a dozen segments before the scan; a file with more goes to Pillow, so that
# reading markers stays a few microseconds whatever a file holds.
MAX_SEGMENTS = 32


@dataclass(frozen=True)
class PlainJpeg:
    width: int
    height: int
    mode: str  # Pillow's mode for it: "L" or "RGB"


def plain_jpeg(data: bytes) -> PlainJpeg | None:
    """The size and mode of a plain JPEG, from the markers before its first scan."""
    if not data.startswith(SOI):
        return None
    found: PlainJpeg | None = None
    at, segments = len(SOI), 0
    while at + 4 <= len(data) and data[at] == 0xFF and segments <= MAX_SEGMENTS:
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == SOS:
            return found
        if at + 2 + length > len(data) or length < 2:
            return None
        if marker in SOF_SEQUENTIAL and found is None and length >= 8:
            found = _frame(data[at + 4 : at + 2 + length])
            if found is None:
                return None
        elif marker not in PLAIN_SEGMENTS:
            return None
        at, segments = at + 2 + length, segments + 1
    return None


def _frame(segment: bytes) -> PlainJpeg | None:
    """A start-of-frame segment: precision, height, width, components."""
    precision, components = segment[0], segment[5]
    height, width = int.from_bytes(segment[1:3], "big"), int.from_bytes(segment[3:5], "big")
    whole = len(segment) == 6 + 3 * components  # each component: id, sampling, table
    if precision != 8 or components not in (1, 3) or not whole or not width or not height:
        return None
    return PlainJpeg(width, height, "L" if components == 1 else "RGB")
