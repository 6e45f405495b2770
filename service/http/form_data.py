"""multipart/form-data parsed from a body already in memory: split with `bytes.find` when it
is in the plain form clients write (service/http/plain_multipart.py), else by python-multipart.

Starlette's form parser spools every file part to a temporary file (on disk past 1 MB, its
writes then in a thread pool) and copies it three times; here the body is whole and within
the byte limit already, so each part is one slice of it.
"""

from dataclasses import dataclass
from functools import lru_cache

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from service.errors import BadRequest
from service.http.plain_multipart import PlainPart, split_plain

# Parts and header lines per part a request may have: a few fields, an image, a few model
# inputs. Past them parsing stops at once (100,000 tiny fields took seconds to parse).
MAX_PARTS = 32
MAX_PART_HEADERS = 8


# Clients send the same few Content-Type and Content-Disposition values again and again.
CACHED_HEADERS, CACHED_HEADER_LENGTH = 256, 256


def header_options(value: str | bytes) -> dict[bytes, bytes]:
    """A header's parameters (boundary, name, filename), read once per distinct short value
    (the cache holds at most 64 KiB of them). Read only: the dict is shared."""
    if len(value) > CACHED_HEADER_LENGTH:
        return parse_options_header(value)[1]
    return _cached_options(value)


@lru_cache(maxsize=CACHED_HEADERS)
def _cached_options(value: str | bytes) -> dict[bytes, bytes]:
    return parse_options_header(value)[1]


@dataclass(frozen=True)
class FormPart:
    value: bytes
    filename: str | None  # None for a plain field


class _Collector:
    """python-multipart's callbacks: headers and data of each part, kept once it ends."""

    def __init__(self) -> None:
        self.parts: dict[str, FormPart] = {}
        self._header: list[bytes] = []
        self._value: list[bytes] = []
        self._disposition = b""
        self._data: list[bytes] = []
        self._headers = 0

    def on_part_begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise BadRequest(f"the multipart body has more than {MAX_PARTS} parts")
        self._disposition, self._data, self._headers = b"", [], 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header.append(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value.append(data[start:end])

    def on_header_end(self) -> None:
        self._headers += 1
        if self._headers > MAX_PART_HEADERS:
            raise BadRequest(f"a multipart part has more than {MAX_PART_HEADERS} header lines")
        if b"".join(self._header).lower() == b"content-disposition":
            self._disposition = b"".join(self._value)
        self._header, self._value = [], []

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._data.append(data[start:end])

    def on_part_end(self) -> None:
        options = header_options(self._disposition)
        if b"name" not in options:
            raise BadRequest("a multipart part has no name in its Content-Disposition")
        filename = options.get(b"filename")
        name = options[b"name"].decode("utf-8", "replace")
        if name in self.parts:
            raise BadRequest(f"multipart field {name[:64]!r} is sent more than once")
        self.parts[name] = FormPart(
            b"".join(self._data),  # one piece: the part itself, not a copy
            None if filename is None else filename.decode("utf-8", "replace"),
        )


def parse_form(body: bytes, content_type: str) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by name, each name once."""
    boundary = header_options(content_type).get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data without a boundary in its Content-Type")
    plain = split_plain(body, boundary, MAX_PARTS)
    if plain is not None:
        return _collected(body, plain)
    collector = _Collector()
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": collector.on_part_begin,
                "on_header_field": collector.on_header_field,
                "on_header_value": collector.on_header_value,
                "on_header_end": collector.on_header_end,
                "on_part_data": collector.on_part_data,
                "on_part_end": collector.on_part_end,
            },
        )
        parser.write(body)
    except FormParserError as error:
        raise BadRequest(f"malformed multipart body: {error}") from error
    if parser.state != MultipartState.END:
        raise BadRequest("multipart body ends before its closing boundary")
    return collector.parts


def _collected(body: bytes, parts: list[PlainPart]) -> dict[str, FormPart]:
    """The parts through the collector's callbacks, in python-multipart's order (its limits
    and refusals, the same)."""
    collector = _Collector()
    for part in parts:
        collector.on_part_begin()
        for name, value in part.headers:
            collector.on_header_field(name, 0, len(name))
            collector.on_header_value(value, 0, len(value))
            collector.on_header_end()
        collector.on_part_data(body, part.start, part.end)
        collector.on_part_end()
    return collector.parts
