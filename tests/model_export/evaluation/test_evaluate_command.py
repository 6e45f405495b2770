"""`python -m model_export evaluate` on the shipped model, its tables written into a card."""

import argparse
import re
from pathlib import Path

from model_export.evaluation import command
from model_export.evaluation.measure import BOX_KINDS

SHIPPED = Path("models/region_classifier.onnx")


def test_evaluate_writes_its_tables_into_the_card_once(tmp_path: Path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Model card\n\nTraining notes.\n")
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    small = ["--scenes", "2", "--superpixel-scenes", "1", "--proposal-scenes", "1"]
    args = parser.parse_args(["--onnx", str(SHIPPED), *small, "--card", str(card)])
    command.run(args)
    first = card.read_text()
    command.run(args)  # same seed: the section is replaced by the same one, not appended
    assert card.read_text() == first
    assert first.startswith("# Model card\n\nTraining notes.\n\n## Independent evaluation\n")
    assert first.count(command.CARD_SECTION) == 1
    rows = {line.split(" | ")[0][2:]: line for line in first.splitlines() if line.startswith("| ")}
    assert all(kind in rows for kind in BOX_KINDS)
    digits = {totals(rows[kind])[0][1] for kind in BOX_KINDS}
    assert len(digits) == 1 and digits.pop() > 0  # every digit once per kind of box
    for scenes in ("plain", "cluttered"):
        (_, digits_found_of), (on_digit, regions) = totals(rows[scenes])
        assert digits_found_of == 4  # one scene of 4 digits
        assert 0 <= on_digit <= regions


def totals(row: str) -> list[tuple[int, int]]:
    """The (right, of) pairs of a table row."""
    return [(int(a), int(b)) for a, b in re.findall(r"\((\d+)/(\d+)\)", row)]
