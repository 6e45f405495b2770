import argparse
from pathlib import Path

import keras
import numpy as np
import pytest

from model_export.dataset.build import build_dataset
from model_export.training import command
from model_export.training.record import TrainingRecord


def test_train_writes_model_record_and_card(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_dataset(data, train_images=6, test_images=2, seed=3)
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out, card = tmp_path / "m.keras", tmp_path / "CARD.md"
    args = parser.parse_args(
        [
            "--data",
            str(data),
            "--out",
            str(out),
            "--card",
            str(card),
            "--epochs",
            "1",
            "--widths",
            "4",
            "8",
            "8",
            "--embedding",
            "8",
            "--context",
            "3",
            "--superpixel-eval-images",
            "1",
        ]
    )
    command.run(args)
    record = TrainingRecord.load(out)
    assert record.classes == ["background", *"0123456789"]
    assert record.train_images == 6 and record.test_images == 2
    assert 0.0 <= record.metrics.box_accuracy <= 1.0 and record.metrics.box_count > 0
    text = card.read_text()
    assert f"{record.metrics.box_accuracy:.4f}" in text and "Reproduce" in text
    model = keras.saving.load_model(out)
    assert model.get_layer("classifier").units == 11
    assert [layer.name for layer in model.layers if layer.name.startswith("context")] == [
        "context3",
        "context3_out",
        "context3_add",
        "context3_relu",
    ]
    assert "--context 3 " in record.command
    assert np.isfinite(model.get_weights()[0]).all()


def test_fewer_crops_than_one_batch_stop_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_dataset(data, train_images=2, test_images=1, seed=3)
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(
        ["--data", str(data), "--out", str(tmp_path / "m.keras"), "--batch-size", "10000"]
    )
    with pytest.raises(SystemExit) as stopped:
        command.run(args)
    message = str(stopped.value.code)
    assert message.startswith("train: ") and "fewer than one batch of 10000" in message
    assert not (tmp_path / "m.keras").exists()
