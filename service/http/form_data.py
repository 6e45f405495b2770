"""multipart/form-data parsed from a body already in memory, by python-multipart's parser.

Starlette's form parser spools every file part to a temporary file (on disk past 1 MB, its
writes then in a thread pool) and copies it three times; here the body is whole and within
the byte limit already, so each part is one slice of it.
"""

from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from service.errors import BadRequest

# Parts and header lines per part a request may have: a few fields, an image, a few model
# inputs. Past them parsing stops at once (100,000 tiny fields took seconds to parse).
MAX_PARTS = 32
MAX_PART_HEADERS = 8


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
        _, options = parse_options_header(self._disposition)
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
    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data without a boundary in its Content-Type")
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
