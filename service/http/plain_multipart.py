"""multipart/form-data as clients write it, split with a few `bytes.find` calls.

A body in the plain form (the boundary line first, each part's header lines `Name: value`,
CRLF around every delimiter, the closing delimiter, any epilogue) is split here in a quarter
of the time python-multipart's state machine takes (bench/RESULTS.md: event loop). Anything
else (leading blank lines, a lone CR or LF in a header, a delimiter followed by padding, a long
or odd header, too many parts or headers) is left to python-multipart, whose answer stands.
"""

from dataclasses import dataclass

from python_multipart.multipart import DEFAULT_MAX_HEADER_COUNT, TOKEN_CHARS

# A longer header line goes to python-multipart, whose own limit is a little higher: the
# parser with the limit answers for every line near it.
MAX_HEADER_LINE = 4096
# RFC 2046: a boundary has at most 70 characters; longer ones go to python-multipart.
MAX_BOUNDARY = 70


@dataclass(frozen=True)
class PlainPart:
    headers: list[tuple[bytes, bytes]]  # (name, value) as python-multipart reports them
    start: int  # the part's data: body[start:end]
    end: int


def split_plain(body: bytes, boundary: bytes, max_parts: int) -> list[PlainPart] | None:
    """The parts of `body`, or None where it is not in the plain form or has more than
    `max_parts` parts."""
    opening = b"--" + boundary + b"\r\n"
    if len(boundary) > MAX_BOUNDARY or not body.startswith(opening):
        return None
    delimiter = b"\r\n--" + boundary
    parts: list[PlainPart] = []
    position = len(opening)
    while len(parts) < max_parts:
        head_end = body.find(b"\r\n\r\n", position)
        if head_end < 0:
            return None
        headers = _headers(body[position:head_end])
        end = body.find(delimiter, head_end + 4)
        if headers is None or end < 0:
            return None
        parts.append(PlainPart(headers, head_end + 4, end))
        after = end + len(delimiter)
        follows = body[after : after + 2]
        if follows == b"--":  # the closing delimiter: python-multipart drops any epilogue
            return parts
        if follows != b"\r\n":
            return None
        position = after + 2
    return None


def _headers(block: bytes) -> list[tuple[bytes, bytes]] | None:
    """`Name: value` lines as python-multipart reads them (leading spaces off the value)."""
    lines = block.split(b"\r\n")
    if len(lines) > DEFAULT_MAX_HEADER_COUNT:
        return None
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if (
            not colon
            or not name
            or name.translate(None, TOKEN_CHARS)
            or len(line) > MAX_HEADER_LINE
            or b"\r" in value
            or b"\n" in value
        ):
            return None
        headers.append((name, value.lstrip(b" ")))
    return headers
