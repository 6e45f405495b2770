"""The README's configuration table lists every setting with its real default."""

import json
import re
from pathlib import Path

from service.settings import Settings

README = Path(__file__).parents[2] / "README.md"
ROW = re.compile(r"^\| `REGIONSERVE_(\w+)` \| ([^|]+) \|", re.MULTILINE)


def documented_default(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def test_every_setting_is_documented_with_its_default() -> None:
    rows = {name.lower(): default.strip() for name, default in ROW.findall(README.read_text())}
    assert set(rows) == set(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        if field.default is not None:  # None defaults depend on the device: described in words
            assert rows[name] == documented_default(field.default), name
