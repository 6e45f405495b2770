"""`train` on a non-digit COCO file (the shapes): any category names, a card that warns at chance,
and a Reproduce command that the real CLI parses back to the same run."""

import argparse
import re
import shlex
from pathlib import Path

import pytest

from model_export import commands
from model_export.dataset.shapes import build_shapes_dataset
from model_export.training import command
from model_export.training.evaluate import Metrics
from model_export.training.record import TrainingRecord


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m model_export`, built as its __main__ builds it."""
    parser = argparse.ArgumentParser(prog="python -m model_export")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in commands.COMMANDS.items():
        module.add_arguments(sub.add_parser(name))
    return parser


TINY = ["--epochs", "1", "--widths", "4", "8", "8", "--embedding", "8", "--head-width", "8"]


def train_args(tmp_path: Path) -> argparse.Namespace:
    data = tmp_path / "shapes"
    build_shapes_dataset(data, train_images=6, test_images=2, seed=1)
    words = ["train", "--data", str(data), "--out", str(tmp_path / "shapes.keras")]
    words += ["--card", str(tmp_path / "CARD.md"), "--superpixel-eval-images", "1", *TINY]
    return build_parser().parse_args(words)


def test_trains_on_shapes_and_card_reproduces(tmp_path: Path) -> None:
    args = train_args(tmp_path)
    command.run(args)
    record = TrainingRecord.load(args.out)
    assert record.classes == ["background", "circle", "square", "triangle"]
    assert record.train_images == 6 and record.metrics.box_count > 0
    assert record.metrics.box_chance >= 1 / 3
    card = args.card.read_text()
    assert "digits 16 to 96 px" not in card and "circle, square, triangle" in card
    pasted = re.search(r"## Reproduce\n```bash\n(.+)\n```", card)
    assert pasted is not None and pasted.group(1) == record.command
    words = shlex.split(record.command)
    assert words[:4] == ["python", "-m", "model_export", "train"]
    assert vars(build_parser().parse_args(words[3:])) == vars(args)


def test_accuracy_at_chance_warns_on_stderr_and_in_the_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at_chance = Metrics(0.25, 8, 0.5, 0.0, 10, box_chance=0.25)
    monkeypatch.setattr(command, "evaluate", lambda *_: at_chance)
    monkeypatch.setattr(command, "train", lambda *_: None)
    args = train_args(tmp_path)
    command.run(args)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("WARNING: held-out box accuracy 0.2500 is at or below chance")
    assert f"**{warnings[0]}**" in args.card.read_text()
