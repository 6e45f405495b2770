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

    tuned, tuned_card = tmp_path / "tuned.keras", tmp_path / "TUNED.md"
    short = ["--epochs", "1", "--superpixel-eval-images", "1"]
    command.run(parser.parse_args(run_options(data, tuned, tuned_card, "--init", str(out), *short)))
    tuned_record = TrainingRecord.load(tuned)
    assert tuned_record.earlier_runs == record.runs()
    assert [run.command for run in tuned_record.runs()] == [record.command, tuned_record.command]
    assert f"--init {out} " in tuned_record.command
    reproduce = tuned_card.read_text().split("## Reproduce")[1]
    assert reproduce.index(record.command) < reproduce.index(tuned_record.command)
    assert "2 runs of Adam" in tuned_card.read_text()

    # A warm start builds a model of its own options (here without context blocks) and keeps
    # the chain of runs behind the weights it copies.
    warm, warm_card = tmp_path / "warm.keras", tmp_path / "WARM.md"
    small = ["--widths", "4", "8", "8", "--embedding", "8", "--context"]
    options = run_options(data, warm, warm_card, "--warm-start", str(tuned), *short, *small)
    command.run(parser.parse_args(options))
    warm_record = TrainingRecord.load(warm)
    assert warm_record.earlier_runs == tuned_record.runs()
    assert "3 runs of Adam" in warm_card.read_text()
    warm_model = keras.saving.load_model(warm)
    assert not [layer.name for layer in warm_model.layers if layer.name.startswith("context")]

    # --train-only: the superpixel head learns, every other weight stays as it was.
    head, head_card = tmp_path / "head.keras", tmp_path / "HEAD.md"
    options = run_options(data, head, head_card, "--init", str(warm), *short)
    command.run(parser.parse_args([*options, "--train-only", "sp_embed"]))
    head_model = keras.saving.load_model(head)
    for layer in warm_model.layers:
        after = head_model.get_layer(layer.name).weights
        for old, new in zip(layer.weights, after, strict=True):
            assert np.array_equal(old, new) != (layer.name == "sp_embed"), layer.name


def run_options(data: Path, out: Path, card: Path, *more: str) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--card", str(card), *more]


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
