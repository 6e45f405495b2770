"""JSON refused by its size in values before it is parsed: a parser builds every list and
number first (20 MB of `[[],[],...]` is 7 M lists, a gigabyte), and only then could the
result be checked."""

from service.errors import PayloadTooLarge


def check_json_values(text: bytes | str, limit: int, what: str) -> None:
    """At most `limit` values and containers in `text`: every one past the first follows a
    comma or opens with a bracket, so counting those bounds them from above (commas inside
    strings count too: the bound errs on the side of refusing)."""
    if isinstance(text, str):
        count = text.count(",") + text.count("[") + text.count("{")
    else:
        count = text.count(b",") + text.count(b"[") + text.count(b"{")
    if count > limit:
        raise PayloadTooLarge(f"{what} holds more than {limit} JSON values")
