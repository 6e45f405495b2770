"""The learned proposal head's cost: one two-stage model (a small stride-16 backbone,
RegionProposals with Faster R-CNN's settings, one RoI head), exported through the export
command, timed through the service's own preparation and onnxruntime sessions on 512x512 images:
boxes mode (32 boxes), proposals mode with the model's head, and proposals mode with the
classical proposer (selective search) on the same model. Ratios against boxes mode, same run."""

import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

from bench.report import table, write_section
from bench.timing import time_calls

SIDE, BOXES, REPEATS, IMAGES = 512, 32, 15, 3


def _model() -> object:
    import keras
    from keras import layers

    from model_export.layers import RegionProposals, RoiPooling

    keras.utils.set_random_seed(0)
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((5,), name="rois")
    x = layers.Rescaling(1 / 255)(image)
    for k, width in enumerate((16, 32, 32, 64)):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name=f"c{k}")(x)
    rpn = layers.Conv2D(64, 3, padding="same", activation="relu", name="rpn")(x)
    logits, deltas = layers.Conv2D(9, 1)(rpn), layers.Conv2D(36, 1)(rpn)
    propose = RegionProposals((32.0, 64.0, 128.0), (0.5, 1.0, 2.0), 16, 1000, 300, 0.7, 16.0)
    proposals, objectness = propose([logits, deltas, image])
    pool = RoiPooling((7, 7), 1 / 16)
    head = keras.Sequential([layers.Flatten(), layers.Dense(128, activation="relu"),
                             layers.Dense(11, activation="softmax")])  # fmt: skip
    outputs = {"scores": head(pool([x, rois])), "proposals": proposals,
               "objectness": objectness, "proposal_scores": head(pool([x, proposals]))}  # fmt: skip
    return keras.Model([image, rois], outputs, name="two_stage_bench")


def _export(folder: Path) -> Path:
    from model_export.onnx_export import command
    from tests.model_export.zoo.conftest import export_args

    _model().save(folder / "m.keras")  # type: ignore[attr-defined]
    (folder / "classes.txt").write_text("\n".join(["background", *"0123456789"]) + "\n")
    out = folder / "m.onnx"
    args: list[str | Path] = ["--model", folder / "m.keras", "--out", out]
    args += ["--classes", folder / "classes.txt"]
    command.export_command(export_args(*args))
    return out


def _modes(path: Path, images: list[np.ndarray]) -> dict[str, Callable[[int], object]]:
    from dataclasses import replace

    from service.inference.predictor import Predictor
    from service.regions.picture import Picture
    from service.regions.prepare import prepare
    from service.settings import Settings

    settings = Settings(model_path=path)
    predictor = Predictor.from_settings(settings)
    info = predictor.info
    classical = replace(info, proposal_head=None)
    rng = np.random.default_rng(0)
    corners = rng.integers(0, SIDE - 64, (BOXES, 2))
    boxes = np.concatenate([corners, corners + rng.integers(32, 64, (BOXES, 2))], 1).tolist()

    def run(model_info: object, mode: str, raw: object) -> Callable[[int], object]:
        def call(i: int) -> object:
            picture = Picture(images[i % len(images)], SIDE, SIDE, 1.0)
            prepared = prepare(model_info, settings, picture, mode, raw)  # type: ignore[arg-type]
            return predictor.run([prepared.item])

        return call

    return {
        "boxes (32 boxes)": run(info, "boxes", boxes),
        "proposals, learned head (300 kept)": run(info, "proposals", None),
        "proposals, selective search": run(classical, "proposals", None),
    }


def _next_image(call: Callable[[int], object], counter: Iterator[int]) -> object:
    return call(next(counter))


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="proposal_head_"))
    path = _export(folder)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8) for _ in range(IMAGES)]
    modes = _modes(path, images)
    medians = {}
    for name, call in modes.items():
        counter = iter(range(10**6))
        medians[name] = time_calls(partial(_next_image, call, counter), REPEATS)[0]
        print(f"proposal head bench: {name} {medians[name]:.1f} ms", file=sys.stderr)
    base = medians["boxes (32 boxes)"]
    rows = [[n, f"{m:.1f}", f"{m / base:.2f}x"] for n, m in medians.items()]
    body = (
        f"An untrained two-stage model (4 stride-2 convolutions to 64 channels, a 3x3 RPN conv, "
        f"9 anchors, pre_nms 1000, post_nms 300, RoI pooling 7x7 at 1/16, one 128-unit head), "
        f"random {SIDE}x{SIDE} images, one at a time, CPU provider, through the service's "
        f"`prepare` and `Predictor.run` (median of {REPEATS}). Proposals mode's filter "
        "(per-class NMS) is not included.\n\n" + table(["mode", "median ms", "vs boxes mode"], rows)
    )
    write_section("proposal-head", "Proposals from the model's own head vs boxes mode", body)
